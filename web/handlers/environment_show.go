package handlers

import (
	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// environmentID reads and validates the {id} path parameter: a GUID or
// Default-<GUID>, checked before any upstream call.
func environmentID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !ppapi.ValidEnvironmentID(id) {
		return "", badInput("the environment id in the address is not a GUID or Default-<GUID>")
	}
	return id, nil
}

// showEnvironment is one environment's page.
func (h *Handlers) showEnvironment(c echo.Context) error {
	id, err := environmentID(c)
	if err != nil {
		return err
	}
	env, err := h.api.GetEnvironment(c.Request().Context(), id, "properties.capacity,properties.addons")
	if err != nil {
		return err
	}
	vm := pages.NewEnvironmentVM(env)
	m := h.meta(c, vm.Title(), "environments",
		layout.Crumb{Label: "Environments", Href: paths.Environments},
		layout.Crumb{Label: vm.Name, Href: paths.Environment(id)})
	return h.page(c, pages.EnvironmentPage(m, vm), nil)
}
