package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The demo tenant's accounts (session/devidp.DefaultUsers).
const (
	adminUPN  = "admin@contoso.example"
	readerUPN = "reader@contoso.example"
	mfaUPN    = "mfa@contoso.example"
)

// Journey 1: a bookmarked, filtered overview opened while signed out goes
// through the identity provider's account picker and lands on exactly that
// URL, with the filter applied.
func TestJourney1BookmarkedOverviewAfterSignIn(t *testing.T) {
	j := newJourney(t, "j1-bookmark")
	const bookmark = "/environments?sku=Sandbox"
	j.open(bookmark)
	if !j.onPicker() {
		t.Fatalf("opening %s signed out: location = %s, want the identity provider's account picker", bookmark, j.location())
	}
	j.check("account picker")
	j.signIn(adminUPN, bookmark)
	if got := j.path(); got != bookmark {
		t.Errorf("after sign-in, location = %s, want %s", got, bookmark)
	}
	if got := j.text(`[data-testid=signed-in-user]`); !strings.Contains(got, adminUPN) {
		t.Errorf("signed-in user = %q, want it to name %s", got, adminUPN)
	}
	j.waitVisible(`[data-testid=environment-row]`)
	skus := eval[[]string](j, `[...document.querySelectorAll('[data-testid=environment-row] [data-testid=env-sku]')].map(td => td.textContent.trim())`)
	if len(skus) == 0 {
		t.Errorf("rows on %s = 0, want the demo tenant's sandboxes", bookmark)
	}
	for _, sku := range skus {
		if sku != "Sandbox" {
			t.Errorf("row types on %s = %q, want only Sandbox", bookmark, skus)
			break
		}
	}
	j.check("filtered overview")
	j.docShot("environments.png", false)
}

// Journey 3: open an environment from the overview; its capacity bars and
// Dataverse details are shown.
func TestJourney3OpenEnvironment(t *testing.T) {
	j := newJourney(t, "j3-environment")
	j.signedInAs(adminUPN)
	j.waitVisible(`[data-testid=environment-row]`)
	j.check("overview")

	const name = "Contoso Sales (Prod)"
	link := fmt.Sprintf(`//tr[@data-testid="environment-row"]//a[normalize-space()=%q]`, name)
	res := j.clickSearch(link)
	if res == nil || res.Status != 200 {
		t.Fatalf("opening %q: response = %v, want 200", name, statusOf(res))
	}
	if got := j.text(`h1`); got != name {
		t.Errorf("environment page h1 = %q, want %q", got, name)
	}
	if title := eval[string](j, `document.title`); !strings.HasPrefix(title, name) {
		t.Errorf("environment page title = %q, want it to start with %q", title, name)
	}
	if got := j.text(`[data-testid=dataverse-version]`); got == "" {
		t.Errorf("Dataverse version of %q = %q, want a version", name, got)
	}
	rows := j.count(`[data-testid=capacity] [data-testid=capacity-row]`)
	meters := eval[[]float64](j, `[...document.querySelectorAll('[data-testid=capacity-row] meter')].map(m => m.value / m.max)`)
	if rows == 0 || len(meters) != rows {
		t.Errorf("capacity of %q: %d rows with %d bars, want at least one row and a bar in each", name, rows, len(meters))
	}
	for _, share := range meters {
		if share < 0 || share > 1 {
			t.Errorf("capacity bar shares of %q = %v, want each within 0..1", name, meters)
			break
		}
	}
	j.check("environment")
	j.docShot("environment-mobile.png", true)
}

// Journey 9a: the account without admin rights gets the 403 explanation,
// inside the portal's own page, not a crash.
func TestJourney9ReaderSees403(t *testing.T) {
	j := newJourney(t, "j9-reader")
	// The browser logs the document's 403 status as a console error; that
	// one is the point of this page.
	j.allow(env.base+"/environments", "status of 403")
	j.signedInAs(readerUPN)
	j.waitVisible(`[data-testid=error]`)
	if got := eval[string](j, `document.querySelector('[data-testid=error]').dataset.status`); got != "403" {
		t.Errorf("error status on /environments as %s = %q, want 403", readerUPN, got)
	}
	if got := j.text(`h1`); got != "You do not have access" {
		t.Errorf("error heading as %s = %q, want %q", readerUPN, got, "You do not have access")
	}
	if got := j.text(`[data-testid=error] p`); !strings.Contains(got, "administrator role") {
		t.Errorf("error text as %s = %q, want it to name the administrator role", readerUPN, got)
	}
	if got := j.text(`[data-testid=signed-in-user]`); !strings.Contains(got, readerUPN) {
		t.Errorf("signed-in user on the 403 page = %q, want %s (the page keeps its frame)", got, readerUPN)
	}
	j.check("403 explanation")
}

// Journey 9b: the account whose token exchange needs MFA is sent round the
// sign-in again with the claims challenge, and comes back to the page.
func TestJourney9MFAUserSentRoundSignIn(t *testing.T) {
	j := newJourney(t, "j9-mfa")
	j.open("/environments")
	j.clickSearch(accountButton(mfaUPN))
	// The portal's token exchange answered interaction_required: the
	// browser is back at the identity provider, with the challenge.
	j.waitVisible(`[data-testid=claims-notice]`)
	if !j.onPicker() {
		t.Fatalf("after the first sign-in as %s, location = %s, want the account picker again", mfaUPN, j.location())
	}
	j.check("claims challenge")
	j.signIn(mfaUPN, "/environments")
	j.waitVisible(`[data-testid=environment-row]`)
	if got := j.text(`[data-testid=signed-in-user]`); !strings.Contains(got, mfaUPN) {
		t.Errorf("signed-in user after the claims challenge = %q, want %s", got, mfaUPN)
	}
	j.check("overview after MFA")
}

// Journey 10: sign out; the back button shows nothing private; a
// bookmarked page asks for sign-in again.
func TestJourney10SignOut(t *testing.T) {
	j := newJourney(t, "j10-signout")
	j.signedInAs(adminUPN)
	j.waitVisible(`[data-testid=environment-row]`)
	res := j.clickSearch(`//tr[@data-testid="environment-row"][1]//a`)
	private := j.path()
	name := j.text(`h1`)
	if cc := header(res, "Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control of %s = %q, want no-store", private, cc)
	}
	j.check("environment")

	j.click(`form[action="/signout"] button[type=submit]`)
	j.waitURL("/signedout")
	if got := j.text(`h1`); got != "Signed out" {
		t.Errorf("after sign-out, h1 = %q, want %q", got, "Signed out")
	}
	if n := j.count(`[data-testid=signed-in-user]`); n != 0 {
		t.Errorf("signed-in user elements after sign-out = %d, want 0", n)
	}
	// htmx keeps no copy of pages in localStorage (historyCacheSize 0).
	if v := eval[*string](j, `localStorage.getItem("htmx-history-cache")`); v != nil {
		t.Errorf("htmx history cache after sign-out = %.80q, want none", *v)
	}
	j.check("signed out")

	// Back: the browser must not show the environment from any cache.
	j.back()
	body := eval[string](j, `document.body.innerText`)
	if strings.Contains(body, name) || j.count(`[data-testid=signed-in-user]`) != 0 {
		t.Errorf("after sign-out, back shows %s with %q on it, want nothing private", j.location(), name)
	}
	if !j.onPicker() {
		t.Errorf("after sign-out, back = %s, want the account picker (sign in again)", j.location())
	}

	// A bookmark of the private page asks for sign-in again.
	j.open(private)
	if !j.onPicker() {
		t.Errorf("bookmark %s after sign-out: location = %s, want the account picker", private, j.location())
	}
	if body := eval[string](j, `document.body.innerText`); strings.Contains(body, name) {
		t.Errorf("bookmark %s after sign-out shows %q, want nothing private", private, name)
	}
}

// back goes one step back in the tab's history, as the back button does,
// and waits until another document has loaded; a page restored from the
// back/forward cache counts too, so the caller can assert on it.
func (j *journey) back() {
	j.t.Helper()
	from := j.location()
	j.do("go back", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		h, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
		if err != nil {
			return err
		}
		if h.CurrentIndex < 1 {
			return fmt.Errorf("no history to go back to")
		}
		_, err = cdp.Call(ctx, t, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID})
		return err
	}), waitJS(fmt.Sprintf(`location.href !== %q && document.readyState === "complete"`, from)))
}

// header returns a response header, whatever its case.
func header(res *network.Response, name string) string {
	if res == nil {
		return ""
	}
	for k, v := range res.Headers {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

func statusOf(res *network.Response) string {
	if res == nil {
		return "no response"
	}
	return fmt.Sprintf("%d %s", res.Status, res.URL)
}
