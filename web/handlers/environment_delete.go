package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// confirmDeleteEnvironment asks for the display name, or explains why the
// environment cannot be deleted.
func (h *Handlers) confirmDeleteEnvironment(c echo.Context) error {
	id, err := environmentID(c)
	if err != nil {
		return err
	}
	env, err := h.api.GetEnvironment(c.Request().Context(), id, "")
	if err != nil {
		return err
	}
	return h.renderDeleteForm(c, http.StatusOK, pages.EnvironmentDeleteVM{Env: pages.NewEnvironmentVM(env)})
}

func (h *Handlers) renderDeleteForm(c echo.Context, status int, vm pages.EnvironmentDeleteVM) error {
	if s := sessionOf(c); s != nil {
		vm.CSRF = s.CSRFToken()
	}
	m := h.meta(c, vm.Title(), "environments", envCrumbs(vm.Env.ID, vm.Env.Name, layout.Crumb{Label: "Delete", Href: paths.EnvironmentDelete(vm.Env.ID)})...)
	m.CanonicalURL = paths.EnvironmentDelete(vm.Env.ID)
	return h.render(c, status, pages.EnvironmentDeletePage(m, vm))
}

// deleteAction is what a delete POST leads to, decided from the
// environment as read just now and the typed name.
type deleteAction int

const (
	deleteRefused deleteAction = iota // the gate says no: 403, no upstream delete
	deleteRetype                      // the typed name does not match: 422
	deleteProceed
)

func decideDelete(env *ppapi.Environment, typed string) (deleteAction, pages.DeleteGate) {
	gate := pages.DeleteGateOf(env)
	switch {
	case !gate.Allowed:
		return deleteRefused, gate
	case strings.TrimSpace(typed) != strings.TrimSpace(env.Properties.DisplayName) || strings.TrimSpace(typed) == "":
		return deleteRetype, gate
	}
	return deleteProceed, gate
}

// deleteEnvironment deletes after the typed-name confirmation. The gate is
// checked again here, against a fresh read: the form is no authority. 202
// leads to the deletion page, which polls until the environment is gone;
// 204 (or 404) says it was already gone; 409 re-renders the form with its
// own message. Nothing is retried: when the answer is lost, the
// environment is read back instead (reconcileDelete).
func (h *Handlers) deleteEnvironment(c echo.Context) error {
	id, err := environmentID(c)
	if err != nil {
		return err
	}
	typed := c.FormValue("confirm")
	if len(typed) > 1024 {
		return badInput("the confirmation text is too long")
	}
	ctx := c.Request().Context()
	env, err := h.api.GetEnvironment(ctx, id, "")
	if err != nil {
		return err
	}
	vm := pages.EnvironmentDeleteVM{Env: pages.NewEnvironmentVM(env), Typed: typed}
	switch act, _ := decideDelete(env, typed); act {
	case deleteRefused:
		return h.renderDeleteForm(c, http.StatusForbidden, vm)
	case deleteRetype:
		vm.TypedError = "Type the environment's name exactly as shown: " + env.Properties.DisplayName
		return h.renderDeleteForm(c, http.StatusUnprocessableEntity, vm)
	}
	actx, audit := h.beginAudit(c, "environment.delete", id)
	acc, err := h.api.DeleteEnvironment(actx, id)
	if errors.Is(err, ppapi.ErrOutcomeUnknown) {
		// Never resent: read the environment back and show what it says.
		return h.reconcileDelete(c, vm, err, audit)
	}
	audit(err)
	switch {
	case errors.Is(err, ppapi.ErrConflict):
		vm.Conflict = true
		return h.renderDeleteForm(c, http.StatusConflict, vm)
	case errors.Is(err, ppapi.ErrNotFound):
		acc = &ppapi.Accepted{Status: http.StatusNoContent}
	case err != nil:
		return err
	}
	h.logger(c).Info("environment delete started", "env", id, "status", acc.Status)
	s := sessionOf(c)
	if acc.Status == http.StatusNoContent {
		if s != nil {
			s.SetFlash("Power Platform says " + env.Properties.DisplayName + " was already deleted.")
		}
		return h.redirect(c, pages.EnvironmentDeletionURL(id))
	}
	if s != nil {
		s.SetFlash("Power Platform accepted the delete of " + env.Properties.DisplayName + ".")
	}
	every := int(ppapi.PollInterval(acc.RetryAfter).Seconds())
	return h.redirect(c, pages.EnvironmentDeletionURLEvery(id, every))
}

// showEnvironmentDeletion follows a deletion: Deleting polls, 404 means
// gone. The page and its #deletion-status fragment share the URL.
func (h *Handlers) showEnvironmentDeletion(c echo.Context) error {
	id, err := environmentID(c)
	if err != nil {
		return err
	}
	vm := pages.DeletionVM{ID: id}
	if s := c.QueryParam("every"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > int(ppapi.MaxPollInterval.Seconds()) {
			return badInput("every must be a number of seconds from 1 to " + strconv.Itoa(int(ppapi.MaxPollInterval.Seconds())))
		}
		vm.Every = n
	}
	env, err := h.api.GetEnvironment(c.Request().Context(), id, "")
	var pe *ppapi.Error
	switch {
	case errors.Is(err, ppapi.ErrNotFound):
		vm.Phase = pages.DeletionGone
	case errors.Is(err, ppapi.ErrThrottled) && errors.As(err, &pe):
		// Keep polling, slower: the state is unknown, not changed.
		vm.Phase = pages.DeletionRunning
		vm.ThrottledFor = max(1, int(ppapi.PollInterval(pe.RetryAfter).Seconds()))
	case err != nil:
		return err
	case env.Properties.ProvisioningState == ppapi.ProvisioningDeleting:
		vm.Phase, vm.Name, vm.Provisioning = pages.DeletionRunning, env.Properties.DisplayName, string(env.Properties.ProvisioningState)
	default:
		vm.Phase, vm.Name, vm.Provisioning = pages.DeletionNotDeleting, env.Properties.DisplayName, string(env.Properties.ProvisioningState)
	}
	name := vm.Name
	if name == "" {
		name = id
	}
	m := h.meta(c, vm.Title(), "environments", envCrumbs(id, name, layout.Crumb{Label: "Deletion", Href: pages.EnvironmentDeletionURL(id)})...)
	return h.page(c, pages.EnvironmentDeletionPage(m, vm), pages.DeletionStatus(vm))
}
