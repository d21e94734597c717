package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"ppportal/ppapi"
	"ppportal/web/views/layout"
	"ppportal/web/views/pages"
	"ppportal/web/views/paths"
)

// Reconciliation (issue 8 point 1, SECURITY.md G6): when a delete,
// install, create or update was sent but its answer was lost
// (ppapi.ErrOutcomeUnknown), the portal never sends it again. It reads the
// resource back and shows what the read found, saying plainly that the
// connection broke. Only when that read fails too does the admin get the
// bare "Outcome unknown" page.

// reconcileBudget bounds the read-back of one mutation. It is a budget of
// its own, detached from the request's cancellation: a stalled mutation
// may have used up the request's whole upstream deadline, and the read is
// what tells the admin where things stand. 8 s + 1.5 s keeps the page
// within G7's 10 s.
const reconcileBudget = 1500 * time.Millisecond

// reconcileSettle is the pause before a second read that confirms a "not
// applied" finding: a change that did reach the service may take a moment
// to show in its reads (the install list, REAL-API.md §3a "reads can
// lag"), while a positive finding is conclusive at once.
const reconcileSettle = 250 * time.Millisecond

// reconcileContext is the read-back's context: the request's values (the
// session, for the token and the read cache) without its cancellation,
// bounded by reconcileBudget.
func reconcileContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), reconcileBudget)
}

// readBack reads once and classifies what it read; a finding other than
// applied is confirmed by one more read after reconcileSettle. An error
// of the first read is returned: the outcome stays unknown. When the
// confirming read cannot be made, the first finding stands.
func readBack[T any](ctx context.Context, read func(context.Context) (T, error), classify func(T) pages.ReconcileOutcome) (T, pages.ReconcileOutcome, error) {
	v, err := read(ctx)
	if err != nil {
		return v, "", err
	}
	found := classify(v)
	if found == pages.ReconcileApplied {
		return v, found, nil
	}
	t := time.NewTimer(reconcileSettle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return v, found, nil
	case <-t.C:
	}
	v2, err := read(ctx)
	if err != nil {
		return v, found, nil
	}
	return v2, classify(v2), nil
}

// reconciledError is a mutation's outcome-unknown error together with what
// reading back found; the audit record names both.
type reconciledError struct {
	err   error
	found pages.ReconcileOutcome
}

func (e *reconciledError) Error() string {
	return e.err.Error() + " (reconciled by a read: " + string(e.found) + ")"
}

func (e *reconciledError) Unwrap() error { return e.err }

// auditReconciled is the audit result of a reconciled action.
func auditReconciled(found pages.ReconcileOutcome) string {
	switch found {
	case pages.ReconcileApplied:
		return "outcome_unknown, reconciled: applied"
	case pages.ReconcilePartlyApplied:
		return "outcome_unknown, reconciled: partly applied"
	}
	return "outcome_unknown, reconciled: not applied"
}

// reconcileFailed logs a read-back that failed; the caller then returns
// the mutation's own error, which shows "Outcome unknown".
func (h *Handlers) reconcileFailed(c echo.Context, what string, err error) {
	h.logger(c).Warn("reconciling read failed: outcome stays unknown", "what", what, "err", err.Error())
}

// renderReconcile renders the reconcile page with optional children.
func (h *Handlers) renderReconcile(c echo.Context, status int, vm pages.ReconcileVM, section string, crumbs []layout.Crumb, children templ.Component) error {
	m := h.meta(c, vm.Title, section, crumbs...)
	comp := pages.ReconcilePage(m, vm)
	if children == nil {
		return h.render(c, status, comp)
	}
	return h.render(c, status, templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return comp.Render(templ.WithChildren(ctx, children), w)
	}))
}

// --- environment delete ---

// deleteFound classifies an environment read after a delete: gone (nil)
// or Deleting means the delete took effect.
func deleteFound(env *ppapi.Environment) pages.ReconcileOutcome {
	if env == nil || env.Properties.ProvisioningState == ppapi.ProvisioningDeleting {
		return pages.ReconcileApplied
	}
	return pages.ReconcileNotApplied
}

// reconcileDelete reads the environment back after a delete whose answer
// was lost: gone or Deleting continues to the deletion page; otherwise the
// confirmation form comes back (502) saying the delete did not take
// effect.
func (h *Handlers) reconcileDelete(c echo.Context, vm pages.EnvironmentDeleteVM, cause error, audit func(error)) error {
	id, name := vm.Env.ID, vm.Env.Name
	rctx, cancel := reconcileContext(c.Request().Context())
	defer cancel()
	env, found, err := readBack(rctx, func(ctx context.Context) (*ppapi.Environment, error) {
		e, err := h.api.GetEnvironment(ctx, id, "")
		if errors.Is(err, ppapi.ErrNotFound) {
			return nil, nil
		}
		return e, err
	}, deleteFound)
	if err != nil {
		h.reconcileFailed(c, "environment delete", err)
		audit(cause)
		return cause
	}
	audit(&reconciledError{err: cause, found: found})
	h.logger(c).Info("environment delete reconciled by a read", "env", id, "found", string(found))
	if found == pages.ReconcileApplied {
		if s := sessionOf(c); s != nil {
			s.SetFlash("The connection to Power Platform broke before it answered the delete of " + name + ", but the delete went through: reading the environment back shows it being deleted. The delete was not sent again.")
		}
		return h.redirect(c, pages.EnvironmentDeletionURL(id))
	}
	vm.Env = pages.NewEnvironmentVM(env)
	if s := sessionOf(c); s != nil {
		vm.CSRF = s.CSRFToken()
	}
	rvm := pages.ReconcileVM{
		Title: "Delete " + vm.Env.Name + " did not take effect · Environments", Heading: "The delete did not take effect",
		Outcome: pages.ReconcileNotApplied, What: "The delete of " + vm.Env.Name,
		Found: "The environment is still there and is not being deleted (state: " + orNone(string(env.Properties.ProvisioningState)) + "): the delete did not take effect.",
		Next:  "You may try again: type the name below to delete it.",
	}
	crumbs := envCrumbs(id, vm.Env.Name, layout.Crumb{Label: "Delete", Href: paths.EnvironmentDelete(id)})
	return h.renderReconcile(c, http.StatusBadGateway, rvm, "environments", crumbs, pages.ReconcileDeleteForm(vm))
}

// --- package install ---

// installStarted are the package states that show an install was started
// or went through (REAL-API.md §7.5).
var installStarted = []ppapi.PackageState{
	ppapi.PackageInstalled, ppapi.PackageInstalling, ppapi.PackageInstallRequested,
	"InstallScheduled", "InstallRetrying",
}

// installFound classifies an environment's packages after an install of
// pkg (its unique name or id).
func installFound(pkg string) func([]ppapi.ApplicationPackage) pages.ReconcileOutcome {
	return func(list []ppapi.ApplicationPackage) pages.ReconcileOutcome {
		for _, p := range list {
			if strings.EqualFold(p.UniqueName, pkg) || strings.EqualFold(p.ID, pkg) {
				if slices.Contains(installStarted, p.State) {
					return pages.ReconcileApplied
				}
				return pages.ReconcileNotApplied
			}
		}
		return pages.ReconcileNotApplied
	}
}

// readInstall reads an environment's packages back after an install of
// pkg whose answer was lost.
func (h *Handlers) readInstall(ctx context.Context, envID, pkg string) (pages.ReconcileOutcome, error) {
	_, found, err := readBack(ctx, func(ctx context.Context) ([]ppapi.ApplicationPackage, error) {
		return h.api.ListEnvironmentApplicationPackages(ctx, envID)
	}, installFound(pkg))
	return found, err
}

// reconcileInstall shows what the environment's packages say after an
// install whose answer was lost: started (202, with the applications page
// to follow it, as there is no operation id), or not started (502).
func (h *Handlers) reconcileInstall(c echo.Context, envID, pkg string, cause error, audit func(error)) error {
	rctx, cancel := reconcileContext(c.Request().Context())
	defer cancel()
	found, err := h.readInstall(rctx, envID, pkg)
	if err != nil {
		h.reconcileFailed(c, "package install", err)
		audit(cause)
		return cause
	}
	audit(&reconciledError{err: cause, found: found})
	h.logger(c).Info("install reconciled by a read", "env", envID, "package", pkg, "found", string(found))
	rvm := pages.ReconcileVM{
		Outcome: found, What: "The install of " + pkg,
		LinkLabel: "Open the environment's applications", LinkHref: paths.EnvironmentApplications(envID),
	}
	status := http.StatusAccepted
	if found == pages.ReconcileApplied {
		rvm.Title, rvm.Heading = "Install of "+pkg+" started · Applications", "The install was started"
		rvm.Found = "The install was started: the environment's packages show " + pkg + " installing or installed."
		rvm.Next = "Its progress shows in the package's state on the environment's applications page."
	} else {
		status = http.StatusBadGateway
		rvm.Title, rvm.Heading = "Install of "+pkg+" not started · Applications", "The install was not started"
		rvm.Found = "The install was not started: the environment's packages do not show " + pkg + " installing or installed."
		rvm.Next = "You may install it again from the environment's applications page. If it did start after all, Power Platform refuses a second install while the first runs."
	}
	crumbs := envCrumbs(envID, envID, layout.Crumb{Label: "Applications", Href: paths.EnvironmentApplications(envID)})
	return h.renderReconcile(c, status, rvm, "environments", crumbs, nil)
}

// reconcileBulk reads back, in parallel, the environments whose install
// start was lost ("unknown") and marks each started or not started; a row
// whose read fails stays unknown.
func (h *Handlers) reconcileBulk(ctx context.Context, pkg string, rows []pages.BulkRow) {
	rctx, cancel := reconcileContext(ctx)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(bulkConcurrency)
	for i := range rows {
		if rows[i].StartFailure != "unknown" {
			continue
		}
		g.Go(func() error {
			found, err := h.readInstall(rctx, rows[i].EnvID, pkg)
			switch {
			case err != nil:
			case found == pages.ReconcileApplied:
				rows[i].StartFailure = pages.BulkReconciledStarted
			default:
				rows[i].StartFailure = pages.BulkReconciledNotStarted
			}
			return nil
		})
	}
	g.Wait()
}

// --- billing policy create ---

// createdPolicy finds the policy a lost create made, by exact name. Names
// are unique in the simulator; the real service does not promise that, but
// the name is the best identity the create request gives us. With several
// matches the newest wins.
func createdPolicy(list []ppapi.BillingPolicy, name string) *ppapi.BillingPolicy {
	var best *ppapi.BillingPolicy
	for i := range list {
		p := &list[i]
		if p.Name != name {
			continue
		}
		if best == nil || (p.CreatedOn != nil && (best.CreatedOn == nil || p.CreatedOn.After(*best.CreatedOn))) {
			best = p
		}
	}
	return best
}

// reconcileCreate lists the policies after a create whose answer was lost:
// found, it goes to the policy with a notice (and a resubmit of the same
// form lands there too); not found, the form comes back with the input
// kept and a fresh one-time token, so submitting again works.
func (h *Handlers) reconcileCreate(c echo.Context, f billingForm, cause error, audit func(error)) error {
	s := sessionOf(c)
	name := billingCreateRequest(f).Name
	rctx, cancel := reconcileContext(c.Request().Context())
	defer cancel()
	var p *ppapi.BillingPolicy
	_, found, err := readBack(rctx, func(ctx context.Context) ([]ppapi.BillingPolicy, error) {
		return h.api.ListBillingPolicies(ctx)
	}, func(list []ppapi.BillingPolicy) pages.ReconcileOutcome {
		if p = createdPolicy(list, name); p != nil && ppapi.ValidGUID(p.ID) {
			return pages.ReconcileApplied
		}
		p = nil
		return pages.ReconcileNotApplied
	})
	if err != nil {
		h.reconcileFailed(c, "billing policy create", err)
		audit(cause)
		return cause
	}
	audit(&reconciledError{err: cause, found: found})
	h.logger(c).Info("billing policy create reconciled by a read", "found", string(found))
	if found == pages.ReconcileApplied {
		s.Remember(billingCreatedKey, f.Once+" "+p.ID, billingCreatedMax)
		s.SetFlash("The connection to Power Platform broke before it answered, but the policy was created: reading the billing policies back found “" + p.Name + "”. The create was not sent again.")
		return h.redirect(c, paths.BillingPolicy(p.ID))
	}
	vm := createFormVM(f)
	vm.Once = s.OnceToken()
	vm.Notice = "The connection to Power Platform broke before it answered, and the create was not sent again. Reading the billing policies back found none named “" + name + "”: it was not created; submit again."
	return h.renderCreateForm(c, http.StatusBadGateway, vm)
}

// --- billing policy update ---

// updateFound compares a policy read back with the changes a lost PATCH
// asked for: all, none or some of them applied, naming which.
func updateFound(req ppapi.BillingPolicyUpdateRequest, p *ppapi.BillingPolicy) (found pages.ReconcileOutcome, applied, missing []string) {
	if req.Name != "" {
		if strings.TrimSpace(p.Name) == req.Name {
			applied = append(applied, "name")
		} else {
			missing = append(missing, "name")
		}
	}
	if req.Status != "" {
		if p.Status == req.Status {
			applied = append(applied, "status")
		} else {
			missing = append(missing, "status")
		}
	}
	switch {
	case len(missing) == 0:
		return pages.ReconcileApplied, applied, missing
	case len(applied) == 0:
		return pages.ReconcileNotApplied, applied, missing
	}
	return pages.ReconcilePartlyApplied, applied, missing
}

// reconcileUpdate reads the policy back after an update whose answer was
// lost: every change there goes to the policy with a notice; otherwise
// the form comes back (502), starting from the policy as it is now, saying
// which changes are missing.
func (h *Handlers) reconcileUpdate(c echo.Context, id string, f billingForm, req ppapi.BillingPolicyUpdateRequest, cause error, audit func(error)) error {
	rctx, cancel := reconcileContext(c.Request().Context())
	defer cancel()
	p, found, err := readBack(rctx, func(ctx context.Context) (*ppapi.BillingPolicy, error) {
		return h.api.GetBillingPolicy(ctx, id)
	}, func(p *ppapi.BillingPolicy) pages.ReconcileOutcome {
		found, _, _ := updateFound(req, p)
		return found
	})
	if err != nil {
		h.reconcileFailed(c, "billing policy update", err)
		audit(cause)
		return cause
	}
	audit(&reconciledError{err: cause, found: found})
	h.logger(c).Info("billing policy update reconciled by a read", "policy", id, "found", string(found))
	_, applied, missing := updateFound(req, p)
	if found == pages.ReconcileApplied {
		sessionOf(c).SetFlash("Billing policy “" + p.Name + "” updated (the connection broke before Power Platform answered; confirmed by reading it back). The update was not sent again.")
		return h.redirect(c, paths.BillingPolicy(id))
	}
	// The form starts from the policy as read, so submitting it again
	// sends only what is still missing.
	f.OrigName, f.OrigStatus = p.Name, string(p.Status)
	vm := editFormVM(p, f)
	if found == pages.ReconcilePartlyApplied {
		vm.Notice = "The connection to Power Platform broke before it answered, and the update was not sent again. Reading the policy back shows it partly applied: the " + strings.Join(applied, " and ") + " change is there, the " + strings.Join(missing, " and ") + " change is not. Submit again to apply the rest."
	} else {
		vm.Notice = "The connection to Power Platform broke before it answered, and the update was not sent again. Reading the policy back shows the update was not applied: the policy is unchanged. Submit again to apply it."
	}
	return h.renderEditForm(c, http.StatusBadGateway, vm)
}

// orNone is s, or "none" when empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
