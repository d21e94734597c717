package handlers

import (
	"errors"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
)

// operationRef reads and validates the operation's path and query: the
// environment id, the operation GUID and the optional package label.
func operationRef(c echo.Context) (envID, opID, pkg string, err error) {
	if envID, err = environmentID(c); err != nil {
		return
	}
	opID = c.Param("opId")
	if !ppapi.ValidGUID(opID) {
		return "", "", "", badInput("the operation id in the address is not a GUID")
	}
	pkg = c.QueryParam("pkg")
	if pkg != "" && !ppapi.ValidPackageID(pkg) {
		return "", "", "", badInput("pkg must be a package unique name")
	}
	return envID, opID, pkg, nil
}

// readOperation reads an install's status into its view model. A 409 (not
// reportable yet) and a 429 (throttled) keep the operation polling; a 404
// and everything else are errors.
func (h *Handlers) readOperation(c echo.Context, envID, opID, pkg string) (pages.OperationVM, error) {
	st, err := h.api.GetInstallStatus(c.Request().Context(), envID, opID)
	vm := pages.NewOperationVM(envID, opID, pkg, st)
	var pe *ppapi.Error
	switch {
	case err == nil:
	case errors.Is(err, ppapi.ErrConflict):
		vm.Pending = true
	case errors.Is(err, ppapi.ErrThrottled) && errors.As(err, &pe):
		vm.ThrottledFor = max(1, int(ppapi.PollInterval(pe.RetryAfter).Seconds()))
	default:
		return vm, err
	}
	return vm, nil
}

// showOperation is an install's progress page; with HX-Request, only its
// #operation-status region, which polls until the operation is terminal.
// The same URL opened fresh reads the current state from the API.
func (h *Handlers) showOperation(c echo.Context) error {
	envID, opID, pkg, err := operationRef(c)
	if err != nil {
		return err
	}
	vm, err := h.readOperation(c, envID, opID, pkg)
	if err != nil {
		return err
	}
	if isPartial(c.Request()) {
		return h.page(c, nil, pages.OperationStatus(vm))
	}
	// The full page names the environment; a failed read only loses the
	// name.
	if env, err := h.api.GetEnvironment(c.Request().Context(), envID, ""); err == nil {
		vm.EnvName = pages.NewEnvironmentVM(env).Name
	}
	name := vm.EnvName
	if name == "" {
		name = envID
	}
	m := h.meta(c, vm.Title(), "environments", envCrumbs(envID, name, layout.Crumb{Label: "Install " + vm.Label(), Href: vm.URL()})...)
	m.CanonicalURL = vm.URL()
	return h.page(c, pages.OperationPage(m, vm), pages.OperationStatus(vm))
}
