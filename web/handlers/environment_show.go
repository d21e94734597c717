package handlers

import (
	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// showExpand is what the environment page asks for besides the basics.
const showExpand = "properties.capacity,properties.addons"

// environmentID reads and validates the {id} path parameter: a GUID or
// Default-<GUID>, checked before any upstream call.
func environmentID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !ppapi.ValidEnvironmentID(id) {
		return "", badInput("the environment id in the address is not a GUID or Default-<GUID>")
	}
	return id, nil
}

// envCrumbs are the breadcrumbs down to one environment.
func envCrumbs(id, name string, more ...layout.Crumb) []layout.Crumb {
	return append([]layout.Crumb{
		{Label: "Environments", Href: paths.Environments},
		{Label: name, Href: paths.Environment(id)},
	}, more...)
}

// showEnvironment is one environment's page.
func (h *Handlers) showEnvironment(c echo.Context) error {
	id, err := environmentID(c)
	if err != nil {
		return err
	}
	env, err := h.api.GetEnvironment(c.Request().Context(), id, showExpand)
	if err != nil {
		return err
	}
	vm := pages.NewEnvironmentVM(env)
	if vm.Dataverse != nil {
		vm.FlowRunsEntry = pages.FlowRunsEntry(h.flowRunsEntryVM(c, id))
	}
	m := h.meta(c, vm.Title(), "environments", envCrumbs(id, vm.Name)...)
	return h.page(c, pages.EnvironmentPage(m, vm), nil)
}
