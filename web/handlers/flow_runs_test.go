package handlers_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ppportal/internal/portaltest"
	"ppportal/web/views/paths"
)

const adminUPN = "admin@contoso.example"

// signedIn starts a portal and a browser signed in on the billing list.
func signedIn(t *testing.T) (*portaltest.Env, *portaltest.Browser) {
	t.Helper()
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	if r := b.SignIn("/billing/policies", adminUPN); r.StatusCode != http.StatusOK {
		t.Fatalf("SignIn = %s, want 200; body %.300s", r, r.Body)
	}
	env.Demo.Sim.ResetCalls()
	return env, b
}

func attr(s *goquery.Selection, name string) string {
	v, _ := s.Attr(name)
	return v
}

// runNames are the run ids of a runs page, in order.
func runNames(r *portaltest.Response) []string {
	var out []string
	r.Doc().Find("[data-testid=flow-run-row] td:last-child").Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Text()))
	})
	return out
}

func link(t *testing.T, r *portaltest.Response, testid string) string {
	t.Helper()
	href, ok := r.Doc().Find("[data-testid=" + testid + "]").Attr("href")
	if !ok {
		t.Fatalf("%s: no %s link", r, testid)
	}
	return href
}

func TestFlowRunsPagingForwardAndBack(t *testing.T) {
	env, b := signedIn(t)
	envID, wf := env.Demo.Sim.BusyWorkflow()

	p1 := b.Get(paths.FlowRuns(envID, wf))
	if p1.StatusCode != http.StatusOK {
		t.Fatalf("GET page 1 = %s, want 200; %.300s", p1, p1.Body)
	}
	doc := p1.Doc()
	if n := doc.Find("[data-testid=flow-runs-first], [data-testid=flow-runs-prev]").Length(); n != 0 {
		t.Errorf("page 1 has %d first/previous links, want 0", n)
	}
	first := runNames(p1)
	if len(first) != 100 {
		t.Fatalf("page 1 rows = %d, want 100", len(first))
	}

	// Forward: 263 runs in pages of 100.
	var pageURLs []string
	var pageRuns [][]string
	cur := p1
	for i, want := range []int{100, 63} {
		next := link(t, cur, "flow-runs-next")
		cur = b.Get(next)
		if cur.StatusCode != http.StatusOK {
			t.Fatalf("GET page %d (%s) = %d, want 200", i+2, next, cur.StatusCode)
		}
		names := runNames(cur)
		if len(names) != want {
			t.Errorf("page %d rows = %d, want %d", i+2, len(names), want)
		}
		if got := strings.TrimSpace(cur.Doc().Find("[data-testid=flow-runs-page]").Text()); got != "Page "+strconv.Itoa(i+2) {
			t.Errorf("page %d says %q", i+2, got)
		}
		if len(names) > 0 && len(first) > 0 && names[0] == first[0] {
			t.Errorf("page %d starts with page 1's first run %s", i+2, names[0])
		}
		pageURLs = append(pageURLs, next)
		pageRuns = append(pageRuns, names)
	}
	if n := cur.Doc().Find("[data-testid=flow-runs-next]").Length(); n != 0 {
		t.Errorf("page 3 has a next link, want none (263 runs)")
	}
	if n := cur.Doc().Find("[data-testid=flow-runs-last]").Length(); n != 1 {
		t.Errorf("page 3 does not say it is the last page")
	}

	// Back: previous from page 3 is page 2, the same runs.
	prev := link(t, cur, "flow-runs-prev")
	if prev != pageURLs[0] {
		t.Errorf("page 3 previous = %q, want page 2's URL %q", prev, pageURLs[0])
	}
	p2 := b.Get(prev)
	if got := runNames(p2); strings.Join(got, ",") != strings.Join(pageRuns[0], ",") {
		t.Errorf("page 2 again differs from page 2")
	}
	// Previous from page 2 is the first page; so is "First page" from 3.
	for _, from := range []*portaltest.Response{p2, cur} {
		id := "flow-runs-first"
		if from == p2 {
			id = "flow-runs-prev"
		}
		back := link(t, from, id)
		if back != paths.FlowRuns(envID, wf) {
			t.Errorf("%s link = %q, want %q", id, back, paths.FlowRuns(envID, wf))
		}
		r := b.Get(back)
		if got := runNames(r); len(got) == 0 || got[0] != first[0] {
			t.Errorf("first page again starts with %v, want %s", got[:min(1, len(got))], first[0])
		}
	}
	if n := env.Demo.Sim.Calls("listFlowRuns"); n != 6 {
		t.Errorf("listFlowRuns calls = %d, want 6 (one per page view)", n)
	}
}

func TestFlowRunsStatusFilter(t *testing.T) {
	env, b := signedIn(t)
	envID, wf := env.Demo.Sim.BusyWorkflow()

	all := b.Get(paths.FlowRuns(envID, wf)).Doc()
	wantFailed := all.Find("[data-testid=flow-run-row][data-status=Failed]").Length()
	if wantFailed == 0 {
		t.Fatalf("the busy workflow's first page has no Failed run")
	}
	r := b.Get(paths.FlowRuns(envID, wf) + "?status=Failed")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET ?status=Failed = %d, want 200", r.StatusCode)
	}
	doc := r.Doc()
	rows := doc.Find("[data-testid=flow-run-row]")
	if rows.Length() != wantFailed {
		t.Errorf("Failed rows = %d, want %d", rows.Length(), wantFailed)
	}
	rows.Each(func(_ int, s *goquery.Selection) {
		if got := strings.TrimSpace(s.Find("[data-testid=flow-run-status]").Text()); got != "Failed" {
			t.Errorf("row status text = %q, want Failed", got)
		}
		if cls := attr(s.Find("[data-testid=flow-run-status]"), "class"); !strings.Contains(cls, "bad") {
			t.Errorf("Failed badge class = %q, want the bad colour", cls)
		}
	})
	if got := attr(doc.Find("#flow-runs-status option[selected]"), "value"); got != "Failed" {
		t.Errorf("selected filter = %q, want Failed", got)
	}
	// The filter travels with paging.
	if next := link(t, r, "flow-runs-next"); !strings.Contains(next, "status=Failed") {
		t.Errorf("next link %q loses the filter", next)
	}
	// A page where nothing matches says so.
	r = b.Get(paths.FlowRuns(envID, wf) + "?status=Running")
	if n := r.Doc().Find("[data-testid=flow-run-row]").Length(); n != 1 {
		t.Errorf("Running rows on page 1 = %d, want 1", n)
	}
	r = b.Get(link(t, r, "flow-runs-next"))
	if n := r.Doc().Find("[data-testid=flow-runs-none-match]").Length(); n != 1 {
		t.Errorf("page 2 filtered by Running: no 'none match' notice")
	}

	env.Demo.Sim.ResetCalls()
	for _, q := range []string{"?status=Fa1led", "?page=0", "?page=2", "?cursor=abc", "?page=2&cursor=a%2Fb", "?page=3&cursor=abc&back=x&back=y"} {
		if r := b.Get(paths.FlowRuns(envID, wf) + q); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET runs%s = %d, want 400", q, r.StatusCode)
		}
	}
	if n := env.Demo.Sim.Calls("listFlowRuns"); n != 0 {
		t.Errorf("listFlowRuns calls after malformed queries = %d, want 0", n)
	}
}

func TestFlowRunsAutoRefreshOnlyWhileRunning(t *testing.T) {
	env, b := signedIn(t)
	envID, wf := env.Demo.Sim.BusyWorkflow()

	p1 := b.Get(paths.FlowRuns(envID, wf))
	table := p1.Doc().Find("#flow-runs-table")
	if got := attr(table, "hx-trigger"); !strings.HasPrefix(got, "every ") {
		t.Errorf("page 1 (Running and Waiting runs) hx-trigger = %q, want a polling trigger", got)
	}
	if got := attr(table, "hx-get"); got != paths.FlowRuns(envID, wf) {
		t.Errorf("page 1 polls %q, want %q", got, paths.FlowRuns(envID, wf))
	}

	// The poll itself answers the fragment alone, still polling.
	part := b.Get(paths.FlowRuns(envID, wf), "HX-Request", "true")
	if part.StatusCode != http.StatusOK || strings.Contains(part.Body, "<html") {
		t.Errorf("htmx poll = %d, fragment %v; want 200 and no page", part.StatusCode, !strings.Contains(part.Body, "<html"))
	}
	if vary := strings.Join(part.Header.Values("Vary"), ","); !strings.Contains(vary, "HX-Request") {
		t.Errorf("Vary = %q, want HX-Request", vary)
	}
	if got := attr(part.Doc().Find("#flow-runs-table"), "hx-trigger"); got == "" {
		t.Errorf("polled fragment lost its trigger while runs are open")
	}

	// Page 2 has only ended runs: no trigger.
	p2 := b.Get(link(t, p1, "flow-runs-next"))
	if _, ok := p2.Doc().Find("#flow-runs-table").Attr("hx-trigger"); ok {
		t.Errorf("page 2 (all runs ended) polls, want no trigger")
	}
	// Another workflow whose runs all ended: no trigger.
	other := env.Demo.Sim.Workflows(envID)[1]
	r := b.Get(paths.FlowRuns(envID, other))
	if r.StatusCode != http.StatusOK || r.Doc().Find("[data-testid=flow-run-row]").Length() == 0 {
		t.Fatalf("GET runs of %s = %d with no rows", other, r.StatusCode)
	}
	if _, ok := r.Doc().Find("#flow-runs-table").Attr("hx-trigger"); ok {
		t.Errorf("workflow without open runs polls, want no trigger")
	}
}

func TestFlowRunsNoRunsAndNoDataverse(t *testing.T) {
	env, b := signedIn(t)

	envID, wf := env.Demo.Sim.EmptyWorkflow()
	r := b.Get(paths.FlowRuns(envID, wf))
	if r.StatusCode != http.StatusOK || r.Doc().Find("[data-testid=flow-runs-empty]").Length() != 1 {
		t.Errorf("GET runs of the empty workflow = %d, empty notice %d; want 200 and the notice", r.StatusCode, r.Doc().Find("[data-testid=flow-runs-empty]").Length())
	}
	if n := r.Doc().Find("[data-testid=flow-run-row]").Length(); n != 0 {
		t.Errorf("empty workflow shows %d rows", n)
	}

	r = b.Get(paths.FlowRuns(env.Demo.Sim.NoDataverseEnvironmentID(), wf))
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("GET runs without Dataverse = %d, want 404", r.StatusCode)
	}
	if s := r.Doc().Find("[data-testid=no-dataverse]").Text(); !strings.Contains(s, "no Dataverse database") {
		t.Errorf("no-Dataverse page says %q, want an explanation", s)
	}

	// An environment that does not exist is an ordinary "not found".
	r = b.Get(paths.FlowRuns("0b9a6f4e-1111-4222-8333-944445555666", wf))
	if r.StatusCode != http.StatusNotFound || r.Doc().Find("[data-testid=no-dataverse]").Length() != 0 {
		t.Errorf("GET runs of an unknown environment = %d, want 404 without the Dataverse explanation", r.StatusCode)
	}

	env.Demo.Sim.ResetCalls()
	if r := b.Get("/environments/" + envID + "/flows/not-a-guid/runs"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("GET runs of a malformed workflow id = %d, want 400", r.StatusCode)
	}
	if n := env.Demo.Sim.Calls("listFlowRuns"); n != 0 {
		t.Errorf("listFlowRuns calls = %d, want 0", n)
	}
}

func TestFlowRunsEntryForm(t *testing.T) {
	env, b := signedIn(t)
	envID := env.Demo.Sim.MainEnvironmentID()
	entry := paths.Environment(envID) + "/flows"

	for _, typed := range []string{"not-a-guid", "0f8fad5b-d9cb-469f-a165-70867728950", " "} {
		r := b.Get(entry + "?workflowId=" + url.QueryEscape(typed))
		if r.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("entry(%q) = %d, want 422", typed, r.StatusCode)
			continue
		}
		doc := r.Doc()
		if doc.Find("#flow-runs-entry [data-testid=field-error-workflowId]").Length() != 1 {
			t.Errorf("entry(%q): no error next to the field", typed)
		}
		if got := attr(doc.Find("#flow-runs-workflow-id"), "value"); got != typed {
			t.Errorf("entry(%q) kept %q, want the input kept", typed, got)
		}
		if got := attr(doc.Find("#flow-runs-workflow-id"), "aria-invalid"); got != "true" {
			t.Errorf("entry(%q) aria-invalid = %q, want true", typed, got)
		}
	}
	// htmx gets the form fragment alone.
	r := b.Get(entry+"?workflowId=nope", "HX-Request", "true")
	if r.StatusCode != http.StatusUnprocessableEntity || strings.Contains(r.Body, "<html") || r.Doc().Find("#flow-runs-entry").Length() != 1 {
		t.Errorf("htmx entry(nope) = %d, want 422 with the #flow-runs-entry fragment only", r.StatusCode)
	}
	if n := env.Demo.Sim.Calls(""); n != 0 {
		t.Errorf("upstream calls for invalid workflow ids = %d, want 0", n)
	}

	wf1, wf2 := env.Demo.Sim.Workflows(envID)[0], env.Demo.Sim.Workflows(envID)[1]
	r = b.Get(entry + "?workflowId=" + url.QueryEscape("{"+strings.ToUpper(wf1)+"}"))
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != paths.FlowRuns(envID, wf1) {
		t.Errorf("entry(valid) = %d Location %q, want 303 to %q", r.StatusCode, r.Header.Get("Location"), paths.FlowRuns(envID, wf1))
	}
	r = b.Get(entry+"?workflowId="+wf2, "HX-Request", "true")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("HX-Redirect") != paths.FlowRuns(envID, wf2) {
		t.Errorf("htmx entry(valid) = %d HX-Redirect %q, want 204 to the runs", r.StatusCode, r.Header.Get("HX-Redirect"))
	}

	// Opening runs remembers them, newest first, per environment.
	b.Get(paths.FlowRuns(envID, wf1))
	b.Get(paths.FlowRuns(envID, wf2))
	r = b.Get(entry)
	var recent []string
	r.Doc().Find("[data-testid=recent-workflow]").Each(func(_ int, s *goquery.Selection) {
		recent = append(recent, strings.TrimSpace(s.Text()))
	})
	if strings.Join(recent, ",") != wf2+","+wf1 {
		t.Errorf("recent workflows = %v, want [%s %s]", recent, wf2, wf1)
	}
	other := b.Get(paths.Environment(env.Demo.Sim.DefaultEnvironmentID()) + "/flows")
	if n := other.Doc().Find("[data-testid=recent-workflow]").Length(); n != 0 {
		t.Errorf("another environment lists %d recent workflows, want 0", n)
	}
}

func TestFlowRunsNoDataverseFragment(t *testing.T) {
	env, b := signedIn(t)
	_, wf := env.Demo.Sim.EmptyWorkflow()
	r := b.Get(paths.FlowRuns(env.Demo.Sim.NoDataverseEnvironmentID(), wf), "HX-Request", "true")
	if r.StatusCode != http.StatusNotFound || strings.Contains(r.Body, "<html") || r.Doc().Find("#flow-runs-table [data-testid=no-dataverse]").Length() != 1 {
		t.Errorf("htmx runs without Dataverse = %d, want 404 with the explanation in the fragment", r.StatusCode)
	}
}
