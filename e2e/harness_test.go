package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAxeReportsViolations proves the accessibility check can fail: a page
// with an image without alt text and an input without a label must come
// back with both rules as critical violations, and check's filter must keep
// them.
func TestAxeReportsViolations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>Known violations</title></head>
<body><main><h1>Known violations</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<input type="text" name="q">
</main></body></html>`)
	}))
	defer srv.Close()

	j := newJourney(t, "axe-fails")
	j.open(srv.URL)
	vs, err := runAxe(j.ctx)
	if err != nil {
		t.Fatalf("runAxe(%s) error = %v", srv.URL, err)
	}
	var got []string
	for _, v := range severe(vs) {
		got = append(got, v.ID+":"+v.Impact)
	}
	for _, want := range []string{"image-alt:critical", "label:critical"} {
		if !slices.Contains(got, want) {
			t.Errorf("severe(runAxe(%s)) = %v, want it to contain %s", srv.URL, got, want)
		}
	}
}

// TestCollectorReportsProblems proves the console check can fail: a page
// that breaks its own CSP, throws, logs an error and loads a missing host
// must produce a problem for each.
func TestCollectorReportsProblems(t *testing.T) {
	// A port nothing listens on: a closed httptest server's.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprintf(w, `console.error("logged on purpose");
fetch(%q + "/gone").catch(() => {});
setTimeout(() => { throw new Error("thrown on purpose"); });
`, deadURL)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src *")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>Broken page</title>
<script>document.title = "inline script ran";</script>
<script src="/app.js"></script></head><body><main><h1>Broken page</h1></main></body></html>`)
	}))
	defer srv.Close()

	j := newJourney(t, "collector-fails")
	j.open(srv.URL)
	// The thrown error comes from a timer; wait for it by polling the
	// collector rather than the clock.
	want := []string{"Content Security Policy", "logged on purpose", "thrown on purpose", "/gone"}
	var got []string
	ctx, cancel := context.WithTimeout(j.ctx, stepTimeout)
	err := chromedp.Do(ctx, waitFor(func() bool {
		j.mu.Lock()
		defer j.mu.Unlock()
		got = slices.Clone(j.problems)
		for _, w := range want {
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, w) }) {
				return false
			}
		}
		return true
	}))
	cancel()
	// The journey's own end-of-test check would fail the test on these
	// problems; they are the point, so drop them.
	j.mu.Lock()
	j.problems = nil
	j.mu.Unlock()
	if err != nil {
		t.Errorf("problems on %s = %q, want one containing each of %q (%v)", srv.URL, got, want, err)
	}
}
