package handlers_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/ppapi/simulator"
	"ppportal/web/views/paths"
)

// Reconciliation by a read (issue 8 point 1): a mutation whose answer was
// lost is never resent; the portal reads the resource back and says what it
// found. The fault suite covers every scenario; these tests cover what it
// does not: resubmitting, the audit result, a read-back that fails, and
// bulk installs.

// reconcileEnv is a signed-in portal whose JSON logs are captured.
func reconcileEnv(t *testing.T) (*portaltest.Env, *portaltest.Browser, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	env := portaltest.Start(t, portaltest.Options{Settings: func(s *portal.Settings) {
		s.Log = slog.New(slog.NewJSONHandler(logs, nil))
	}})
	b := env.NewBrowser(t)
	if r := b.SignIn("/environments", envAdmin); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %s", r)
	}
	return env, b, logs
}

// auditResults are the results of action's audit records, in order.
func auditResults(t *testing.T, logs *syncBuffer, action string) []string {
	t.Helper()
	var out []string
	for _, rec := range auditRecords(t, logs.String()) {
		if rec["action"] == action {
			s, _ := rec["result"].(string)
			out = append(out, s)
		}
	}
	return out
}

// auditResultOf is the result of the only audit record of action.
func auditResultOf(t *testing.T, logs *syncBuffer, action string) string {
	t.Helper()
	got := auditResults(t, logs, action)
	if len(got) != 1 {
		t.Fatalf("audit records of %s = %q, want exactly 1", action, got)
	}
	return got[0]
}

// formValues reads every input of the form matching sel.
func formValues(doc *goquery.Document, sel string) url.Values {
	v := url.Values{}
	doc.Find(sel + " input").Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		val, _ := s.Attr("value")
		v.Set(n, val)
	})
	return v
}

func countNamed(names []string, name string) int {
	n := 0
	for _, s := range names {
		if s == name {
			n++
		}
	}
	return n
}

func TestReconcileCreateNotCreatedThenResubmit(t *testing.T) {
	env, b, logs := reconcileEnv(t)
	sim := env.Demo.Sim
	form := newForm(t, b)
	sim.SetFault("createBillingPolicy", simulator.Fault{Kind: simulator.FaultReset, Count: 1})
	sim.ResetCalls()

	r := b.Post(paths.BillingPolicies, form)
	if r.StatusCode != http.StatusBadGateway {
		t.Fatalf("POST create with the answer lost before it was processed = %s, want 502", r)
	}
	notice := r.Doc().Find("[data-testid=form-notice]").Text()
	if !strings.Contains(notice, "connection to Power Platform broke") || !strings.Contains(notice, "it was not created; submit again") {
		t.Errorf("form notice = %q, want the broken connection and \"it was not created; submit again\"", notice)
	}
	if got := r.Doc().Find("[data-testid=billing-policy-form] input[name=name]").AttrOr("value", ""); got != "Fabrikam PAYG" {
		t.Errorf("name kept in the form = %q, want Fabrikam PAYG", got)
	}
	again := formValues(r.Doc(), "form[data-testid=billing-policy-form]")
	if again.Get("once") == "" || again.Get("once") == form.Get("once") {
		t.Errorf("one-time token after the lost create = %q (was %q), want a fresh one", again.Get("once"), form.Get("once"))
	}
	if n := sim.Calls("createBillingPolicy"); n != 1 {
		t.Errorf("creates sent = %d, want 1 (never resent)", n)
	}
	if got := auditResultOf(t, logs, "billing_policy.create"); got != "outcome_unknown, reconciled: not applied" {
		t.Errorf("audit result = %q, want outcome_unknown, reconciled: not applied", got)
	}

	// Submitting the form as it came back creates the policy once.
	again.Set("status", form.Get("status"))
	again.Set("location", form.Get("location"))
	r = b.Post(paths.BillingPolicies, again)
	if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, paths.BillingPolicies+"/") {
		t.Fatalf("resubmit = %s Location %q, want 303 to the new policy", r, loc)
	}
	if n := countNamed(policyNames(b.Get(paths.BillingPolicies)), "Fabrikam PAYG"); n != 1 {
		t.Errorf("policies named Fabrikam PAYG after the resubmit = %d, want 1", n)
	}
}

func TestReconcileCreateFoundGoesToThePolicy(t *testing.T) {
	env, b, logs := reconcileEnv(t)
	sim := env.Demo.Sim
	form := newForm(t, b)
	sim.SetFault("createBillingPolicy", simulator.Fault{Kind: simulator.FaultResetAfterRequest, Count: 1})
	sim.ResetCalls()

	r := b.Post(paths.BillingPolicies, form)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, paths.BillingPolicies+"/") {
		t.Fatalf("POST create with the answer lost after it was processed = %s Location %q, want 303 to the policy", r, loc)
	}
	if flash := b.Get(loc).Doc().Find("[data-testid=flash]").Text(); !strings.Contains(flash, "the policy was created") {
		t.Errorf("flash = %q, want it to say the policy was created", flash)
	}
	if want := paths.BillingPolicies + "/" + policyID(t, b, "Fabrikam PAYG"); loc != want {
		t.Errorf("Location = %q, want the created policy %q", loc, want)
	}
	if got := auditResultOf(t, logs, "billing_policy.create"); got != "outcome_unknown, reconciled: applied" {
		t.Errorf("audit result = %q, want outcome_unknown, reconciled: applied", got)
	}
	// A second submit of the same form lands on that policy, creating nothing.
	if r := b.Post(paths.BillingPolicies, form); r.Header.Get("Location") != loc {
		t.Errorf("repeat submit = %s Location %q, want %q", r, r.Header.Get("Location"), loc)
	}
	if n := sim.Calls("createBillingPolicy"); n != 1 {
		t.Errorf("creates sent = %d, want 1", n)
	}
}

func TestReconcileReadFailsShowsOutcomeUnknown(t *testing.T) {
	env, b, logs := reconcileEnv(t)
	sim := env.Demo.Sim
	form := newForm(t, b)
	sim.SetFault("createBillingPolicy", simulator.Fault{Kind: simulator.FaultResetAfterRequest, Count: 1})
	sim.SetFault("listBillingPolicies", simulator.Fault{Status: http.StatusServiceUnavailable})
	sim.ResetCalls()

	r := b.Post(paths.BillingPolicies, form)
	sim.ClearFaults()
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(r.Body, "Outcome unknown") {
		t.Errorf("POST create with the answer lost and the read-back failing = %s, want 502 Outcome unknown", r)
	}
	if n := sim.Calls("createBillingPolicy"); n != 1 {
		t.Errorf("creates sent = %d, want 1", n)
	}
	if n := sim.Calls("listBillingPolicies"); n == 0 {
		t.Errorf("reconciling reads = 0, want at least 1")
	}
	if got := auditResultOf(t, logs, "billing_policy.create"); got != "outcome_unknown" {
		t.Errorf("audit result = %q, want outcome_unknown", got)
	}
}

func TestReconcileUpdateNotApplied(t *testing.T) {
	env, b, logs := reconcileEnv(t)
	sim := env.Demo.Sim
	id := policyID(t, b, "Contoso PAYG")
	edit := editForm(t, b, id)
	edit.Set("name", "Contoso PAYG renamed")
	sim.SetFault("updateBillingPolicy", simulator.Fault{Kind: simulator.FaultMalformedJSON, Count: 1})

	r := b.Post(paths.BillingPolicyEdit(id), edit)
	if r.StatusCode != http.StatusBadGateway {
		t.Fatalf("POST update with an unreadable answer = %s, want 502", r)
	}
	if notice := r.Doc().Find("[data-testid=form-notice]").Text(); !strings.Contains(notice, "the update was not applied") {
		t.Errorf("form notice = %q, want \"the update was not applied\"", notice)
	}
	if got := auditResultOf(t, logs, "billing_policy.update"); got != "outcome_unknown, reconciled: not applied" {
		t.Errorf("audit result = %q, want outcome_unknown, reconciled: not applied", got)
	}
	// The form as it came back applies the change.
	again := formValues(r.Doc(), "form[data-testid=billing-policy-form]")
	again.Set("status", edit.Get("status"))
	if r := b.Post(paths.BillingPolicyEdit(id), again); r.StatusCode != http.StatusSeeOther {
		t.Errorf("resubmit = %s, want 303", r)
	}
	if n := countNamed(policyNames(b.Get(paths.BillingPolicies)), "Contoso PAYG renamed"); n != 1 {
		t.Errorf("policies named Contoso PAYG renamed = %d, want 1", n)
	}
}

func TestReconcileDelete(t *testing.T) {
	env, b, logs := reconcileEnv(t)
	sim := env.Demo.Sim

	// Not processed: the form comes back, and says so.
	e := envByName(t, env, "Innovation Lab")
	sim.SetFault("deleteEnvironment", simulator.Fault{Kind: simulator.FaultReset, Count: 1})
	r := b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {b.CSRF()}, "confirm": {"Innovation Lab"}})
	if r.StatusCode != http.StatusBadGateway {
		t.Fatalf("POST delete, reset before processing = %s, want 502", r)
	}
	doc := r.Doc()
	if got := doc.Find("[data-testid=reconcile-notice]").AttrOr("data-outcome", ""); got != "not-applied" {
		t.Errorf("reconcile notice outcome = %q, want not-applied", got)
	}
	if got := doc.Find("[data-testid=reconcile-found]").Text(); !strings.Contains(got, "still there and is not being deleted") {
		t.Errorf("found = %q, want the environment still there", got)
	}
	if doc.Find("form[data-testid=delete-form]").Length() != 1 {
		t.Errorf("the confirmation form is not shown again")
	}
	if got := auditResultOf(t, logs, "environment.delete"); got != "outcome_unknown, reconciled: not applied" {
		t.Errorf("audit result = %q, want outcome_unknown, reconciled: not applied", got)
	}

	// Trying again from that form, with the answer lost after processing:
	// on to the deletion page.
	sim.SetFault("deleteEnvironment", simulator.Fault{Kind: simulator.FaultResetAfterRequest, Count: 1})
	again := formValues(doc, "form[data-testid=delete-form]")
	again.Set("confirm", "Innovation Lab")
	sim.ResetCalls()
	r = b.Post("/environments/"+e.Name+"/delete", again)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasSuffix(loc, "/deletion") {
		t.Fatalf("POST delete, reset after processing = %s Location %q, want 303 to the deletion page", r, loc)
	}
	if flash := b.Get(loc).Doc().Find("[data-testid=flash]").Text(); !strings.Contains(flash, "the delete went through") {
		t.Errorf("flash = %q, want \"the delete went through\"", flash)
	}
	if n := sim.Calls("deleteEnvironment"); n != 1 {
		t.Errorf("deletes sent = %d, want 1", n)
	}
}

func TestReconcileInstall(t *testing.T) {
	env, b, logs := reconcileEnv(t)
	sim := env.Demo.Sim
	target := sim.MainEnvironmentID()

	pkg := notInstalled(t, b, target, "")
	action, vals := installForm(t, b, target, pkg)
	sim.SetFault("installApplicationPackage", simulator.Fault{Kind: simulator.FaultReset, Count: 1})
	r := b.Post(action, vals)
	if r.StatusCode != http.StatusBadGateway || r.Doc().Find("[data-testid=reconcile-notice]").AttrOr("data-outcome", "") != "not-applied" {
		t.Fatalf("POST install, reset before processing = %s, want 502 not-applied", r)
	}
	if href := r.Doc().Find("[data-testid=reconcile-link]").AttrOr("href", ""); href != paths.EnvironmentApplications(target) {
		t.Errorf("link onward = %q, want %q", href, paths.EnvironmentApplications(target))
	}

	action, vals = installForm(t, b, target, pkg)
	sim.SetFault("installApplicationPackage", simulator.Fault{Kind: simulator.FaultTruncate, Count: 1})
	sim.ResetCalls()
	r = b.Post(action, vals)
	if r.StatusCode != http.StatusAccepted || r.Doc().Find("[data-testid=reconcile-notice]").AttrOr("data-outcome", "") != "applied" {
		t.Fatalf("POST install, answer cut short after processing = %s, want 202 applied", r)
	}
	if !strings.Contains(r.Body, "The install was started") {
		t.Errorf("page lacks \"The install was started\": %s", pageHeading(r.Body))
	}
	if n := sim.Calls("installApplicationPackage"); n != 1 {
		t.Errorf("installs sent = %d, want 1", n)
	}
	want := []string{"outcome_unknown, reconciled: not applied", "outcome_unknown, reconciled: applied"}
	if got := auditResults(t, logs, "application.install"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("install audit results = %q, want %q", got, want)
	}
}

func TestReconcileBulkInstall(t *testing.T) {
	env, b, logs := reconcileEnv(t)
	sim := env.Demo.Sim
	ids := []string{envByName(t, env, "Contoso HR (Prod)").Name, envByName(t, env, "Contoso Sales (Test)").Name}
	start := func(pkg string) string {
		t.Helper()
		r := b.Get("/bulk/installs/new?pkg=" + pkg + "&env=" + ids[0] + "&env=" + ids[1])
		once := envAttr(r, "[data-testid=bulk-form] input[name=once]", "value")
		r = b.Post("/bulk/installs", url.Values{"csrf": {b.CSRF()}, "once": {once}, "pkg": {pkg}, "env": ids})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST bulk = %s, want 303", r)
		}
		return r.Header.Get("Location")
	}

	// Processed, answers lost: both started.
	sim.SetFault("installApplicationPackage", simulator.Fault{Kind: simulator.FaultResetAfterRequest})
	loc := start("CreatorKitCore")
	for _, id := range ids {
		if w := "failed=" + url.QueryEscape(id+":reconciled-started"); !strings.Contains(loc, w) {
			t.Errorf("bulk URL %q lacks %q", loc, w)
		}
	}
	page := b.Get(loc)
	envWant200(t, page)
	if !strings.Contains(page.Body, "show this install under way or done") {
		t.Errorf("bulk page does not explain the reconciled rows")
	}

	// Not processed, answers lost: neither started; then with the
	// read-back failing too, the rows stay unknown.
	sim.ClearFaults()
	pkg := notInstalledInBoth(t, b, ids, "CreatorKitCore")
	sim.SetFault("installApplicationPackage", simulator.Fault{Kind: simulator.FaultReset})
	if loc := start(pkg); strings.Count(loc, "reconciled-notstarted") != 2 {
		t.Errorf("bulk URL %q, want both rows reconciled-notstarted", loc)
	}
	sim.SetFault("getEnvironmentApplicationPackages", simulator.Fault{Status: http.StatusServiceUnavailable})
	if loc := start(pkg); strings.Count(loc, "%3Aunknown") != 2 {
		t.Errorf("bulk URL %q, want both rows unknown when the read-back fails", loc)
	}
	sim.ClearFaults()

	want := []string{"outcome_unknown, reconciled: applied", "outcome_unknown, reconciled: not applied", "outcome_unknown"}
	if got := auditResults(t, logs, "application.bulk_install"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("bulk audit results = %q, want %q", got, want)
	}
}

// notInstalledInBoth finds a package, other than skip, that none of the
// environments has.
func notInstalledInBoth(t *testing.T, b *portaltest.Browser, ids []string, skip string) string {
	t.Helper()
	missing := map[string]int{}
	var order []string
	for _, id := range ids {
		r := b.Get("/environments/" + id + "/applications")
		envWant200(t, r)
		for _, row := range r.Doc().Find("[data-testid=package-row]").EachIter() {
			p, _ := row.Attr("data-package")
			st, _ := row.Attr("data-state")
			if p != skip && (st == "NotInstalled" || st == "None") {
				if missing[p] == 0 {
					order = append(order, p)
				}
				missing[p]++
			}
		}
	}
	for _, p := range order {
		if missing[p] == len(ids) {
			return p
		}
	}
	t.Fatalf("no package is missing from all of %v", ids)
	return ""
}
