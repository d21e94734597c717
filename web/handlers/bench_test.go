package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/ppapi/simulator"
)

// Server time per page through the real router (issue 7, point 1). Each
// iteration serves one request with httptest.NewRecorder straight into the
// portal's handler, carrying the cookies of a browser that signed in
// through the dev identity provider, so the portal side has no network.
// BenchmarkEnvironmentsPage (environment_bench_test.go) covers the overview's
// view work alone; these add the router, middleware, session load, the API
// client and gzip.
//
// The overview comes in two variants:
//
//   - upstream: the read cache is off, so every iteration calls the
//     simulator over loopback HTTP and decodes its answer; the simulator's
//     own time is included.
//   - cached: the read cache is on (30 s) and warmed once, so an iteration
//     is only the portal's own work: session load, filter, sort, page,
//     render, and gzip when asked. The upstream/op metric shows that no
//     upstream call was made.
//
// The environment page, the billing policy page and the operation-status
// fragment read states that pages poll, which the read cache never keeps:
// each of their iterations includes one upstream call.
//
// Run:
//
//	go test ./web/handlers -run '^$' -bench 'ServerTime' -benchmem

const benchAdmin = "admin@contoso.example"

// benchPortal is a portal of n environments (upstream pages of 1,000) and
// the cookies of its signed-in admin.
type benchPortal struct {
	env     *portaltest.Env
	browser *portaltest.Browser
	cookies []*http.Cookie
}

func startBenchPortal(b *testing.B, n int, cacheTTL time.Duration) *benchPortal {
	b.Helper()
	env := portaltest.Start(b, portaltest.Options{
		Sim: simulator.Options{Environments: n, PageSize: 1000, StepDuration: time.Hour},
		Settings: func(s *portal.Settings) {
			s.CacheTTL = cacheTTL
		},
	})
	br := env.NewBrowser(b)
	if r := br.SignIn("/environments", benchAdmin); r.StatusCode != http.StatusOK {
		b.Fatalf("SignIn: %s, want 200", r)
	}
	u, _ := url.Parse(env.URL)
	return &benchPortal{env: env, browser: br, cookies: br.Client.Jar.Cookies(u)}
}

// serve runs one request through the router and returns the recorder.
func (p *benchPortal) serve(path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, p.env.URL+path, nil)
	for _, c := range p.cookies {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	p.env.Portal.Handler.ServeHTTP(rec, req)
	return rec
}

// bench measures GET path: it checks one answer first (200, and the
// encoding asked for), then loops, and reports upstream calls and response
// bytes per request.
func (p *benchPortal) bench(b *testing.B, path string, headers ...string) {
	b.Helper()
	first := p.serve(path, headers...)
	if first.Code != http.StatusOK {
		b.Fatalf("GET %s = %d, want 200; %.300s", path, first.Code, first.Body.String())
	}
	gz := false
	for i := 0; i+1 < len(headers); i += 2 {
		gz = gz || (http.CanonicalHeaderKey(headers[i]) == "Accept-Encoding" && strings.Contains(headers[i+1], "gzip"))
	}
	if got := first.Header().Get("Content-Encoding") == "gzip"; got != gz {
		b.Fatalf("GET %s gzip = %v, want %v", path, got, gz)
	}
	sim := p.env.Demo.Sim
	sim.ResetCalls()
	var bytes int
	b.ReportAllocs()
	for b.Loop() {
		rec := p.serve(path, headers...)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s = %d, want 200", path, rec.Code)
		}
		bytes = rec.Body.Len()
	}
	b.ReportMetric(float64(sim.Calls(""))/float64(b.N), "upstream/op")
	b.ReportMetric(float64(bytes), "resp-B")
}

var benchModes = []struct {
	name string
	ttl  time.Duration
}{
	{"upstream", -1},
	{"cached", 30 * time.Second},
}

// BenchmarkServerTimeOverview is the environment overview's first page at
// 100, 1,000 and 10,000 environments.
func BenchmarkServerTimeOverview(b *testing.B) {
	for _, m := range benchModes {
		for _, n := range []int{100, 1_000, 10_000} {
			b.Run(m.name+"/envs="+strconv.Itoa(n), func(b *testing.B) {
				p := startBenchPortal(b, n, m.ttl)
				b.Run("gzip=off", func(b *testing.B) { p.bench(b, "/environments") })
				b.Run("gzip=on", func(b *testing.B) { p.bench(b, "/environments", "Accept-Encoding", "gzip") })
				b.Run("sorted-page-2", func(b *testing.B) { p.bench(b, "/environments?sort=capacity&dir=desc&page=2") })
			})
		}
	}
}

// BenchmarkServerTimeEnvironment is one environment's page. Its read
// (getEnvironment) is coalesced but never cached, since a deletion's page
// polls it, so each iteration includes one upstream call.
func BenchmarkServerTimeEnvironment(b *testing.B) {
	p := startBenchPortal(b, 1_000, 30*time.Second)
	p.bench(b, "/environments/"+p.env.Demo.Sim.MainEnvironmentID())
}

// BenchmarkServerTimeBillingPolicy is one billing policy's page. Like the
// environment page, its read is never cached (a provisioning policy's page
// polls it): one upstream call per iteration.
func BenchmarkServerTimeBillingPolicy(b *testing.B) {
	p := startBenchPortal(b, 1_000, 30*time.Second)
	id, ok := p.browser.Get("/billing/policies").Doc().Find("[data-testid=billing-policy-row]").First().Attr("data-id")
	if !ok || id == "" {
		b.Fatal("no billing policy in the list")
	}
	p.bench(b, "/billing/policies/"+url.PathEscape(id))
}

// BenchmarkServerTimeOperationStatus is the operation-status fragment htmx
// polls while an install runs (the simulator keeps it running for an
// hour). Install states are never served from the read cache, so every
// iteration asks the simulator.
func BenchmarkServerTimeOperationStatus(b *testing.B) {
	p := startBenchPortal(b, 1_000, 30*time.Second)
	envID := p.env.Demo.Sim.MainEnvironmentID()
	r := p.browser.Get("/environments/" + envID + "/applications")
	if r.StatusCode != http.StatusOK {
		b.Fatalf("applications page: %s", r)
	}
	form := r.Doc().Find("[data-testid=install-form]").First()
	action, ok := form.Attr("action")
	if !ok {
		b.Fatal("no install form on the applications page")
	}
	vals := url.Values{}
	for _, in := range form.Find("input[type=hidden]").EachIter() {
		n, _ := in.Attr("name")
		v, _ := in.Attr("value")
		vals.Set(n, v)
	}
	r = p.browser.Post(action, vals)
	if r.StatusCode != http.StatusSeeOther {
		b.Fatalf("POST %s = %d, want 303", action, r.StatusCode)
	}
	op := r.Header.Get("Location")
	if !strings.Contains(op, "/operations/") {
		b.Fatalf("install redirected to %q, want an operation page", op)
	}
	p.bench(b, op, "HX-Request", "true")
}
