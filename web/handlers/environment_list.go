package handlers

import (
	"github.com/labstack/echo/v4"

	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
)

// listEnvironments is the environment overview.
func (h *Handlers) listEnvironments(c echo.Context) error {
	envs, err := h.api.ListEnvironments(c.Request().Context(), "properties.capacity,properties.addons")
	if err != nil {
		return err
	}
	vm := pages.NewEnvironmentsVM(envs)
	m := h.meta(c, "Environments", "environments", layout.Crumb{Label: "Environments", Href: "/environments"})
	return h.page(c, pages.EnvironmentsPage(m, vm), pages.EnvironmentsTable(vm))
}
