package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"ppportal/ppapi/simulator"
)

// mainEnvironment is the demo environment that holds the busy workflow
// (the simulator's MainEnvironmentID).
const mainEnvironment = "Contoso Sales (Prod)"

// openEnvironment opens the named environment from the overview, which
// the tab must show, and returns its id.
func (j *journey) openEnvironment(name string) string {
	j.t.Helper()
	j.waitVisible(`[data-testid=environment-row]`)
	j.clickSearch(fmt.Sprintf(`//tr[@data-testid="environment-row"]//a[normalize-space()=%q]`, name))
	j.waitVisible(`[data-testid=environment-name]`)
	if got := j.text(`[data-testid=environment-name]`); got != name {
		j.t.Fatalf("%s: environment page h1 = %q, want %q", j.name, got, name)
	}
	return j.text(`[data-testid=prop-id]`)
}

// demoSimulator rebuilds the demo's seeded tenant from the seed the suite
// starts the portal with and the tenant id the portal shows, to learn ids
// a user would copy from elsewhere (a workflow id from Power Automate).
// The simulator's tenant is a pure function of both.
func (j *journey) demoSimulator() *simulator.Simulator {
	j.t.Helper()
	tenant := eval[string](j, `document.querySelector('.who .mono').textContent.trim()`)
	return simulator.New(simulator.Options{Seed: demoSeed, TenantID: tenant})
}

// Journey 6: open the runs of a workflow by its id (first mistyped), page
// forward and back, and filter by status.
func TestJourney6FlowRuns(t *testing.T) {
	j := newJourney(t, "j6-flowruns")
	j.signedInAs(adminUPN)
	envID := j.openEnvironment(mainEnvironment)
	sim := j.demoSimulator()
	if want := sim.MainEnvironmentID(); !strings.EqualFold(envID, want) {
		t.Fatalf("id of %q = %s, want the simulator's main environment %s (is the demo seeded with %d?)", mainEnvironment, envID, want, demoSeed)
	}
	_, workflow := sim.BusyWorkflow()
	j.check("environment")

	// The form that takes a workflow id, on its own page.
	entry := "/environments/" + envID + "/flows"
	// The mistyped id is answered 422: the browser logs the status, and
	// htmx logs the error response it swaps in.
	j.allow(env.base+entry, "status of 422")
	j.allow("", "Response Status Error Code 422 from "+entry)
	j.open(entry)
	j.waitVisible(`#flow-runs-workflow-id`)
	j.check("open flow runs")
	j.do("mistype the workflow id", sendKeys(`#flow-runs-workflow-id`, "not-a-workflow"), chromedp.Click(chromedp.CSS(`[data-testid=flow-runs-open]`)))
	j.waitVisible(`[data-testid=field-error-workflowId]`)
	if got := eval[string](j, `document.querySelector('#flow-runs-workflow-id').value`); got != "not-a-workflow" {
		t.Errorf("workflow id kept after the error = %q, want %q", got, "not-a-workflow")
	}
	j.check("open flow runs with an error")

	j.do("type the workflow id", clearInput(`#flow-runs-workflow-id`), sendKeys(`#flow-runs-workflow-id`, workflow))
	j.click(`[data-testid=flow-runs-open]`)
	runs := fmt.Sprintf("/environments/%s/flows/%s/runs", envID, workflow)
	j.waitURL(runs)
	j.waitVisible(`[data-testid=flow-run-row]`)
	if got := j.text(`[data-testid=flow-runs-page]`); got != "Page 1" {
		t.Errorf("runs page label = %q, want %q", got, "Page 1")
	}
	first := j.firstRun()
	j.check("flow runs page 1")

	// Forward twice, back once, then to the first page: each is a link.
	j.click(`[data-testid=flow-runs-next]`)
	j.waitText(`[data-testid=flow-runs-page]`, "Page 2")
	second := j.firstRun()
	if second == first {
		t.Errorf("first run on page 2 = %q, the same as on page 1", second)
	}
	j.check("flow runs page 2")
	j.click(`[data-testid=flow-runs-next]`)
	j.waitText(`[data-testid=flow-runs-page]`, "Page 3")
	j.check("flow runs page 3")
	j.click(`[data-testid=flow-runs-prev]`)
	j.waitText(`[data-testid=flow-runs-page]`, "Page 2")
	if got := j.firstRun(); got != second {
		t.Errorf("first run on page 2 after going back = %q, want %q", got, second)
	}
	j.assertClean("on flow runs page 2 again")
	j.click(`[data-testid=flow-runs-first]`)
	j.waitText(`[data-testid=flow-runs-page]`, "Page 1")
	if got := j.firstRun(); got != first {
		t.Errorf("first run after First page = %q, want %q", got, first)
	}

	// Filter by status: htmx swaps the table and puts the filter in the
	// address bar.
	j.do("choose Failed", chooseOption(`[data-testid=flow-runs-status-filter]`, "Failed"))
	j.do("wait for the filtered table", waitJS(`new URL(location.href).searchParams.get("status") === "Failed" &&
		document.querySelectorAll('[data-testid=flow-run-row]').length > 0 &&
		[...document.querySelectorAll('[data-testid=flow-run-row]')].every(r => r.dataset.status === "Failed")`))
	if got := j.queryOf().Get("status"); got != "Failed" {
		t.Errorf("status in the address bar = %q, want Failed", got)
	}
	j.check("flow runs filtered")
}

// firstRun returns the run name (the last cell) of the first row.
func (j *journey) firstRun() string {
	j.t.Helper()
	return j.text(`[data-testid=flow-run-row] td:last-child`)
}

// Journey 7: create a billing policy (first with validation errors, then
// valid), open its shared link in a fresh browser context after signing
// in, edit it, delete it.
func TestJourney7BillingPolicy(t *testing.T) {
	j := newJourney(t, "j7-billing")
	j.signedInAs(adminUPN)
	j.click(`nav.main a[href="/billing/policies"]`)
	j.waitURL("/billing/policies")
	j.waitVisible(`[data-testid=billing-policies-table]`)
	j.check("billing policies")

	j.click(`[data-testid=billing-new]`)
	j.waitURL("/billing/policies/new")
	j.check("new billing policy")

	// Invalid: no name, a subscription id that is not a GUID. The form
	// comes back 422, which the browser logs.
	j.allow(env.base+"/billing/policies", "status of 422")
	j.do("fill the form with errors", sendKeys(`#billing-subscription`, "not-a-guid"), sendKeys(`#billing-resource-group`, "rg-e2e"))
	j.click(`[data-testid=billing-form-submit]`)
	j.waitVisible(`[data-testid=form-errors]`)
	for _, f := range []string{"name", "subscriptionId"} {
		if n := j.count(`[data-testid=field-error-` + f + `]`); n != 1 {
			t.Errorf("error messages next to %s = %d, want 1", f, n)
		}
	}
	if got := eval[string](j, `document.querySelector('#billing-subscription').value`); got != "not-a-guid" {
		t.Errorf("subscription id kept after the error = %q, want %q", got, "not-a-guid")
	}
	j.check("billing policy form with errors")

	// Valid.
	const name, renamed = "E2E Contoso PAYG", "E2E Contoso PAYG (renamed)"
	j.do("fix the form",
		sendKeys(`#billing-name`, name),
		clearInput(`#billing-subscription`),
		sendKeys(`#billing-subscription`, "8d3c1f0e-2b4a-4c5d-9e6f-7a8b9c0d1e2f"),
		chooseFirstOption(`#billing-location`))
	j.click(`[data-testid=billing-form-submit]`)
	j.waitVisible(`[data-testid=billing-policy-name]`)
	policy := j.path()
	if !strings.HasPrefix(policy, "/billing/policies/") || j.text(`[data-testid=billing-policy-name]`) != name {
		t.Fatalf("after create: at %s showing %q, want the page of %q", policy, j.text(`[data-testid=billing-policy-name]`), name)
	}
	if n := j.count(`[data-testid=flash]`); n != 1 {
		t.Errorf("notices after create = %d, want 1", n)
	}
	// A new policy may be Provisioning: the status region refreshes itself
	// until it settles, without a reload.
	j.do("wait for the status to settle", waitJS(`document.querySelector('[data-testid=billing-policy-status-region]').dataset.refresh === "false"`))
	j.check("billing policy")

	// The shared link, in a browser with no session.
	k := newJourney(t, "j7-shared")
	k.open(policy)
	if !k.onPicker() {
		t.Fatalf("shared link %s in a fresh browser: location = %s, want the account picker", policy, k.location())
	}
	k.signIn(adminUPN, policy)
	if got := k.text(`[data-testid=billing-policy-name]`); got != name {
		t.Errorf("shared link %s shows %q, want %q", policy, got, name)
	}
	k.check("shared billing policy")

	// Edit.
	j.click(`[data-testid=billing-policy-edit]`)
	j.waitURL(policy + "/edit")
	j.check("edit billing policy")
	j.do("rename", clearInput(`#billing-name`), sendKeys(`#billing-name`, renamed))
	j.click(`[data-testid=billing-form-submit]`)
	j.waitURL(policy)
	if got := j.text(`[data-testid=billing-policy-name]`); got != renamed {
		t.Errorf("name after edit = %q, want %q", got, renamed)
	}
	j.check("billing policy after edit")

	// Delete.
	j.click(`[data-testid=billing-policy-delete]`)
	j.waitURL(policy + "/delete")
	j.check("delete billing policy")
	j.click(`[data-testid=billing-delete-confirm]`)
	j.waitURL("/billing/policies")
	if n := j.count(`[data-testid=flash]`); n != 1 {
		t.Errorf("notices after delete = %d, want 1", n)
	}
	names := eval[[]string](j, `[...document.querySelectorAll('[data-testid=billing-policy-link]')].map(a => a.textContent.trim())`)
	for _, n := range names {
		if n == renamed {
			t.Errorf("policies after delete = %q, want no %q", names, renamed)
		}
	}
	j.check("billing policies after delete")
}
