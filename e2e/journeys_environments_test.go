package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Journey 2: change filters and sort on the overview; the address bar
// follows; a reload keeps them; the CSV link downloads the filtered rows.
func TestJourney2FilterSortExport(t *testing.T) {
	j := newJourney(t, "j2-filters")
	j.signedInAs(adminUPN)
	j.waitVisible(`[data-testid=environment-filters]`)

	// A filter change swaps the table through htmx and pushes the URL.
	j.do("choose Production", chooseOption(`#env-sku`, "Production"))
	j.do("wait for the filtered table", waitJS(`new URL(location.href).searchParams.get("sku") === "Production" &&
		[...document.querySelectorAll('[data-testid=env-sku]')].every(td => td.textContent.trim() === "Production")`))
	j.check("overview filtered")

	// Sort by region: a link htmx follows in place, pushing the URL.
	j.do("sort by region", chromedp.Click(chromedp.CSS(`[data-testid=sort-region] a`)))
	j.do("wait for the sorted table", waitJS(`new URL(location.href).searchParams.get("sort") === "region" &&
		document.querySelector('[data-testid=sort-region]').getAttribute("aria-sort") === "ascending"`))
	url := j.location()
	if q := j.queryOf(); q.Get("sku") != "Production" || q.Get("sort") != "region" {
		t.Errorf("address bar after filter and sort = %s, want sku=Production and sort=region", url)
	}
	regions := j.column("env-region")
	if !slices.IsSortedFunc(regions, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }) {
		t.Errorf("regions sorted by region = %q, want ascending", regions)
	}

	// A reload asks the server for that URL: same filter, same order.
	j.do("reload", chromedp.Reload())
	j.waitURL(url)
	if got := eval[string](j, `document.querySelector('#env-sku').value`); got != "Production" {
		t.Errorf("type filter after reload = %q, want Production", got)
	}
	if got := j.column("env-region"); !slices.Equal(got, regions) {
		t.Errorf("regions after reload = %q, want %q", got, regions)
	}
	j.check("overview filtered and sorted")

	// The CSV export downloads every matching row.
	matching, err := strconv.Atoi(eval[string](j, `document.querySelector('[data-testid=environments-table]').dataset.matching`))
	if err != nil {
		t.Fatalf("matching count: %v", err)
	}
	rows := j.download(`[data-testid=export-csv]`)
	if len(rows) != matching+1 {
		t.Fatalf("CSV rows = %d, want a header and %d environments", len(rows), matching)
	}
	sku := slices.IndexFunc(rows[0], func(h string) bool { return strings.EqualFold(h, "sku") || strings.EqualFold(h, "type") })
	if sku < 0 {
		t.Fatalf("CSV header = %q, want a sku or type column", rows[0])
	}
	for _, r := range rows[1:] {
		if r[sku] != "Production" {
			t.Errorf("CSV %s column = %q in %q, want only Production", rows[0][sku], r[sku], r)
		}
	}
}

// column returns the trimmed text of every overview cell with the testid.
func (j *journey) column(testid string) []string {
	j.t.Helper()
	return eval[[]string](j, fmt.Sprintf(`[...document.querySelectorAll('[data-testid=%s]')].map(td => td.textContent.trim())`, testid))
}

// download clicks a download link, waits for the browser to finish saving
// the file, and parses it as CSV.
func (j *journey) download(sel string) [][]string {
	j.t.Helper()
	dir := j.t.TempDir()
	ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
	defer cancel()
	bctx := chromedp.FromContext(j.ctx).BrowserContextID
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: bctx,
		DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		j.t.Fatalf("%s: allowing downloads: %v", j.name, err)
	}
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		j.t.Fatalf("%s: click %s: %v", j.name, sel, err)
	}
	var guid string
	for ev, err := range progress {
		if err != nil {
			j.t.Fatalf("%s: waiting for the download of %s: %v", j.name, sel, err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			j.t.Fatalf("%s: download of %s was cancelled", j.name, sel)
		}
	}
	f, err := os.Open(filepath.Join(dir, guid))
	if err != nil {
		j.t.Fatalf("%s: reading the download: %v", j.name, err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		j.t.Fatalf("%s: the download of %s is not CSV: %v", j.name, sel, err)
	}
	return rows
}

// Journey 4: install a package and watch the status go to Succeeded
// without a reload; install the failing package and see its error; open
// an operation's URL in a new tab and see its current state.
func TestJourney4Install(t *testing.T) {
	j := newJourney(t, "j4-install")
	j.signedInAs(adminUPN)
	envID := j.openEnvironment("Contoso HR (Prod)")
	failing := j.demoSimulator().FailingPackageUniqueName()
	j.click(`[data-testid=link-applications]`)
	apps := "/environments/" + envID + "/applications"
	j.waitURL(apps)
	j.waitVisible(`[data-testid=install-button]`)
	j.check("applications")

	pkg := eval[string](j, fmt.Sprintf(`[...document.querySelectorAll('[data-testid=package-row]')]
		.find(r => r.dataset.package !== %q && r.querySelector('[data-testid=install-button]')).dataset.package`, failing))
	j.click(fmt.Sprintf(`[data-testid=package-row][data-package=%q] [data-testid=install-button]`, pkg))
	j.waitVisible(`[data-testid=operation-status]`)
	op := j.path()
	if !strings.HasPrefix(op, "/environments/"+envID+"/operations/") {
		t.Fatalf("after Install, location = %s, want the operation page", op)
	}
	// A mark on this document: it survives only if the page is never
	// reloaded while the status changes.
	j.do("mark the document", discard(chromedp.Evaluate[bool](`window.e2eMark = true`)))
	j.check("install running")
	j.do("wait for Succeeded", waitJS(`document.querySelector('[data-testid=operation-status]').dataset.state === "Succeeded"`))
	if !eval[bool](j, `window.e2eMark === true`) || j.path() != op {
		t.Errorf("operation %s reached Succeeded through a reload, want an in-place update", op)
	}
	j.waitVisible(`[data-testid=operation-succeeded]`)
	j.check("install succeeded")

	// The failing package.
	j.open(apps)
	j.click(fmt.Sprintf(`[data-testid=package-row][data-package=%q] [data-testid=install-button]`, failing))
	j.waitVisible(`[data-testid=operation-status]`)
	j.do("wait for Failed", waitJS(`document.querySelector('[data-testid=operation-status]').dataset.state === "Failed"`))
	if got := j.text(`[data-testid=operation-error]`); !strings.Contains(got, "failed") {
		t.Errorf("error of the failing install = %q, want the install's error", got)
	}
	j.check("install failed")

	// The first operation's URL, opened fresh in another tab.
	k := j.newTab()
	k.open(op)
	if got := eval[string](k, `document.querySelector('[data-testid=operation-status]').dataset.state`); got != "Succeeded" {
		t.Errorf("operation %s opened in a new tab: state = %q, want Succeeded", op, got)
	}
	if n := k.count(`[data-testid=operation-status][hx-trigger]`); n != 0 {
		t.Errorf("operation %s in a new tab still polls (%d triggers), want none once it has ended", op, n)
	}
	k.check("operation in a new tab")
}

// Journey 5: bulk install one package into three environments, one of
// which is deleted while the form is open (a stale choice); the summary
// counts two Succeeded and one not started.
func TestJourney5BulkInstall(t *testing.T) {
	j := newJourney(t, "j5-bulk")
	j.signedInAs(adminUPN)
	targets := []string{"Contoso HR (Prod)", "Copilot Studio Pilot", "Adele Vance's Environment"}
	doomed := targets[2]
	j.click(`nav.main a[href="/applications"]`)
	j.waitURL("/applications")
	j.check("applications catalog")
	failing := j.demoSimulator().FailingPackageUniqueName()
	pkg := eval[string](j, fmt.Sprintf(`[...document.querySelectorAll('[data-testid=package-row]')].find(r => r.dataset.package !== %q).dataset.package`, failing))
	j.click(fmt.Sprintf(`[data-testid=package-row][data-package=%q] [data-testid=bulk-install-link]`, pkg))
	j.waitVisible(`[data-testid=bulk-form]`)
	if got := eval[string](j, `document.querySelector('#bulk-pkg').value`); got != pkg {
		t.Errorf("preselected package = %q, want %s", got, pkg)
	}
	j.do("choose three environments", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
	const want = %s;
	for (const li of document.querySelectorAll('[data-testid=bulk-choice]')) {
		const name = li.querySelector('label').firstChild.textContent.trim();
		li.querySelector('input').checked = want.includes(name);
	}
	return [...document.querySelectorAll('[data-testid=bulk-choice] input:checked')].length === want.length;
})()`, jsStrings(targets)))(ctx, tg)
		return err
	}))
	if n := j.count(`[data-testid=bulk-choice] input:checked`); n != 3 {
		t.Fatalf("environments chosen = %d, want 3 (%q)", n, targets)
	}
	j.check("bulk install form")

	// In another tab, the third environment is deleted before the form is
	// sent.
	k := j.newTab()
	k.open("/environments")
	doomedID := k.openEnvironment(doomed)
	k.deleteEnvironment(doomed)

	j.click(`[data-testid=bulk-start]`)
	j.waitVisible(`[data-testid=bulk-status]`)
	if !strings.HasPrefix(j.path(), "/bulk/installs?") {
		t.Fatalf("after Start installs, location = %s, want the bulk page", j.path())
	}
	j.check("bulk install running")
	j.do("wait for the summary", waitJS(`document.querySelector('[data-testid=bulk-status]').dataset.done === "true"`))
	summary := j.text(`[data-testid=bulk-summary]`)
	for _, want := range []string{"2 Succeeded", "1 NotStarted"} {
		if !strings.Contains(summary, want) {
			t.Errorf("bulk summary = %q, want it to count %s", summary, want)
		}
	}
	// Rows by environment id: a deleted environment's row can only show
	// its id.
	states := eval[map[string]string](j, `Object.fromEntries([...document.querySelectorAll('[data-testid=bulk-row]')].map(r =>
		[r.dataset.envId, r.querySelector('[data-testid=bulk-op-status]').dataset.state]))`)
	succeeded := 0
	for id, st := range states {
		if id != doomedID && st == "Succeeded" {
			succeeded++
		}
	}
	if len(states) != 3 || states[doomedID] != "NotStarted" || succeeded != 2 {
		t.Errorf("bulk row states = %v, want %s (%s) NotStarted and the other two Succeeded", states, doomedID, doomed)
	}
	j.check("bulk install summary")
}

// jsStrings writes ss as a JavaScript array literal.
func jsStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// deleteEnvironment deletes the environment whose page the tab shows,
// named name: the confirmation page, a mistyped name, the right name,
// Deleting, then gone.
func (j *journey) deleteEnvironment(name string) {
	j.t.Helper()
	j.click(`[data-testid=link-delete]`)
	j.waitVisible(`[data-testid=delete-form]`)
	confirm := j.path()
	j.check("delete confirmation")

	// The mistyped name is answered 422 with the error next to the field.
	j.allow(env.base+confirm, "status of 422")
	j.do("mistype the name", sendKeys(`#confirm-name`, name+" typo"))
	j.click(`[data-testid=delete-submit]`)
	j.waitVisible(`[data-testid=field-error-confirm]`)
	if got := eval[string](j, `document.querySelector('#confirm-name').value`); got != name+" typo" {
		j.t.Errorf("%s: typed name kept after the error = %q, want %q", j.name, got, name+" typo")
	}
	j.check("delete confirmation with an error")

	j.do("type the name", clearInput(`#confirm-name`), sendKeys(`#confirm-name`, name))
	j.click(`[data-testid=delete-submit]`)
	j.waitVisible(`[data-testid=deletion-status]`)
	j.check("deleting")
	j.do("wait until gone", waitJS(`document.querySelector('[data-testid=deletion-status]').dataset.phase === "gone" ||
		document.querySelector('[data-testid=deleted]') !== null`))
	if got := j.text(`[data-testid=deleted]`); !strings.Contains(got, "7 days") {
		j.t.Errorf("%s: deleted notice = %q, want it to say recovery is possible for 7 days", j.name, got)
	}
	j.check("deleted")
}

// Journey 8: the default environment cannot be deleted; a sandbox can,
// with its name typed to confirm, through Deleting to gone.
func TestJourney8DeleteEnvironment(t *testing.T) {
	j := newJourney(t, "j8-delete")
	j.signedInAs(adminUPN)
	defaultID := j.openEnvironment("Contoso (default)")
	if n := j.count(`[data-testid=link-delete]`); n != 0 {
		t.Errorf("delete buttons on the default environment = %d, want 0", n)
	}
	j.waitVisible(`[data-testid=delete-refused]`)
	j.check("default environment")
	// Its delete page, opened by URL, refuses too.
	j.open("/environments/" + defaultID + "/delete")
	j.waitVisible(`[data-testid=delete-refused]`)
	if n := j.count(`[data-testid=delete-form]`); n != 0 {
		t.Errorf("delete forms for the default environment = %d, want 0", n)
	}
	j.check("default environment delete refused")

	const sandbox = "Contoso Sales (Test)"
	j.open("/environments")
	id := j.openEnvironment(sandbox)
	j.deleteEnvironment(sandbox)
	j.open("/environments")
	j.waitVisible(`[data-testid=environment-row]`)
	if n := j.count(fmt.Sprintf(`[data-testid=environment-row][data-env-id=%q]`, id)); n != 0 {
		t.Errorf("rows for deleted %q on the overview = %d, want 0", sandbox, n)
	}
}
