package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Bounds on waiting. Nothing in this package sleeps: every wait is for a
// condition, and these are how long a condition may take.
const (
	journeyTimeout = 2 * time.Minute  // a whole journey
	stepTimeout    = 20 * time.Second // one navigation, wait or check
)

// journey is one user's browser session: a tab in a browser context of its
// own (cookies, storage and cache shared with no other journey), with
// everything that goes wrong in the page collected.
type journey struct {
	t     *testing.T
	name  string
	ctx   context.Context // the tab, bounded by journeyTimeout
	pages int             // checkpoints so far, for screenshot names

	mu       sync.Mutex
	problems []string                     // console errors, exceptions, failed requests
	requests map[network.RequestID]string // request id -> URL, for failed requests
	allowed  []allowance
}

// allowance is a console entry a journey expects, such as the browser's
// "Failed to load resource: ... status of 403" for a page that is meant to
// answer 403.
type allowance struct {
	urlPrefix string
	text      string
}

// newJourney opens a fresh browser context and tab for t. At the end of the
// test the tab closes and the journey fails if anything was collected.
func newJourney(t *testing.T, name string) *journey {
	t.Helper()
	if env == nil {
		t.Fatal("e2e: the suite is not set up (TestMain did not run)")
	}
	j := &journey{t: t, name: name, requests: map[network.RequestID]string{}}
	tab, cancelTab := chromedp.NewContext(env.browser,
		chromedp.WithNewBrowserContext(),
		chromedp.WithListener(j.record))
	// The first Do attaches the tab; it must not carry a deadline.
	if err := chromedp.Do(tab); err != nil {
		cancelTab()
		t.Fatalf("e2e: opening a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, journeyTimeout)
	j.ctx = ctx
	t.Cleanup(func() {
		j.assertClean("at the end of the journey")
		cancel()
		cancelTab()
	})
	j.do("set the desktop viewport and light mode", setViewport(desktopWidth, desktopHeight, false), setColorScheme("light"))
	return j
}

// newTab opens another tab in the same browser context as j (same cookies),
// watched the same way. It closes at the end of the test.
func (j *journey) newTab() *journey {
	j.t.Helper()
	k := &journey{t: j.t, name: j.name + "-tab", requests: map[network.RequestID]string{}, pages: 100}
	tab, cancelTab := chromedp.NewContext(j.ctx, chromedp.WithListener(k.record))
	if err := chromedp.Do(tab); err != nil {
		cancelTab()
		j.t.Fatalf("e2e: opening a second tab: %v", err)
	}
	k.ctx = tab
	j.t.Cleanup(func() {
		k.assertClean("at the end of the journey (second tab)")
		cancelTab()
	})
	k.do("set the desktop viewport and light mode", setViewport(desktopWidth, desktopHeight, false), setColorScheme("light"))
	return k
}

// record runs in chromedp's event loop: it must be quick and send no
// command, so it only appends under the lock.
func (j *journey) record(ev any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		j.requests[ev.RequestID] = ev.Request.URL
	case *network.EventLoadingFailed:
		u := j.requests[ev.RequestID]
		if isExpectedAbort(ev) {
			return
		}
		j.add(u, fmt.Sprintf("failed request %s: %s%s", u, ev.ErrorText, blocked(ev)))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		j.add(d.URL, fmt.Sprintf("uncaught exception at %s:%d:%d: %s%s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg, stackOf(d.StackTrace)))
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			}
		}
		j.add("", "console."+string(ev.Type)+": "+strings.Join(parts, " "))
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Level != cdplog.EntryLevelError {
			return
		}
		j.add(e.URL, fmt.Sprintf("browser %s error: %s (%s)", e.Source, e.Text, e.URL))
	}
}

// isExpectedAbort reports a request the browser cancelled on purpose: a
// download (the page stays, the response goes to disk) or a request cut
// short by the next navigation. Anything else that fails is a problem.
func isExpectedAbort(ev *network.EventLoadingFailed) bool {
	return ev.Canceled && ev.ErrorText == "net::ERR_ABORTED" && ev.BlockedReason == ""
}

func blocked(ev *network.EventLoadingFailed) string {
	if ev.BlockedReason != "" {
		return " (blocked: " + string(ev.BlockedReason) + ")"
	}
	return ""
}

// add records a problem unless the journey expects it. Callers hold j.mu.
func (j *journey) add(u, msg string) {
	for _, a := range j.allowed {
		if strings.HasPrefix(u, a.urlPrefix) && strings.Contains(msg, a.text) {
			return
		}
	}
	j.problems = append(j.problems, msg)
}

// allow expects console entries that contain text and concern a URL that
// starts with urlPrefix.
func (j *journey) allow(urlPrefix, text string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.allowed = append(j.allowed, allowance{urlPrefix: urlPrefix, text: text})
}

// assertClean fails the test with every problem collected so far, and
// forgets them.
func (j *journey) assertClean(where string) {
	j.t.Helper()
	j.mu.Lock()
	ps := j.problems
	j.problems = nil
	j.mu.Unlock()
	if len(ps) > 0 {
		j.t.Errorf("%s: browser problems %s = %d, want 0:\n  %s", j.name, where, len(ps), strings.Join(ps, "\n  "))
	}
}

// do runs actions with a bounded wait, failing the test with what it was
// doing.
func (j *journey) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		j.t.Fatalf("%s: %s: %v (at %s)", j.name, what, err, j.location())
	}
}

// run runs one action with a bounded wait and returns its value.
func run[T any](j *journey, what string, a chromedp.Action[T]) T {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		j.t.Fatalf("%s: %s: %v (at %s)", j.name, what, err, j.location())
	}
	return v
}

// location is the tab's URL, for messages; it never fails the test.
func (j *journey) location() string {
	ctx, cancel := context.WithTimeout(j.ctx, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown location"
	}
	return u
}

// open navigates to path (relative to the portal) or to an absolute URL
// and waits for the document to load. It returns the main response.
func (j *journey) open(target string) *network.Response {
	j.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = env.base + target
	}
	return run(j, "open "+target, chromedp.NavigateResponse(target))
}

// click clicks the element sel (CSS) selects and waits for the
// navigation it starts to load; it returns the final response. Use it for
// links and form buttons that leave the page.
func (j *journey) click(sel string) *network.Response {
	j.t.Helper()
	return clickAndLoad(j, sel, chromedp.CSS(sel))
}

// clickSearch is click for an XPath selector.
func (j *journey) clickSearch(sel string) *network.Response {
	j.t.Helper()
	return clickAndLoad(j, sel, chromedp.Search(sel))
}

func clickAndLoad[S chromedp.Selectable](j *journey, label string, sel S) *network.Response {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(sel)); err != nil {
		j.t.Fatalf("%s: wait for %s: %v (at %s)", j.name, label, err, j.location())
	}
	res, err := chromedp.RunResponse(ctx, chromedp.Click(sel))
	if err != nil {
		j.t.Fatalf("%s: click %s: %v (at %s)", j.name, label, err, j.location())
	}
	return res
}

// waitURL waits until the tab shows exactly want (an absolute URL or a
// portal path) and the document has loaded.
func (j *journey) waitURL(want string) {
	j.t.Helper()
	if strings.HasPrefix(want, "/") {
		want = env.base + want
	}
	ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
	defer cancel()
	expr := fmt.Sprintf(`location.href === %q && document.readyState === "complete"`, want)
	if err := chromedp.Do(ctx, waitJS(expr)); err != nil {
		j.t.Fatalf("%s: location = %s, want %s (%v)", j.name, j.location(), want, err)
	}
}

// waitJS is an action that evaluates expr until it is true or the context
// ends. Unlike chromedp.Poll it survives navigations: an evaluation that
// fails because the page is being replaced is retried in the next one.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var last error
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, t)
			if err == nil && ok {
				return nil
			}
			if err != nil {
				last = err
			}
			select {
			case <-ctx.Done():
				if last != nil {
					return fmt.Errorf("%w (last evaluation error: %v)", ctx.Err(), last)
				}
				return ctx.Err()
			case <-tick.C:
			}
		}
	})
}

// waitVisible waits until sel (CSS) is visible.
func (j *journey) waitVisible(sel string) {
	j.t.Helper()
	j.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// text returns the visible text of the first element sel (CSS) selects,
// trimmed.
func (j *journey) text(sel string) string {
	j.t.Helper()
	return strings.TrimSpace(run(j, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// count returns how many elements sel (CSS) selects, without waiting.
func (j *journey) count(sel string) int {
	j.t.Helper()
	return run(j, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](j *journey, expr string) T {
	j.t.Helper()
	return run(j, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// path returns the tab's URL relative to the portal (path and query), or
// the absolute URL when the tab is elsewhere.
func (j *journey) path() string {
	u := j.location()
	if rest, ok := strings.CutPrefix(u, env.base); ok {
		return rest
	}
	return u
}

// signIn answers the dev identity provider's account picker, which must be
// on screen, as upn, and waits until the portal has the tab back at want.
func (j *journey) signIn(upn, want string) {
	j.t.Helper()
	j.waitVisible(`button[name=user]`)
	j.clickSearch(accountButton(upn))
	j.waitURL(want)
}

// accountButton selects the picker's button for upn by its .upn text.
func accountButton(upn string) string {
	return fmt.Sprintf(`//button[@name="user"][.//span[@class="upn"][normalize-space()=%q]]`, upn)
}

// onPicker reports whether the tab shows the identity provider's account
// picker (and not the portal).
func (j *journey) onPicker() bool {
	j.t.Helper()
	return !strings.HasPrefix(j.location(), env.base) && j.count(`button[name=user]`) > 0
}

// signedInAs signs a fresh journey in as upn from the overview, and leaves
// the tab on /environments.
func (j *journey) signedInAs(upn string) {
	j.t.Helper()
	j.open("/environments")
	j.signIn(upn, "/environments")
}

// queryOf returns the tab URL's query, decoded.
func (j *journey) queryOf() url.Values {
	u, err := url.Parse(j.location())
	if err != nil {
		j.t.Fatalf("%s: location %q: %v", j.name, j.location(), err)
	}
	return u.Query()
}

// waitFor is an action that polls cond, a check of Go-side state such as
// the collected problems, until it holds or the context ends.
func waitFor(cond func() bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !cond() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
		return nil
	})
}

// stackOf formats the top frames of a stack trace for a message.
func stackOf(st *runtime.StackTrace) string {
	if st == nil {
		return ""
	}
	var b strings.Builder
	for i, f := range st.CallFrames {
		if i == 4 {
			break
		}
		fmt.Fprintf(&b, "\n      at %s (%s:%d:%d)", f.FunctionName, f.URL, f.LineNumber+1, f.ColumnNumber+1)
	}
	return b.String()
}

// discard turns an action with a value into one without, for do.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := a(ctx, t)
		return err
	})
}

// sendKeys types text into the element sel (CSS) selects, as a user does.
func sendKeys(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

// clearInput empties the input sel (CSS) selects.
func clearInput(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Clear(chromedp.CSS(sel))
}

// chooseOption selects value in the <select> sel (CSS) selects and fires
// the change event a user's choice fires, so htmx triggers see it.
func chooseOption(sel, value string) chromedp.Action[chromedp.Void] {
	return discard(chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
	const s = document.querySelector(%q);
	if (!s || ![...s.options].some(o => o.value === %q)) throw new Error("no option %s in %s");
	s.value = %q;
	s.dispatchEvent(new Event("change", {bubbles: true}));
	return true;
})()`, sel, value, value, sel, value)))
}

// chooseFirstOption selects the first option with a value in the <select>
// sel (CSS) selects.
func chooseFirstOption(sel string) chromedp.Action[chromedp.Void] {
	return discard(chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
	const s = document.querySelector(%q);
	const o = s && [...s.options].find(o => o.value !== "");
	if (!o) throw new Error("no option with a value in %s");
	s.value = o.value;
	s.dispatchEvent(new Event("change", {bubbles: true}));
	return true;
})()`, sel, sel)))
}

// waitText waits until the first element sel (CSS) selects has the
// trimmed text want.
func (j *journey) waitText(sel, want string) {
	j.t.Helper()
	ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
	defer cancel()
	expr := fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").trim() === %q`, sel, want)
	if err := chromedp.Do(ctx, waitJS(expr)); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? "").trim()`, sel)))
		j.t.Fatalf("%s: text of %s = %q, want %q (%v)", j.name, sel, got, want, err)
	}
}
