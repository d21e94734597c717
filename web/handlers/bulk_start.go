package handlers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

	"ppportal/ppapi"
	"ppportal/web/views/pages"
)

// bulkList maps a used once-token to the bulk URL it started.
const bulkList = "bulk"

// bulkConcurrency bounds parallel upstream calls of one bulk request.
const bulkConcurrency = 8

// startBulkInstall starts one install per chosen environment, in
// parallel, and sends the browser to the bulk page, whose URL holds every
// operation id (or why an install did not start). The once-token keeps a
// double post from starting anything twice.
func (h *Handlers) startBulkInstall(c echo.Context) error {
	pkg := c.FormValue("pkg")
	if !ppapi.ValidPackageID(pkg) {
		return badInput("choose a package")
	}
	form, err := c.FormParams()
	if err != nil {
		return badInput("the form could not be read")
	}
	envs, err := bulkEnvIDs(form["env"])
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return badInput("choose at least one environment")
	}
	tok, err := onceToken(c)
	if err != nil {
		return err
	}
	s := sessionOf(c)
	if s == nil {
		return errSignInFirst
	}
	if !s.UseOnceToken(tok) {
		for _, v := range s.Recent(bulkList) {
			if t, to, ok := strings.Cut(v, "="); ok && t == tok {
				return h.redirect(c, to)
			}
		}
		s.SetFlash("Those installs were already started. Reopen the bulk page from your browser history to follow them.")
		return h.redirect(c, pages.BulkNewURL(pkg))
	}
	rows := make([]pages.BulkRow, len(envs))
	actx, audit := h.beginAudit(c, "application.bulk_install", pkg+" -> "+strings.Join(envs, ","))
	g, ctx := errgroup.WithContext(actx)
	g.SetLimit(bulkConcurrency)
	for i, id := range envs {
		rows[i].EnvID = id
		g.Go(func() error {
			acc, err := h.api.InstallApplicationPackage(ctx, id, pkg)
			switch {
			case err != nil:
				rows[i].StartFailure = bulkStartFailure(err)
			case acc.OperationID == "":
				rows[i].StartFailure = "unknown"
			default:
				rows[i].OpID = acc.OperationID
			}
			return nil
		})
	}
	g.Wait()
	// Starts whose answer was lost are never resent: the environments'
	// packages are read back instead.
	h.reconcileBulk(c.Request().Context(), pkg, rows)
	audit(bulkOutcome(rows))
	to := pages.BulkURL(pkg, rows)
	s.Remember(bulkList, tok+"="+to, 10) // kept only when short enough
	h.logger(c).Info("bulk install started", "package", pkg, "environments", len(envs))
	return h.redirect(c, to)
}

// bulkStartFailure classifies why one install did not start.
func bulkStartFailure(err error) string {
	switch {
	case errors.Is(err, ppapi.ErrOutcomeUnknown):
		return "unknown"
	case errors.Is(err, ppapi.ErrConflict):
		return "conflict"
	case errors.Is(err, ppapi.ErrNotFound):
		return "notfound"
	case errors.Is(err, ppapi.ErrThrottled):
		return "throttled"
	case errors.Is(err, ppapi.ErrForbidden):
		return "forbidden"
	case errors.Is(err, ppapi.ErrBadRequest), errors.Is(err, ppapi.ErrInvalidID):
		return "refused"
	}
	return "unavailable"
}

// bulkOutcome is the bulk action's result for the audit record: nil when
// every install started; otherwise an error saying how many did not, which
// carries ErrOutcomeUnknown when any start's outcome is unknown. When
// every lost start was reconciled by a read, it says what the reads found
// (applied, not applied, or partly applied across the environments).
func bulkOutcome(rows []pages.BulkRow) error {
	failed, unknown, started, notStarted := 0, false, 0, 0
	for _, r := range rows {
		switch r.StartFailure {
		case "":
		case pages.BulkReconciledStarted:
			started++
		case pages.BulkReconciledNotStarted:
			notStarted++
			failed++
		default:
			failed++
			unknown = unknown || r.StartFailure == "unknown"
		}
	}
	switch {
	case unknown:
		return fmt.Errorf("%d of %d installs did not start: %w", failed, len(rows), ppapi.ErrOutcomeUnknown)
	case started+notStarted > 0:
		found := pages.ReconcilePartlyApplied
		switch {
		case notStarted == 0:
			found = pages.ReconcileApplied
		case started == 0:
			found = pages.ReconcileNotApplied
		}
		cause := fmt.Errorf("%d of %d installs did not start, %d started with the answer lost: %w", failed, len(rows), started, ppapi.ErrOutcomeUnknown)
		return &reconciledError{err: cause, found: found}
	case failed == 0:
		return nil
	}
	return fmt.Errorf("%d of %d installs did not start", failed, len(rows))
}
