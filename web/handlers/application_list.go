package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// listApplications is the tenant catalog, searchable with ?q=.
func (h *Handlers) listApplications(c echo.Context) error {
	r := c.Request()
	q, err := parseSearch(c.QueryParam("q"))
	if err != nil {
		return err
	}
	canonical := pages.ApplicationsURL(q)
	if !isPartial(r) && r.URL.RequestURI() != canonical {
		return c.Redirect(http.StatusFound, canonical)
	}
	pkgs, err := h.api.ListTenantApplicationPackages(r.Context())
	if err != nil {
		return err
	}
	vm := pages.NewApplicationsVM(pkgs, q)
	if isPartial(r) && r.URL.RequestURI() != canonical {
		c.Response().Header().Set(hxPushURL, canonical)
	}
	m := h.meta(c, vm.Title(), "applications", layout.Crumb{Label: "Applications", Href: paths.Applications})
	m.CanonicalURL = canonical
	return h.page(c, pages.ApplicationsPage(m, vm), pages.ApplicationsTable(vm))
}
