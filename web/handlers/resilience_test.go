package handlers_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/redis/go-redis/v9"

	"ppportal/internal/breaker"
	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/internal/redistest"
	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

// Resilience beyond single faults (issue 8 points 2, 5 and 6; SECURITY.md
// G8 and G10): the circuit breaker through the whole portal, a Redis
// outage, and three replicas sharing one Redis.

// breakerEnv starts a portal whose API calls go through a breaker with the
// given cool-down, and signs the admin in.
func breakerEnv(t *testing.T, coolDown time.Duration) (*portaltest.Env, *portaltest.Browser, string) {
	t.Helper()
	var simHost string
	env := portaltest.Start(t, portaltest.Options{Settings: func(s *portal.Settings) {
		u, _ := url.Parse(s.PPAPIURL)
		simHost = u.Host
		s.Breaker = &breaker.Options{CoolDown: coolDown}
		s.APIOptions = append(s.APIOptions, ppapi.WithRetryPolicy(ppapi.DefaultMaxAttempts, 10*time.Millisecond, 50*time.Millisecond))
	}})
	b := env.NewBrowser(t)
	if r := b.SignIn("/environments", faultVictim); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %s", r)
	}
	return env, b, simHost
}

// tripBreaker makes the environment list fail until the breaker opens; it
// returns how many upstream requests that took.
func tripBreaker(t *testing.T, env *portaltest.Env, b *portaltest.Browser, host string) int {
	t.Helper()
	sim := env.Demo.Sim
	sim.SetFault("listEnvironments", simulator.Fault{Status: http.StatusServiceUnavailable})
	defer sim.ClearFaults()
	before := sim.Calls("listEnvironments")
	for i := 0; i < breaker.DefaultFailures && env.Portal.Breaker.State(host) != "open"; i++ {
		if r := b.Get("/environments"); r.StatusCode < 500 {
			t.Fatalf("GET /environments with the API failing: %s, want 5xx", r)
		}
	}
	if st := env.Portal.Breaker.State(host); st != "open" {
		t.Fatalf("breaker of %s = %q after repeated 503s, want open", host, st)
	}
	return sim.Calls("listEnvironments") - before
}

func TestBreakerOpensAndPagesAnswerAtOnce(t *testing.T) {
	env, b, host := breakerEnv(t, time.Hour)
	sim := env.Demo.Sim
	if n := tripBreaker(t, env, b, host); n != breaker.DefaultFailures {
		t.Errorf("upstream requests until the breaker opened = %d, want %d", n, breaker.DefaultFailures)
	}
	sim.ResetCalls()

	// Reads, full page and htmx fragment: the friendly 503, Retry-After,
	// and no upstream call.
	start := time.Now()
	r := b.Get("/environments")
	t.Logf("breaker open: the overview answered %d in %v", r.StatusCode, time.Since(start))
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "Power Platform is unavailable") || !strings.Contains(r.Body, "paused calls for") {
		t.Errorf("GET /environments while open = %d %q, want 503 saying Power Platform is unavailable and the pause", r.StatusCode, pageHeading(r.Body))
	}
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After while open = %q, want the seconds left", ra)
	}
	if r := b.Get("/billing/policies", "HX-Request", "true"); r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("HX-Retarget") != "#toast" {
		t.Errorf("htmx GET while open = %d, HX-Retarget %q, want 503 into #toast", r.StatusCode, r.Header.Get("HX-Retarget"))
	}

	// A mutation while open was certainly not sent: a definite 503, not
	// "outcome unknown", and a second submit is possible.
	form := url.Values{"csrf": {b.CSRF()}, "name": {"Paused PAYG"}, "location": {"europe"}, "status": {"Enabled"},
		"subscriptionId": {"9b2c1e4f-3a6d-4f0e-8c7b-2d5e6f7a8b9c"}, "resourceGroup": {"rg-paused"}}
	r = b.Get("/billing/policies/new")
	once, _ := r.Doc().Find("input[name=once]").Attr("value")
	form.Set("once", once)
	r = b.Post("/billing/policies", form)
	if r.StatusCode != http.StatusServiceUnavailable || strings.Contains(r.Body, "Outcome unknown") {
		t.Errorf("POST /billing/policies while open = %d %q, want 503 and not outcome unknown", r.StatusCode, pageHeading(r.Body))
	}
	if n := sim.Calls(""); n != 0 {
		t.Errorf("upstream requests while the breaker is open = %d, want 0", n)
	}

	// The identity provider has a breaker of its own: still served.
	// Sign-in completes (its landing page is the paused API's 503).
	other := env.NewBrowser(t)
	if r := other.SignIn("/environments", faultVictim); r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "paused calls for") {
		t.Errorf("sign-in while the API's breaker is open lands on %d %q, want the paused-calls 503", r.StatusCode, pageHeading(r.Body))
	}
	if other.CSRF() == "" {
		t.Error("no session after signing in while the API's breaker is open")
	}
}

func TestBreakerProbesOnceAfterCoolDown(t *testing.T) {
	env, b, host := breakerEnv(t, 50*time.Millisecond)
	sim := env.Demo.Sim
	tripBreaker(t, env, b, host)
	sim.ResetCalls()

	// Poll until a page succeeds: refusals cost no upstream call, and the
	// one call that gets through is the probe that closes the breaker.
	deadline := time.Now().Add(5 * time.Second)
	var r *portaltest.Response
	for r = b.Get("/environments"); r.StatusCode != http.StatusOK; r = b.Get("/environments") {
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("GET /environments while open = %s, want 503", r)
		}
		if time.Now().After(deadline) {
			t.Fatal("the breaker did not let a probe through within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := sim.Calls("listEnvironments"); n != 1 {
		t.Errorf("upstream requests from the open state to the first page = %d, want 1 (the probe)", n)
	}
	if st := env.Portal.Breaker.State(host); st != "closed" {
		t.Errorf("breaker after a successful probe = %q, want closed", st)
	}

	// A failed probe opens it again at once: one upstream request, and
	// the retry the client would make is refused.
	tripBreaker(t, env, b, host)
	deadline = time.Now().Add(5 * time.Second)
	for env.Portal.Breaker.State(host) != "half-open" {
		if time.Now().After(deadline) {
			t.Fatal("the breaker did not become half-open within 5 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	sim.SetFault("listEnvironments", simulator.Fault{Status: http.StatusBadGateway})
	sim.ResetCalls()
	r = b.Get("/environments")
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "paused calls for") {
		t.Errorf("GET with a failing probe = %d %q, want 503 saying calls are paused", r.StatusCode, pageHeading(r.Body))
	}
	if n := sim.Calls("listEnvironments"); n != 1 {
		t.Errorf("upstream requests of a failed probe = %d, want 1", n)
	}
	if st := env.Portal.Breaker.State(host); st != "open" {
		t.Errorf("breaker after a failed probe = %q, want open", st)
	}
}

// redisClient connects to a redistest server with one-second timeouts
// and no retries inside go-redis: a session read is on every request's
// path, so a dead Redis must fail it at once (G10: 503 within 1 s). With
// go-redis's default retries (3 command retries, 5 dial attempts 100 ms
// apart), which cmd/portal keeps, a dead Redis costs 1.7-1.8 s a request.
func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(addr)
	if err != nil {
		t.Fatal(err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	opt.MaxRetries, opt.DialerRetries = -1, 1
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisOutageFailsClosedAndRecovers(t *testing.T) {
	addr, stop, restart := redistest.Start(t)
	rc := redisClient(t, addr)
	env := portaltest.Start(t, portaltest.Options{Settings: func(s *portal.Settings) { s.Redis = rc }})
	b := env.NewBrowser(t)
	if r := b.SignIn("/environments", faultVictim); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %s", r)
	}
	csrf := b.CSRF()
	anon := env.NewBrowser(t)
	sim := env.Demo.Sim

	stop()
	sim.ResetCalls()
	var slowest time.Duration
	for _, tc := range []struct {
		name    string
		b       *portaltest.Browser
		method  string
		path    string
		headers []string
	}{
		{"page", b, http.MethodGet, "/environments", nil},
		{"fragment", b, http.MethodGet, "/environments", []string{"HX-Request", "true"}},
		{"another page", b, http.MethodGet, "/billing/policies", nil},
		{"anonymous page", anon, http.MethodGet, "/environments", nil},
		{"mutation", b, http.MethodPost, "/billing/policies", nil},
	} {
		start := time.Now()
		var r *portaltest.Response
		if tc.method == http.MethodPost {
			r = tc.b.Post(tc.path, url.Values{"csrf": {csrf}, "name": {"Outage"}, "once": {"x"}})
		} else {
			r = tc.b.Get(tc.path, tc.headers...)
		}
		took := time.Since(start)
		slowest = max(slowest, took)
		if r.StatusCode == http.StatusOK || strings.Contains(r.Body, "data-testid=\"environments-table\"") {
			t.Errorf("%s %s with Redis down = %d: served without a session check", tc.method, tc.path, r.StatusCode)
		}
		if tc.b == b && (r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.Body, "Session store unavailable")) {
			t.Errorf("%s %s (%s) with Redis down = %d %q, want 503 saying the session store is unavailable", tc.method, tc.path, tc.name, r.StatusCode, pageHeading(r.Body))
		}
		if took > time.Second {
			t.Errorf("%s %s (%s) with Redis down took %v, want within 1 s", tc.method, tc.path, tc.name, took)
		}
	}
	if n := sim.Calls(""); n != 0 {
		t.Errorf("upstream requests while the session store was down = %d, want 0", n)
	}
	t.Logf("Redis down: slowest 503 took %v", slowest)

	// Back up: service resumes for the same session (SHUTDOWN SAVE kept
	// it) within seconds.
	restart()
	start := time.Now()
	for {
		r := b.Get("/environments")
		if r.StatusCode == http.StatusOK {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("GET /environments %v after Redis came back: %s, want 200 within 5 s", time.Since(start), r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("Redis back: first page served after %v", time.Since(start))
}

// roundRobin hands out replica URLs in turn, as a load balancer without
// stickiness would.
type roundRobin struct {
	urls []string
	n    atomic.Uint64
}

func (rr *roundRobin) next() string { return rr.urls[(rr.n.Add(1)-1)%uint64(len(rr.urls))] }

// clock is a movable clock shared by the replicas' sign-in and brokers.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time              { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)     { c.offset.Add(int64(d)) }
func (c *clock) settings(s *portal.Settings) { s.Now = c.now }

func TestThreeReplicasWithoutStickiness(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	rc := redisClient(t, addr)
	clk := &clock{}
	env := portaltest.Start(t, portaltest.Options{Settings: func(s *portal.Settings) {
		s.Redis = rc
		clk.settings(s)
	}})
	b2, _ := env.AddReplica(t)
	b3, _ := env.AddReplica(t)
	rr := &roundRobin{urls: []string{env.URL, b2, b3}}
	sim := env.Demo.Sim

	// Sign in on the first replica; browse on the others.
	b := env.NewBrowser(t)
	if r := b.SignIn("/environments", faultVictim); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in on replica 1: %s", r)
	}
	for _, p := range []string{"/environments", "/billing/policies", "/applications", "/environments/" + sim.MainEnvironmentID()} {
		u := rr.next()
		if r := b.Get(u + p); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s%s: %s, want 200 with the session from replica 1", u, p, r)
		}
	}

	// An install started on one replica, followed on the others.
	envID := sim.MainEnvironmentID()
	apps := b.Get(rr.next() + "/environments/" + envID + "/applications")
	var action string
	var vals url.Values
	failing := sim.FailingPackageUniqueName()
	apps.Doc().Find("[data-testid=package-row]").EachWithBreak(func(_ int, row *goquery.Selection) bool {
		p, _ := row.Attr("data-package")
		st, _ := row.Attr("data-state")
		form := row.Find("[data-testid=install-form]")
		if p == failing || st != "NotInstalled" || form.Length() != 1 {
			return true
		}
		action, _ = form.Attr("action")
		vals = hiddenFields(form)
		return false
	})
	if action == "" {
		t.Fatal("no installable package on the applications page")
	}
	post := rr.next()
	r := b.Post(post+action, vals, "Origin", post)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/operations/") {
		t.Fatalf("POST install on %s = %d Location %q, want 303 to the operation", post, r.StatusCode, loc)
	}
	polls, state := 0, ""
	for deadline := time.Now().Add(10 * time.Second); ; {
		u := rr.next()
		r := b.Get(u+loc, "HX-Request", "true")
		polls++
		if r.StatusCode != http.StatusOK {
			t.Fatalf("poll %d on %s: %s, want 200", polls, u, r)
		}
		st := r.Doc().Find("#operation-status")
		state, _ = st.Attr("data-state")
		if _, polling := st.Attr("hx-trigger"); !polling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation still %q after %d polls", state, polls)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if state != "Succeeded" {
		t.Errorf("install followed across replicas ended %q after %d polls, want Succeeded", state, polls)
	}

	// 20 concurrent requests with the user's token expired, spread over the
	// three replicas: one refresh in all.
	clk.advance(59 * time.Minute) // the token lives an hour; two minutes' skew
	refreshes := env.Demo.IDP.Count("token:refresh_token")
	obos := env.Demo.IDP.Count("token:obo")
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for i := 0; i < 20; i++ {
		u := rr.next()
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, u+"/billing/policies", nil)
			f, err := fetch(b.Client, req)
			if err != nil || f.status != http.StatusOK {
				errs <- u + ": " + http.StatusText(f.status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent GET with an expired token failed on %s", e)
	}
	if n := env.Demo.IDP.Count("token:refresh_token") - refreshes; n != 1 {
		t.Errorf("refreshes for 20 concurrent requests on 3 replicas = %d, want 1", n)
	}
	// The replicas share the token cache in Redis and lock around an
	// exchange: one on-behalf-of exchange for the one audience the list
	// needs, not one per replica (SECURITY.md G9).
	if n := env.Demo.IDP.Count("token:obo") - obos; n != 1 {
		t.Errorf("OBO exchanges for 20 concurrent requests on 3 replicas = %d, want 1", n)
	}
	t.Logf("expired token, 20 requests over 3 replicas: %d refresh, %d OBO exchanges",
		env.Demo.IDP.Count("token:refresh_token")-refreshes, env.Demo.IDP.Count("token:obo")-obos)

	// Sign out on yet another replica: every replica refuses the old
	// cookie afterwards.
	name := env.Portal.Sessions.CookieName()
	base, _ := url.Parse(env.URL)
	var old *http.Cookie
	for _, c := range b.Client.Jar.Cookies(base) {
		if c.Name == name {
			old = c
		}
	}
	if old == nil {
		t.Fatal("no session cookie before sign-out")
	}
	out := rr.next()
	if r := b.Post(out+"/signout", url.Values{"csrf": {b.CSRF()}}, "Origin", out); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /signout on %s = %d, want 303", out, r.StatusCode)
	}
	replay := env.NewBrowser(t)
	replay.Client.Jar.SetCookies(base, []*http.Cookie{{Name: old.Name, Value: old.Value, Path: "/"}})
	for _, u := range rr.urls {
		r := replay.Get(u + "/environments")
		if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/signin") {
			t.Errorf("GET %s/environments with the signed-out cookie = %d Location %q, want a redirect to sign-in", u, r.StatusCode, r.Header.Get("Location"))
		}
	}
}

// TestReplicaDrainsOnShutdown stops one replica, a real http.Server, while
// requests are in flight on it: every request it had accepted completes,
// and the other replicas keep serving.
func TestReplicaDrainsOnShutdown(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	rc := redisClient(t, addr)
	env := portaltest.Start(t, portaltest.Options{
		Sim:      simulator.Options{Latency: 300 * time.Millisecond},
		Settings: func(s *portal.Settings) { s.Redis = rc },
	})
	other, _ := env.AddReplica(t)
	_, p := env.AddReplica(t)
	b := env.NewBrowser(t)
	if r := b.SignIn("/billing/policies", faultVictim); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %s", r)
	}

	var accepted atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			accepted.Add(1)
			p.Handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	drained := "http://" + ln.Addr().String()

	const inFlight = 30
	type result struct {
		status int
		err    error
	}
	results := make(chan result, inFlight)
	for i := 0; i < inFlight; i++ {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, drained+"/billing/policies", nil)
			f, err := fetch(b.Client, req)
			results <- result{f.status, err}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); accepted.Load() < inFlight; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached the replica", accepted.Load(), inFlight)
		}
		time.Sleep(2 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	// Load goes on at the other replica while this one drains.
	for i := 0; i < 5; i++ {
		if r := b.Get(other + "/billing/policies"); r.StatusCode != http.StatusOK {
			t.Errorf("GET on the other replica during the drain: %s, want 200", r)
		}
	}
	failed := 0
	for i := 0; i < inFlight; i++ {
		if r := <-results; r.err != nil || r.status != http.StatusOK {
			failed++
			t.Errorf("accepted request %d: %d, %v", i, r.status, r.err)
		}
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v, want nil (drained in time)", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if failed != 0 {
		t.Errorf("accepted requests that failed during the drain = %d, want 0", failed)
	}
	t.Logf("graceful drain: %d accepted requests in flight at Shutdown, %d failed", inFlight, failed)
}
