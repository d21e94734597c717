package handlers

import (
	"github.com/labstack/echo/v4"

	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// listEnvironmentApplications is one environment's packages and their
// state, with install buttons. Every install form on the page carries the
// same one-time token, so a double click, or a second button, starts at
// most one install.
func (h *Handlers) listEnvironmentApplications(c echo.Context) error {
	id, err := environmentID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	env, err := h.api.GetEnvironment(ctx, id, "")
	if err != nil {
		return err
	}
	vm := pages.EnvironmentApplicationsVM{EnvID: id, EnvName: pages.NewEnvironmentVM(env).Name}
	if !env.Properties.HasDataverse() {
		vm.NoDataverse = true
	} else {
		pkgs, err := h.api.ListEnvironmentApplicationPackages(ctx, id)
		if err != nil {
			return err
		}
		vm.Rows = pages.NewEnvPackageRows(pkgs)
		if s := sessionOf(c); s != nil {
			vm.CSRF, vm.Once = s.CSRFToken(), s.OnceToken()
		}
	}
	m := h.meta(c, vm.Title(), "environments", envCrumbs(id, vm.EnvName, layout.Crumb{Label: "Applications", Href: paths.EnvironmentApplications(id)})...)
	return h.page(c, pages.EnvironmentApplicationsPage(m, vm), nil)
}
