package pages

import (
	"net/url"
	"strconv"
	"strings"
)

// MaxBulk is how many environments one bulk install may cover: its state
// lives in its URL, one parameter per environment.
const MaxBulk = 50

// BulkNewURL is the bulk install form with a package chosen.
func BulkNewURL(pkg string) string {
	if pkg == "" {
		return "/bulk/installs/new"
	}
	return "/bulk/installs/new?pkg=" + url.QueryEscape(pkg)
}

// BulkStartFailures are the reasons an install could not be started,
// as they appear in a bulk URL's failed= values.
var BulkStartFailures = map[string]string{
	"conflict":    "Not started: another operation is running in this environment.",
	"notfound":    "Not started: the environment, its Dataverse database or the package was not found.",
	"throttled":   "Not started: Power Platform was throttling requests. Try this environment again later.",
	"refused":     "Not started: Power Platform refused the request.",
	"forbidden":   "Not started: your account may not install packages in this environment.",
	"unavailable": "Not started: Power Platform did not answer.",
	"unknown":     "Unknown: the connection broke after the request was sent; open the environment's applications to see whether it started.",
	// Reconciled by reading the environment's packages after the answer was
	// lost (reconcile.go).
	BulkReconciledStarted:    "Started: the connection broke before Power Platform answered, but the environment's packages show this install under way or done. Follow it on the environment's applications page.",
	BulkReconciledNotStarted: "Not started: the connection broke before Power Platform answered, and the environment's packages do not show this install. It was not sent again; start it again for this environment.",
}

// BulkRow is one environment of a bulk install: either an operation to
// follow or the reason it never started.
type BulkRow struct {
	EnvID, EnvName string
	// OpID is the install operation; "" when the start failed.
	OpID string
	// StartFailure is a key of BulkStartFailures.
	StartFailure string
	// Op is the operation's state as last read.
	Op OperationVM
	// ReadError says why the status could not be read this time.
	ReadError string
}

// Terminal reports whether the row will not change any more.
func (r BulkRow) Terminal() bool {
	return r.OpID == "" || r.Op.Terminal() || r.ReadError == "gone"
}

// Outcome is the row's one-word result for the summary.
func (r BulkRow) Outcome() string {
	switch {
	case r.StartFailure == BulkReconciledStarted:
		return "Started"
	case r.OpID == "":
		return "NotStarted"
	case r.ReadError == "gone":
		return "Unknown"
	case r.Op.Status != "":
		return r.Op.Status
	}
	return "NotStarted"
}

// BulkVM is a bulk install's progress page. Everything in it comes from
// the URL (package and operation ids) and the API (statuses).
type BulkVM struct {
	Package string
	Rows    []BulkRow
	// Every is the poll interval in seconds.
	Every int
}

// URL is the bulk install's canonical URL.
func (vm BulkVM) URL() string {
	u := BulkURL(vm.Package, vm.Rows)
	if vm.Every > 0 {
		u += "&every=" + strconv.Itoa(vm.Every)
	}
	return u
}

// BulkURL writes a bulk install's state as a URL.
func BulkURL(pkg string, rows []BulkRow) string {
	var b strings.Builder
	b.WriteString("/bulk/installs?pkg=")
	b.WriteString(url.QueryEscape(pkg))
	for _, r := range rows {
		if r.OpID != "" {
			b.WriteString("&op=" + url.QueryEscape(r.EnvID+":"+r.OpID))
		} else {
			b.WriteString("&failed=" + url.QueryEscape(r.EnvID+":"+r.StartFailure))
		}
	}
	return b.String()
}

// Done reports whether every row is terminal.
func (vm BulkVM) Done() bool {
	for _, r := range vm.Rows {
		if !r.Terminal() {
			return false
		}
	}
	return true
}

// Counts tallies the rows' outcomes, in a fixed order.
func (vm BulkVM) Counts() []Count {
	order := []string{"Succeeded", "Failed", "Cancelled", "Canceled", "Running", "NotStarted", "Unknown"}
	m := map[string]int{}
	for _, r := range vm.Rows {
		m[r.Outcome()]++
	}
	var out []Count
	for _, k := range order {
		if m[k] > 0 {
			out = append(out, Count{Label: k, N: m[k]})
			delete(m, k)
		}
	}
	for _, k := range sortedKeys(boolKeys(m)) {
		out = append(out, Count{Label: k, N: m[k]})
	}
	return out
}

func boolKeys(m map[string]int) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// Finished is how many rows are terminal.
func (vm BulkVM) Finished() int {
	n := 0
	for _, r := range vm.Rows {
		if r.Terminal() {
			n++
		}
	}
	return n
}

// PollTrigger is the status region's hx-trigger.
func (vm BulkVM) PollTrigger() string { return pollTrigger(vm.Every) }

// Title is the document title, most specific first.
func (vm BulkVM) Title() string {
	return "Install " + vm.Package + " in " + strconv.Itoa(len(vm.Rows)) + " environments · Bulk install"
}

// BulkNewVM is the form that starts a bulk install.
type BulkNewVM struct {
	Package  string
	Packages []PackageRow
	Envs     []BulkChoice
	// Filter is the overview filter the candidates came from.
	Filter EnvironmentFilter
	// More is how many further matching environments were not listed.
	More       int
	CSRF, Once string
	Error      string
}

// BulkChoice is one candidate environment.
type BulkChoice struct {
	ID, Name, SKU, Region string
	Checked               bool
}
