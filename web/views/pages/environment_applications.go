package pages

import (
	"net/url"

	"ppportal/ppapi"
	"ppportal/web/views/paths"
)

// EnvironmentApplicationsVM is one environment's packages with their
// install state.
type EnvironmentApplicationsVM struct {
	EnvID, EnvName string
	// NoDataverse is set for an environment without Dataverse: it has no
	// packages and nothing can be installed.
	NoDataverse bool
	Rows        []EnvPackageRow
	// CSRF and Once are the install forms' tokens; Once is one token for
	// the whole page, so two clicks can never start two installs.
	CSRF, Once string
}

// EnvPackageRow is one package in one environment.
type EnvPackageRow struct {
	UniqueName, Name, Version, Publisher string
	// State is shown as it comes; unknown states are kept.
	State string
	// ErrCode and ErrMessage are the package's last error, if any.
	ErrCode, ErrMessage string
}

// Installable reports whether the page offers an Install (or Retry)
// button: only for states known to mean "not installed".
func (r EnvPackageRow) Installable() bool {
	switch r.State {
	case "", string(ppapi.PackageNone), string(ppapi.PackageNotInstalled), string(ppapi.PackageInstallFailed), "Uninstalled":
		return true
	}
	return false
}

// Title is the document title, most specific first.
func (vm EnvironmentApplicationsVM) Title() string {
	return "Applications · " + vm.EnvName + " · Environments"
}

// NewEnvPackageRows maps an environment's packages.
func NewEnvPackageRows(pkgs []ppapi.ApplicationPackage) []EnvPackageRow {
	rows := make([]EnvPackageRow, 0, len(pkgs))
	for i := range pkgs {
		p := &pkgs[i]
		r := EnvPackageRow{UniqueName: p.UniqueName, Name: p.DisplayName(), Version: p.Version, Publisher: p.PublisherName, State: string(p.State)}
		if e := p.Error(); e != nil {
			r.ErrCode = firstNonEmpty(e.Code, e.ErrorName, string(e.ErrorCode))
			r.ErrMessage = e.Message
		}
		rows = append(rows, r)
	}
	return rows
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// InstallURL is where an install form posts.
func InstallURL(envID, pkg string) string {
	return paths.EnvironmentApplications(envID) + "/" + url.PathEscape(pkg) + "/install"
}
