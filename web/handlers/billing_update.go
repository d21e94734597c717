package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// editFormVM is the edit form of policy p holding f.
func editFormVM(p *ppapi.BillingPolicy, f billingForm) pages.BillingPolicyFormVM {
	vm := pages.BillingPolicyFormVM{
		Edit: true, ID: p.ID, Action: paths.BillingPolicyEdit(p.ID), CancelURL: paths.BillingPolicy(p.ID),
		Name: f.Name, Status: f.Status, OrigName: f.OrigName, OrigStatus: f.OrigStatus,
		Statuses:      billingStatusOptionsFor(f.OrigStatus, true),
		FixedLocation: geographyLabel(p.Location) + " (" + p.Location + ")",
	}
	if bi := p.BillingInstrument; bi != nil {
		vm.FixedSubscriptionID, vm.FixedResourceGroup = bi.SubscriptionID, bi.ResourceGroup
	}
	return vm
}

// renderEditForm renders the edit form page with status.
func (h *Handlers) renderEditForm(c echo.Context, status int, vm pages.BillingPolicyFormVM) error {
	m := h.meta(c, vm.Title(), "billing", billingCrumbs(vm.ID, vm.OrigName, layout.Crumb{Label: "Edit", Href: vm.Action})...)
	vm.CSRF = m.CSRFToken
	return h.render(c, status, pages.BillingPolicyFormPage(m, vm))
}

// editBillingPolicy is the edit form, filled from the policy as it is now.
func (h *Handlers) editBillingPolicy(c echo.Context) error {
	id, err := billingPolicyID(c)
	if err != nil {
		return err
	}
	p, err := h.api.GetBillingPolicy(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f := billingForm{Name: p.Name, OrigName: p.Name, OrigStatus: string(p.Status)}
	if settableStatus(string(p.Status)) {
		f.Status = string(p.Status)
	}
	return h.renderEditForm(c, http.StatusOK, editFormVM(p, f))
}

// updateBillingPolicy sends the fields that changed (PATCH) and goes to
// the policy page with a notice. Invalid input comes back with messages
// next to the fields and nothing sent; a refusal by Power Platform comes
// back with its code and message. When the answer is lost, the policy is
// read back and compared (reconcileUpdate).
func (h *Handlers) updateBillingPolicy(c echo.Context) error {
	id, err := billingPolicyID(c)
	if err != nil {
		return err
	}
	f, err := readBillingForm(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	// again re-reads the policy to show its fixed fields on the form again.
	again := func(status int, change func(*pages.BillingPolicyFormVM)) error {
		p, err := h.api.GetBillingPolicy(ctx, id)
		if err != nil {
			return err
		}
		vm := editFormVM(p, f)
		change(&vm)
		return h.renderEditForm(c, status, vm)
	}
	if errs := validateBillingUpdate(f); errs.Any() {
		return again(http.StatusUnprocessableEntity, func(vm *pages.BillingPolicyFormVM) { vm.Errors = errs })
	}
	req, changed := billingUpdateRequest(f)
	if !changed {
		sessionOf(c).SetFlash("Nothing changed, so nothing was sent to Power Platform.")
		return h.redirect(c, paths.BillingPolicy(id))
	}
	actx, audit := h.beginAudit(c, "billing_policy.update", id)
	p, err := h.api.UpdateBillingPolicy(actx, id, req)
	if errors.Is(err, ppapi.ErrOutcomeUnknown) {
		// Never resent: read the policy back and compare.
		return h.reconcileUpdate(c, id, f, req, err, audit)
	}
	audit(err)
	var pe *ppapi.Error
	switch {
	case err == nil:
	case errors.Is(err, ppapi.ErrBadRequest) && errors.As(err, &pe):
		return again(http.StatusUnprocessableEntity, func(vm *pages.BillingPolicyFormVM) {
			vm.UpstreamCode, vm.UpstreamMessage = pe.Code, pe.Message
			if vm.UpstreamCode == "" && vm.UpstreamMessage == "" {
				vm.UpstreamMessage = "Power Platform refused the request without saying why."
			}
		})
	default:
		return err
	}
	sessionOf(c).SetFlash("Billing policy “" + p.Name + "” updated.")
	return h.redirect(c, paths.BillingPolicy(id))
}
