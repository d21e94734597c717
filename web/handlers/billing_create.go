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

// billingCreatedKey is the session list that maps a used one-time token
// to the policy its submit created ("<token> <policy id>"), so a second
// submit of the same form lands on that policy.
const billingCreatedKey = "billing:created"

// billingCreatedMax is how many such mappings a session keeps.
const billingCreatedMax = 10

// createdPolicyFor returns the policy created by the submit that used
// token, or "".
func createdPolicyFor(recent []string, token string) string {
	for _, r := range recent {
		tok, id, ok := strings.Cut(r, " ")
		if ok && tok == token && ppapi.ValidGUID(id) {
			return id
		}
	}
	return ""
}

// createFormVM is the create form holding f.
func createFormVM(f billingForm) pages.BillingPolicyFormVM {
	return pages.BillingPolicyFormVM{
		Action: paths.BillingPolicies, CancelURL: paths.BillingPolicies,
		Name: f.Name, Location: f.Location, Status: f.Status,
		SubscriptionID: f.SubscriptionID, ResourceGroup: f.ResourceGroup, Once: f.Once,
		Locations: geographyOptions(), Statuses: billingStatusOptionsFor("", false),
	}
}

// renderCreateForm renders the create form page with status.
func (h *Handlers) renderCreateForm(c echo.Context, status int, vm pages.BillingPolicyFormVM) error {
	m := h.meta(c, vm.Title(), "billing", billingCrumbs("", "", layout.Crumb{Label: "New", Href: pages.BillingPolicyNewPath})...)
	vm.CSRF = m.CSRFToken
	return h.render(c, status, pages.BillingPolicyFormPage(m, vm))
}

// newBillingPolicy is the empty create form, with a fresh one-time token.
func (h *Handlers) newBillingPolicy(c echo.Context) error {
	vm := createFormVM(billingForm{Status: string(ppapi.BillingEnabled)})
	vm.Once = sessionOf(c).OnceToken()
	return h.renderCreateForm(c, http.StatusOK, vm)
}

// createBillingPolicy validates the create form, spends its one-time token
// and creates the policy: 303 to the policy page with a notice. Invalid
// input comes back with messages next to the fields (422, nothing sent);
// a refusal by Power Platform comes back with its code and message. A
// second submit of the same form creates nothing and goes to the policy
// the first one created. When the answer is lost, the policies are read
// back (reconcileCreate).
func (h *Handlers) createBillingPolicy(c echo.Context) error {
	s := sessionOf(c)
	f, err := readBillingForm(c)
	if err != nil {
		return err
	}
	if errs := validateBillingCreate(f); errs.Any() {
		vm := createFormVM(f)
		vm.Errors = errs
		if !onceTokenShape(f.Once) {
			vm.Once = s.OnceToken()
		}
		return h.renderCreateForm(c, http.StatusUnprocessableEntity, vm)
	}
	if !s.UseOnceToken(f.Once) {
		if id := createdPolicyFor(s.Recent(billingCreatedKey), f.Once); id != "" {
			s.SetFlash("This form was already submitted: the billing policy was created once, and here it is.")
			return h.redirect(c, paths.BillingPolicy(id))
		}
		vm := createFormVM(f)
		vm.Once = s.OnceToken()
		vm.Notice = "This form was already submitted or has expired, so nothing was created this time. Check the list of billing policies before you submit it again."
		return h.renderCreateForm(c, http.StatusConflict, vm)
	}

	actx, audit := h.beginAudit(c, "billing_policy.create", f.Name)
	p, err := h.api.CreateBillingPolicy(actx, billingCreateRequest(f))
	if errors.Is(err, ppapi.ErrOutcomeUnknown) {
		// Never resent: list the policies and show what they say.
		return h.reconcileCreate(c, f, err, audit)
	}
	audit(err)
	var pe *ppapi.Error
	switch {
	case err == nil:
	case errors.Is(err, ppapi.ErrBadRequest) && errors.As(err, &pe):
		vm := createFormVM(f)
		vm.Once = s.OnceToken()
		vm.UpstreamCode, vm.UpstreamMessage = pe.Code, pe.Message
		if vm.UpstreamCode == "" && vm.UpstreamMessage == "" {
			vm.UpstreamMessage = "Power Platform refused the request without saying why."
		}
		return h.renderCreateForm(c, http.StatusUnprocessableEntity, vm)
	default:
		return err
	}
	s.Remember(billingCreatedKey, f.Once+" "+p.ID, billingCreatedMax)
	msg := "Billing policy “" + p.Name + "” created."
	if !p.Status.Settled() {
		msg += " Power Platform is still setting it up; its status below refreshes until it settles."
	}
	s.SetFlash(msg)
	return h.redirect(c, paths.BillingPolicy(p.ID))
}
