package handlers

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/session"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// installsList is the session list that maps a used once-token to the
// operation it started, so a repeated POST lands on the same operation.
const installsList = "installs"

// packageName reads and validates the {pkg} path parameter.
func packageName(c echo.Context) (string, error) {
	p := c.Param("pkg")
	if !ppapi.ValidPackageID(p) {
		return "", badInput("the package name in the address is not a package unique name or GUID")
	}
	return p, nil
}

// onceToken reads the form's one-time token.
func onceToken(c echo.Context) (string, error) {
	tok := c.FormValue("once")
	if tok == "" || len(tok) > 128 {
		return "", badInput("the form is missing its one-time token; reload the page and try again")
	}
	return tok, nil
}

// installApplication starts one install and sends the browser to its
// progress page. The once-token makes a double-posted form start one
// install: the repeat is sent to the operation the first one started, or,
// while the first is still in flight, to the environment's applications.
// When the answer is lost, the packages are read back (reconcileInstall).
func (h *Handlers) installApplication(c echo.Context) error {
	id, err := environmentID(c)
	if err != nil {
		return err
	}
	pkg, err := packageName(c)
	if err != nil {
		return err
	}
	tok, err := onceToken(c)
	if err != nil {
		return err
	}
	s := sessionOf(c)
	if s == nil {
		return errSignInFirst
	}
	if !s.UseOnceToken(tok) {
		if to := recalledInstall(s, tok); to != "" {
			return h.redirect(c, to)
		}
		s.SetFlash("That install was already submitted. Its progress shows in the package's state below.")
		return h.redirect(c, paths.EnvironmentApplications(id))
	}
	actx, audit := h.beginAudit(c, "application.install", id+"/"+pkg)
	acc, err := h.api.InstallApplicationPackage(actx, id, pkg)
	if errors.Is(err, ppapi.ErrOutcomeUnknown) {
		// Never resent: read the packages back and show what they say.
		return h.reconcileInstall(c, id, pkg, err, audit)
	}
	audit(err)
	if err != nil {
		return err
	}
	h.logger(c).Info("install started", "env", id, "package", pkg, "operation", acc.OperationID, "status", acc.Status)
	if acc.OperationID == "" {
		s.SetFlash("Power Platform accepted the install of " + pkg + " without an operation to follow; its state shows below.")
		return h.redirect(c, paths.EnvironmentApplications(id))
	}
	to := pages.OperationURL(id, acc.OperationID, pkg)
	s.Remember(installsList, tok+"="+to, 20)
	return h.redirect(c, to)
}

// recalledInstall is the operation URL a used token started, or "".
func recalledInstall(s *session.Session, tok string) string {
	for _, v := range s.Recent(installsList) {
		if t, to, ok := strings.Cut(v, "="); ok && t == tok {
			return to
		}
	}
	return ""
}
