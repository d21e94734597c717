package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// confirmDeleteBillingPolicy asks before deleting: the confirmation step.
func (h *Handlers) confirmDeleteBillingPolicy(c echo.Context) error {
	id, err := billingPolicyID(c)
	if err != nil {
		return err
	}
	p, err := h.api.GetBillingPolicy(c.Request().Context(), id)
	if err != nil {
		return err
	}
	vm := pages.BillingDeleteVM{ID: id, Name: p.Name, Action: paths.BillingPolicyDelete(id), CancelURL: paths.BillingPolicy(id)}
	m := h.meta(c, "Delete "+p.Name+" · Billing policy", "billing",
		billingCrumbs(id, p.Name, layout.Crumb{Label: "Delete", Href: vm.Action})...)
	vm.CSRF = m.CSRFToken
	return h.render(c, http.StatusOK, pages.BillingDeletePage(m, vm))
}

// deleteBillingPolicy deletes the policy and goes back to the list with a
// notice: deleted (204), or already gone (404).
func (h *Handlers) deleteBillingPolicy(c echo.Context) error {
	id, err := billingPolicyID(c)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(c.FormValue("name"))
	if validatePolicyName(name) != "" {
		name = ""
	}
	actx, audit := h.beginAudit(c, "billing_policy.delete", id)
	err = h.api.DeleteBillingPolicy(actx, id)
	audit(err)
	switch {
	case err == nil:
		msg := "Billing policy deleted."
		if name != "" {
			msg = "Billing policy “" + name + "” deleted."
		}
		sessionOf(c).SetFlash(msg)
	case errors.Is(err, ppapi.ErrNotFound):
		sessionOf(c).SetFlash("That billing policy was already gone: nothing was deleted.")
	default:
		return err
	}
	return h.redirect(c, paths.BillingPolicies)
}
