package handlers

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// listExpand asks for capacity and add-ons with the list, for the totals.
const listExpand = "properties.capacity,properties.addons"

// listEnvironments is the environment overview. Its whole state is the
// query string: a request whose query is not the canonical spelling is
// redirected to it before anything is fetched (htmx requests get the
// fragment and HX-Push-Url instead, so the address bar holds the bookmark).
func (h *Handlers) listEnvironments(c echo.Context) error {
	r := c.Request()
	f, err := parseEnvironmentFilter(c.QueryParams())
	if err != nil {
		return err
	}
	partial := isPartial(r)
	if !partial && r.URL.RawQuery != f.RawQuery() {
		return c.Redirect(http.StatusFound, f.URL())
	}
	envs, err := h.api.ListEnvironments(r.Context(), listExpand)
	if err != nil {
		return err
	}
	if err := checkSKUKnown(f.SKU, envs); err != nil {
		return err
	}
	vm := h.envIndexes.index(envs, h.now()).VM(f)
	if vm.Filter != f {
		// The page was past the end: show the last one under its own URL.
		if !partial {
			return c.Redirect(http.StatusFound, vm.Filter.URL())
		}
	}
	if partial && r.URL.RawQuery != vm.Filter.RawQuery() {
		c.Response().Header().Set(hxPushURL, vm.Filter.URL())
	}
	m := h.meta(c, vm.Title(), "environments", layout.Crumb{Label: "Environments", Href: paths.Environments})
	m.CanonicalURL = vm.Filter.URL()
	return h.page(c, pages.EnvironmentsPage(m, vm), pages.EnvironmentsTable(vm))
}

// checkSKUKnown refuses a type filter that is neither a known type nor one
// present in the tenant: enumerations are open, so a type the portal does
// not know is accepted when environments carry it.
func checkSKUKnown(sku string, envs []ppapi.Environment) error {
	if sku == "" || slices.Contains(pages.KnownSKUs, sku) {
		return nil
	}
	for i := range envs {
		if strings.EqualFold(string(envs[i].Properties.EnvironmentSKU), sku) {
			return nil
		}
	}
	return badInput("there is no environment type " + strconv.Quote(sku) + " in this tenant; the known types are " +
		strings.Join(pages.KnownSKUs, ", "))
}
