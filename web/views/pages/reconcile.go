package pages

// ReconcileOutcome is what reading a resource back found after a mutation
// whose answer was lost (ppapi.ErrOutcomeUnknown).
type ReconcileOutcome string

// Reconcile outcomes, as they appear in data-outcome.
const (
	ReconcileApplied       ReconcileOutcome = "applied"
	ReconcileNotApplied    ReconcileOutcome = "not-applied"
	ReconcilePartlyApplied ReconcileOutcome = "partly-applied"
)

// ReconcileVM is the page (or the notice on a form) that says a connection
// broke after a mutation was sent and what the portal found when it read
// the resource back. The request was never sent again.
type ReconcileVM struct {
	// Title is the document title, most specific first.
	Title string
	// Heading is the page's h1 ("Install started").
	Heading string
	// Outcome is what the read found.
	Outcome ReconcileOutcome
	// What names the request that was sent ("The install of X in Y").
	What string
	// Found is what reading back showed, in plain words.
	Found string
	// Next says what the admin can do now.
	Next string
	// LinkLabel and LinkHref are an optional link onward.
	LinkLabel, LinkHref string
}

// Reconciled start failures of a bulk install: the start's answer was lost
// and the environment's packages were read back. They extend
// BulkStartFailures (bulk.go) so bulk URLs carrying them parse and render.
const (
	BulkReconciledStarted    = "reconciled-started"
	BulkReconciledNotStarted = "reconciled-notstarted"
)

// reconcileClass colours the notice: a change that took effect is good
// news; anything else asks for attention.
func reconcileClass(o ReconcileOutcome) string {
	if o == ReconcileApplied {
		return "ok"
	}
	return "warn"
}
