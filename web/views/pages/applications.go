package pages

import (
	"net/url"
	"strings"

	"ppportal/ppapi"
)

// ApplicationsVM is the tenant catalog of installable packages.
type ApplicationsVM struct {
	// Q is the search text.
	Q string
	// Total is the catalog's size; Rows the matching packages.
	Total int
	Rows  []PackageRow
}

// PackageRow is one catalog package.
type PackageRow struct {
	UniqueName, Name, Description, Publisher, Version, LearnMore string
}

// URL is the canonical URL of the catalog view.
func (vm ApplicationsVM) URL() string { return ApplicationsURL(vm.Q) }

// ApplicationsURL is the catalog searched for q.
func ApplicationsURL(q string) string {
	if q == "" {
		return "/applications"
	}
	return "/applications?q=" + url.QueryEscape(q)
}

// Title is the document title, most specific first.
func (vm ApplicationsVM) Title() string {
	if vm.Q != "" {
		return "“" + vm.Q + "” · Applications"
	}
	return "Applications"
}

// NewApplicationsVM filters the catalog by q (name, unique name, publisher,
// description; without case).
func NewApplicationsVM(pkgs []ppapi.ApplicationPackage, q string) ApplicationsVM {
	vm := ApplicationsVM{Q: q, Total: len(pkgs)}
	lq := strings.ToLower(q)
	for i := range pkgs {
		p := &pkgs[i]
		r := PackageRow{UniqueName: p.UniqueName, Name: p.DisplayName(), Publisher: p.PublisherName,
			Version: p.Version, LearnMore: httpsOnly(p.LearnMoreURL)}
		if p.LocalizedDescription != nil {
			r.Description = *p.LocalizedDescription
		}
		if lq != "" && !strings.Contains(strings.ToLower(r.Name+"\x00"+r.UniqueName+"\x00"+r.Publisher+"\x00"+r.Description), lq) {
			continue
		}
		vm.Rows = append(vm.Rows, r)
	}
	return vm
}
