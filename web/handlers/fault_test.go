package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"go.uber.org/goleak"

	"ppportal/internal/breaker"
	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
	"ppportal/session"
	"ppportal/session/devidp"
	"ppportal/web/views/pages"
)

// The fault-injection suite (SECURITY.md G6-G8, issue 8 point 1): every
// scenario against every admin operation, through the real portal wired as
// `portal demo` wires it (with the circuit breaker on), the simulator's
// fault switches, the identity provider's token-endpoint faults and, for
// "connection refused", a dialer that points the API's address at a closed
// loopback port.

// faultDeadline is the longest a page may take under any upstream fault:
// the handlers' 8 s upstream deadline plus rendering (G7: full pages
// within 10 s).
const faultDeadline = 10 * time.Second

const (
	faultVictim = "admin@contoso.example"
	faultOther  = "mfa@contoso.example" // an administrator after MFA step-up
)

// scenarioKind is how a scenario's fault is injected.
type scenarioKind int

const (
	viaSimulator scenarioKind = iota // a simulator fault on the operation
	viaIDP                           // a token-endpoint fault on the OBO grant
	viaRefusal                       // the API's address refuses connections
	viaBreaker                       // the breaker was opened beforehand
)

// faultScenario is one way the upstream fails.
type faultScenario struct {
	name string
	kind scenarioKind
	// sim builds the simulator fault (some depend on the clock).
	sim func() simulator.Fault
	// idp is the token-endpoint fault for the OBO grant.
	idp devidp.Fault
	// processed says whether the simulator acts on the request before the
	// fault mangles its answer (ground truth for reconciliation).
	processed bool
}

func simFault(f simulator.Fault) func() simulator.Fault { return func() simulator.Fault { return f } }

func faultScenarios() []faultScenario {
	return []faultScenario{
		{name: "429 Retry-After seconds", sim: simFault(simulator.Fault{Status: 429, RetryAfter: "120"})},
		{name: "429 Retry-After date", sim: func() simulator.Fault {
			return simulator.Fault{Status: 429, RetryAfter: time.Now().Add(120 * time.Second).UTC().Format(http.TimeFormat)}
		}},
		{name: "429 without Retry-After", sim: simFault(simulator.Fault{Status: 429})},
		{name: "500", sim: simFault(simulator.Fault{Status: 500})},
		{name: "502", sim: simFault(simulator.Fault{Status: 502})},
		{name: "503", sim: simFault(simulator.Fault{Status: 503})},
		{name: "504", sim: simFault(simulator.Fault{Status: 504})},
		{name: "connection refused", kind: viaRefusal},
		{name: "reset before response", sim: simFault(simulator.Fault{Kind: simulator.FaultReset})},
		{name: "reset after request written", sim: simFault(simulator.Fault{Kind: simulator.FaultResetAfterRequest}), processed: true},
		{name: "stalled response", sim: simFault(simulator.Fault{Kind: simulator.FaultHang})},
		{name: "slow body", sim: simFault(simulator.Fault{Kind: simulator.FaultSlowBody, Delay: 20 * time.Millisecond}), processed: true},
		{name: "truncated body", sim: simFault(simulator.Fault{Kind: simulator.FaultTruncate}), processed: true},
		{name: "malformed JSON", sim: simFault(simulator.Fault{Kind: simulator.FaultMalformedJSON})},
		{name: "oversized body", sim: simFault(simulator.Fault{Kind: simulator.FaultOversize})},
		{name: "token endpoint 503", kind: viaIDP, idp: devidp.Fault{Status: http.StatusServiceUnavailable}},
		{name: "invalid_grant", kind: viaIDP, idp: devidp.Fault{Status: http.StatusBadRequest, Error: "invalid_grant"}},
		{name: "interaction_required", kind: viaIDP, idp: devidp.Fault{Error: "interaction_required"}},
		{name: "circuit open", kind: viaBreaker},
	}
}

// want is what the page must show for one case.
type want struct {
	status int
	phrase string // in the body, or in Location for redirects
	// retry, when set, must match the page's "Try again in N s".
	retry *regexp.Regexp
	// upstream is how many requests of the operation the simulator may
	// see: exactly this many for mutations, at most for reads.
	upstream int
	// flash, when set, is what the page a redirect leads to must say.
	flash string
}

// expect maps a scenario to DESIGN.md's "Errors a user sees" for an
// operation: reads are retried (at most 3 attempts), mutations are sent at
// most once; a mutation whose answer was lost is reconciled by a read and
// the page says what the read found (issue 8 point 1).
func expect(sc faultScenario, op faultOp) want {
	read := !op.mutation
	attempts := 1
	if read {
		attempts = ppapi.DefaultMaxAttempts
	}
	unknown := op.notApplied
	if sc.processed {
		unknown = op.applied
	}
	unknown.upstream = 1
	noAnswer := want{status: http.StatusBadGateway, phrase: "did not answer", upstream: attempts}
	switch sc.name {
	case "429 Retry-After seconds", "429 Retry-After date":
		// Longer than the client waits out: answered at once, with the
		// service's wait (an HTTP date may lose a second to rounding).
		return want{status: http.StatusTooManyRequests, phrase: "throttling", upstream: 1, retry: regexp.MustCompile(`Try again in 1(19|20) s`)}
	case "429 without Retry-After":
		return want{status: http.StatusTooManyRequests, phrase: "throttling", upstream: attempts, retry: regexp.MustCompile(`Try again in 10 s`)}
	case "500", "502", "503", "504":
		return noAnswer
	case "connection refused":
		return want{status: http.StatusBadGateway, phrase: "did not answer", upstream: 0}
	case "reset before response", "reset after request written":
		if read {
			// Shortfall (reported): net/http itself resends a GET once
			// when a reused keep-alive connection dies before the answer
			// (Transport.shouldRetryRequest), so each of the client's 3
			// attempts may reach the service twice.
			return want{status: http.StatusBadGateway, phrase: "did not answer", upstream: 2 * attempts}
		}
		return unknown
	case "truncated body":
		if read {
			return noAnswer
		}
		return unknown
	case "stalled response":
		if read {
			return want{status: http.StatusGatewayTimeout, phrase: "did not answer in time", upstream: 1}
		}
		// The deadline ended a request that was sent: it may have acted;
		// the read back has a budget of its own.
		return unknown
	case "slow body":
		if read {
			// The whole list, 16 bytes per 20 ms, outlasts the deadline.
			return want{status: http.StatusGatewayTimeout, phrase: "did not answer in time", upstream: 1}
		}
		return want{status: http.StatusSeeOther, phrase: op.success, upstream: 1}
	case "malformed JSON", "oversized body":
		if read {
			return want{status: http.StatusBadGateway, phrase: "did not answer", upstream: 1}
		}
		if sc.name == "malformed JSON" && (op.op == "deleteEnvironment" || op.op == "installApplicationPackage") {
			// Shortfall (reported): ppapi takes a 200 to these two as
			// success without a usable body, so the portal announces a
			// delete or install that did not happen; the page it lands on
			// reads the real state and shows it.
			to := "/deletion"
			if op.op == "installApplicationPackage" {
				to = "/applications" // "accepted ... without an operation to follow"
			}
			return want{status: http.StatusSeeOther, phrase: to, upstream: 1}
		}
		return unknown
	case "token endpoint 503":
		return want{status: http.StatusServiceUnavailable, phrase: "Sign-in service did not answer", upstream: 0}
	case "invalid_grant":
		return want{status: op.redirect(), phrase: "/signin?return=", upstream: 0}
	case "interaction_required":
		return want{status: op.redirect(), phrase: "claims=", upstream: 0}
	case "circuit open":
		return want{status: http.StatusServiceUnavailable, phrase: "paused calls for", upstream: 0, retry: regexp.MustCompile(`Try again in \d+ s`)}
	}
	panic("no expectation for " + sc.name)
}

// faultOp is one admin operation.
type faultOp struct {
	name     string
	op       string // the spec operationId of its upstream call
	mutation bool
	// other is the page the other user reads meanwhile: one that does not
	// call op.
	other string
	// success is what the Location of a successful submit contains.
	success string
	// applied and notApplied are the pages of a mutation whose answer was
	// lost, once a read back found it took effect or not.
	applied, notApplied want
	// prepare reads the form as the user would (before any fault) and
	// returns the request to send and a check of the state afterwards.
	prepare func(t *testing.T, g *faultGroup) (method, path string, form url.Values, after func(t *testing.T, changed bool))
}

func (o faultOp) redirect() int {
	if o.mutation {
		return http.StatusSeeOther
	}
	return http.StatusFound
}

func faultOps() []faultOp {
	return []faultOp{
		{name: "list environments", op: "listEnvironments", other: "/billing/policies", prepare: prepareList},
		{name: "delete environment", op: "deleteEnvironment", mutation: true, other: "/billing/policies", success: "/deletion", prepare: prepareDelete,
			applied:    want{status: http.StatusSeeOther, phrase: "/deletion", flash: "the delete went through"},
			notApplied: want{status: http.StatusBadGateway, phrase: "the delete did not take effect"}},
		{name: "install package", op: "installApplicationPackage", mutation: true, other: "/billing/policies", success: "/operations/", prepare: prepareInstall,
			applied:    want{status: http.StatusAccepted, phrase: "The install was started"},
			notApplied: want{status: http.StatusBadGateway, phrase: "The install was not started"}},
		{name: "create billing policy", op: "createBillingPolicy", mutation: true, other: "/environments", success: "/billing/policies/", prepare: prepareCreate,
			applied:    want{status: http.StatusSeeOther, phrase: "/billing/policies/", flash: "but the policy was created"},
			notApplied: want{status: http.StatusBadGateway, phrase: "it was not created; submit again"}},
		{name: "update billing policy", op: "updateBillingPolicy", mutation: true, other: "/environments", success: "/billing/policies/", prepare: prepareUpdate,
			applied:    want{status: http.StatusSeeOther, phrase: "/billing/policies/", flash: "confirmed by reading it back"},
			notApplied: want{status: http.StatusBadGateway, phrase: "the update was not applied"}},
	}
}

// panicCounter is the portal's logger: it counts the panics the recover
// middleware logged (the process would survive them; the suite wants none).
type panicCounter struct{ n atomic.Int64 }

func (p *panicCounter) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "panic" {
		p.n.Add(1)
	}
	return nil
}
func (p *panicCounter) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicCounter) WithGroup(string) slog.Handler      { return p }

// faultGroup is one running portal with two signed-in users.
type faultGroup struct {
	panics     panicCounter
	env        *portaltest.Env
	victim     *portaltest.Browser
	other      *portaltest.Browser
	victimUser session.User
	dial       *dialSwitch
	simHost    string
	seq        atomic.Int64
	deleted    map[string]bool // environments a case used
	installed  map[string]bool // packages a case used
	policyID   string
}

// dialSwitch sends connections for one address to a closed port while
// refuse is set: a real ECONNREFUSED from the kernel. It also keeps the
// connections to that address, so a case can end like a network blip,
// cutting streams the simulator is still trickling.
type dialSwitch struct {
	target, closed string
	refuse         atomic.Bool
	transport      *http.Transport

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

type trackedConn struct {
	net.Conn
	d *dialSwitch
}

func (c *trackedConn) Close() error {
	c.d.mu.Lock()
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	return c.Conn.Close()
}

// cut closes every connection to the target.
func (d *dialSwitch) cut() {
	d.mu.Lock()
	conns := make([]*trackedConn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (d *dialSwitch) client() *http.Client {
	hc := portal.UpstreamClient()
	tr := hc.Transport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != d.target {
			return dialer.DialContext(ctx, network, addr)
		}
		if d.refuse.Load() {
			addr = d.closed
		}
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, d: d}
		d.mu.Lock()
		d.conns[tc] = struct{}{}
		d.mu.Unlock()
		return tc, nil
	}
	d.transport = tr
	hc.Transport = tr
	return hc
}

func (d *dialSwitch) set(refuse bool) {
	d.refuse.Store(refuse)
	d.transport.CloseIdleConnections() // pooled connections would bypass the dialer
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func startFaultGroup(t *testing.T) *faultGroup {
	t.Helper()
	g := &faultGroup{
		dial:    &dialSwitch{closed: closedAddr(t), conns: map[*trackedConn]struct{}{}},
		deleted: map[string]bool{}, installed: map[string]bool{},
	}
	g.env = portaltest.Start(t, portaltest.Options{
		Sim: simulator.Options{Environments: 40},
		Settings: func(s *portal.Settings) {
			u, err := url.Parse(s.PPAPIURL)
			if err != nil {
				t.Fatal(err)
			}
			g.dial.target, g.simHost = u.Host, u.Host
			s.HTTPClient = g.dial.client()
			s.Log = slog.New(&g.panics)
			// The production breaker; cases reset it, so it only opens
			// where a case opens it on purpose.
			s.Breaker = &breaker.Options{CoolDown: time.Hour}
			// Short backoff keeps the suite fast; the attempt cap is the
			// production one.
			s.APIOptions = append(s.APIOptions, ppapi.WithRetryPolicy(ppapi.DefaultMaxAttempts, 10*time.Millisecond, 50*time.Millisecond))
		},
	})
	g.victim = g.env.NewBrowser(t)
	if r := g.victim.SignIn("/environments", faultVictim); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in of %s: %s", faultVictim, r)
	}
	g.other = g.env.NewBrowser(t)
	r := g.other.SignIn("/environments", faultOther)
	if r = g.other.Pick(r, faultOther); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in of %s after step-up: %s", faultOther, r)
	}
	tenant := g.env.Demo.IDP.TenantID()
	for _, u := range devidp.DefaultUsers(tenant) {
		if u.UPN == faultVictim {
			g.victimUser = session.User{OID: u.OID, TenantID: tenant, UPN: u.UPN}
		}
	}
	return g
}

// unique returns a fresh suffix for names.
func (g *faultGroup) unique() string { return strconv.FormatInt(g.seq.Add(1), 10) }

// fetched is one response, read in full.
type fetched struct {
	status   int
	location string
	body     string
}

// fetch sends req with c and reads the body; unlike the Browser's methods
// it is safe off the test goroutine.
func fetch(c *http.Client, req *http.Request) (fetched, error) {
	resp, err := c.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return fetched{resp.StatusCode, resp.Header.Get("Location"), string(b)}, err
}

func newRequest(t *testing.T, base, method, path string, form url.Values) *http.Request {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", base)
	}
	return req
}

// hiddenFields reads a form's hidden inputs.
func hiddenFields(form *goquery.Selection) url.Values {
	v := url.Values{}
	form.Find("input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		val, _ := s.Attr("value")
		v.Set(n, val)
	})
	return v
}

func prepareList(t *testing.T, g *faultGroup) (string, string, url.Values, func(*testing.T, bool)) {
	after := func(t *testing.T, _ bool) {
		t.Helper()
		// Service resumes for the victim once the upstream recovers.
		if r := g.victim.Get("/environments"); r.StatusCode != http.StatusOK {
			t.Errorf("the victim's GET /environments after the fault cleared: %s, want 200", r)
		}
	}
	return http.MethodGet, "/environments", nil, after
}

// prepareDelete opens the delete form of an environment no case has
// deleted yet and types its name.
func prepareDelete(t *testing.T, g *faultGroup) (string, string, url.Values, func(*testing.T, bool)) {
	t.Helper()
	var target ppapi.Environment
	for _, e := range g.env.Demo.Sim.Environments() {
		if !g.deleted[e.Name] && pages.DeleteGateOf(&e).Allowed {
			target = e
			break
		}
	}
	if target.Name == "" {
		t.Fatal("no deletable environment left")
	}
	g.deleted[target.Name] = true
	r := g.victim.Get("/environments/" + target.Name + "/delete")
	form := r.Doc().Find("form[data-testid=delete-form]")
	if r.StatusCode != http.StatusOK || form.Length() != 1 {
		t.Fatalf("GET delete form of %s: %s, want 200 with the form", target.Name, r)
	}
	v := hiddenFields(form)
	v.Set("confirm", target.Properties.DisplayName)
	after := func(t *testing.T, changed bool) {
		t.Helper()
		// Reconcile by a read: the environment page says Deleting (or is
		// gone) exactly when the delete reached Power Platform.
		r := g.victim.Get("/environments/" + target.Name)
		deleting := r.StatusCode == http.StatusNotFound || strings.Contains(r.Body, string(ppapi.ProvisioningDeleting))
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusNotFound {
			t.Errorf("reconciling read GET /environments/%s = %d, want 200 or 404", target.Name, r.StatusCode)
		}
		if deleting != changed {
			t.Errorf("after the case, environment %s deleting = %v, want %v", target.Name, deleting, changed)
		}
	}
	return http.MethodPost, "/environments/" + target.Name + "/delete", v, after
}

// prepareInstall opens an environment's applications page and takes the
// install form of a package no case has used (never the seeded failing
// one), moving on to the next environment when one runs out.
func prepareInstall(t *testing.T, g *faultGroup) (string, string, url.Values, func(*testing.T, bool)) {
	t.Helper()
	failing := g.env.Demo.Sim.FailingPackageUniqueName()
	var envID, page, pkg, action string
	var vals url.Values
	for _, e := range g.env.Demo.Sim.Environments() {
		if e.Name == g.env.Demo.Sim.NoDataverseEnvironmentID() || !pages.DeleteGateOf(&e).Allowed {
			continue
		}
		envID, page = e.Name, "/environments/"+e.Name+"/applications"
		r := g.victim.Get(page)
		if r.StatusCode != http.StatusOK {
			continue
		}
		r.Doc().Find("[data-testid=package-row]").EachWithBreak(func(_ int, row *goquery.Selection) bool {
			p, _ := row.Attr("data-package")
			st, _ := row.Attr("data-state")
			form := row.Find("[data-testid=install-form]")
			if p == failing || g.installed[envID+"/"+p] || (st != "NotInstalled" && st != "None") || form.Length() != 1 {
				return true
			}
			pkg = p
			action, _ = form.Attr("action")
			vals = hiddenFields(form)
			return false
		})
		if pkg != "" {
			break
		}
	}
	if pkg == "" {
		t.Fatal("no installable package left in any environment")
	}
	g.installed[envID+"/"+pkg] = true
	after := func(t *testing.T, changed bool) {
		t.Helper()
		// Reconcile by a read: the package leaves NotInstalled when the
		// install reached Power Platform (the list shows it once the
		// operation has run a step, so a started install is polled for).
		state := func() string {
			r := g.victim.Get(page)
			st, _ := r.Doc().Find("[data-testid=package-row][data-package='" + pkg + "']").Attr("data-state")
			return st
		}
		st := state()
		for deadline := time.Now().Add(5 * time.Second); changed && (st == "NotInstalled" || st == "None") && time.Now().Before(deadline); st = state() {
			time.Sleep(20 * time.Millisecond)
		}
		started := st != "" && st != "NotInstalled" && st != "None"
		if started != changed {
			t.Errorf("after the case, package %s in %s has state %q: install started = %v, want %v", pkg, envID, st, started, changed)
		}
	}
	return http.MethodPost, action, vals, after
}

// policyCount is how many policies the list shows with name.
func policyCount(t *testing.T, b *portaltest.Browser, name string) int {
	t.Helper()
	r := b.Get("/billing/policies")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /billing/policies: %s", r)
	}
	n := 0
	r.Doc().Find("[data-testid=billing-policy-link]").Each(func(_ int, s *goquery.Selection) {
		if strings.TrimSpace(s.Text()) == name {
			n++
		}
	})
	return n
}

func prepareCreate(t *testing.T, g *faultGroup) (string, string, url.Values, func(*testing.T, bool)) {
	t.Helper()
	r := g.victim.Get("/billing/policies/new")
	form := r.Doc().Find("form[data-testid=billing-policy-form]")
	if r.StatusCode != http.StatusOK || form.Length() != 1 {
		t.Fatalf("GET the create form: %s", r)
	}
	v := hiddenFields(form)
	name := "Fault PAYG " + g.unique()
	v.Set("name", name)
	v.Set("location", "europe")
	v.Set("status", "Enabled")
	v.Set("subscriptionId", "9b2c1e4f-3a6d-4f0e-8c7b-2d5e6f7a8b9c")
	v.Set("resourceGroup", "rg-fault")
	after := func(t *testing.T, changed bool) {
		t.Helper()
		// Reconcile by a read: the policy exists once when the create
		// reached Power Platform, never twice.
		want := 0
		if changed {
			want = 1
		}
		if n := policyCount(t, g.victim, name); n != want {
			t.Errorf("after the case, policies named %q = %d, want %d", name, n, want)
		}
	}
	return http.MethodPost, "/billing/policies", v, after
}

func prepareUpdate(t *testing.T, g *faultGroup) (string, string, url.Values, func(*testing.T, bool)) {
	t.Helper()
	path := "/billing/policies/" + g.policyID + "/edit"
	r := g.victim.Get(path)
	doc := r.Doc()
	form := doc.Find("form[data-testid=billing-policy-form]")
	if r.StatusCode != http.StatusOK || form.Length() != 1 {
		t.Fatalf("GET %s: %s", path, r)
	}
	v := url.Values{}
	form.Find("input").Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		val, _ := s.Attr("value")
		v.Set(n, val)
	})
	st, _ := doc.Find("[data-testid=input-status] option[selected]").Attr("value")
	v.Set("status", st)
	old := v.Get("name")
	name := "Contoso PAYG " + g.unique()
	v.Set("name", name)
	after := func(t *testing.T, changed bool) {
		t.Helper()
		got := name
		if !changed {
			got = old
		}
		if n := policyCount(t, g.victim, got); n != 1 {
			t.Errorf("after the case, policies named %q = %d, want 1 (the update reached Power Platform: %v)", got, n, changed)
		}
	}
	return http.MethodPost, path, v, after
}

// policyIDByName finds a seeded policy's id on the list page.
func policyIDByName(t *testing.T, b *portaltest.Browser, name string) string {
	t.Helper()
	id := ""
	b.Get("/billing/policies").Doc().Find("[data-testid=billing-policy-row]").Each(func(_ int, s *goquery.Selection) {
		if strings.TrimSpace(s.Find("[data-testid=billing-policy-link]").Text()) == name {
			id, _ = s.Attr("data-id")
		}
	})
	if id == "" {
		t.Fatalf("no billing policy named %q", name)
	}
	return id
}

// openBreaker makes reads of one billing policy fail until the breaker of
// the API host opens.
func (g *faultGroup) openBreaker(t *testing.T) {
	t.Helper()
	sim := g.env.Demo.Sim
	sim.SetFault("getBillingPolicy", simulator.Fault{Status: http.StatusServiceUnavailable})
	defer sim.ClearFaults()
	for i := 0; i < breaker.DefaultFailures && g.env.Portal.Breaker.State(g.simHost) != "open"; i++ {
		g.victim.Get("/billing/policies/" + g.policyID)
	}
	if st := g.env.Portal.Breaker.State(g.simHost); st != "open" {
		t.Fatalf("breaker of %s = %q after repeated 503s, want open", g.simHost, st)
	}
}

// runFaultCase runs one scenario against one operation and checks the
// page, the deadline, the upstream counts, the state afterwards and that
// the portal keeps serving.
func runFaultCase(t *testing.T, g *faultGroup, sc faultScenario, op faultOp) {
	sim, idp := g.env.Demo.Sim, g.env.Demo.IDP
	g.env.Portal.Breaker.Reset()
	method, path, form, after := op.prepare(t, g)
	w := expect(sc, op)

	// Inject.
	switch sc.kind {
	case viaSimulator:
		sim.SetFault(op.op, sc.sim())
	case viaIDP:
		// The victim's downstream tokens are dropped, so the next call
		// needs an on-behalf-of exchange; the other user's stay cached.
		g.env.Portal.Broker.Forget(g.victimUser)
		idp.SetFault("obo", sc.idp)
	case viaRefusal:
		g.dial.set(true)
	case viaBreaker:
		g.openBreaker(t)
	}
	sim.ResetCalls()

	// The other user reads a page meanwhile; under a stalled response,
	// once the victim's call has reached the simulator, and while it hangs.
	victimDone := make(chan struct{})
	type otherResult struct {
		status       int
		err          error
		victimInside bool
	}
	otherc := make(chan otherResult, 1)
	concurrent := sc.kind == viaSimulator || sc.kind == viaIDP
	if concurrent {
		go func() {
			if sc.name == "stalled response" {
				deadline := time.Now().Add(faultDeadline)
				for sim.Calls(op.op) == 0 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			f, err := fetch(g.other.Client, newRequest(t, g.env.URL, http.MethodGet, op.other, nil))
			inside := false
			select {
			case <-victimDone:
			default:
				inside = true
			}
			otherc <- otherResult{f.status, err, inside}
		}()
	}

	start := time.Now()
	res, err := fetch(g.victim.Client, newRequest(t, g.env.URL, method, path, form))
	took := time.Since(start)
	close(victimDone)
	status, loc, body := res.status, res.location, res.body

	var other struct {
		status       int
		err          error
		victimInside bool
	}
	if concurrent {
		o := <-otherc
		other.status, other.err, other.victimInside = o.status, o.err, o.victimInside
	}

	// Clear, like a network that recovers: faults off, streams still
	// trickling cut.
	calls := sim.Calls(op.op)
	sim.ClearFaults()
	idp.SetFault("obo", devidp.Fault{})
	g.dial.set(false)
	g.dial.cut()
	g.env.Portal.Breaker.Reset()

	if err != nil {
		t.Fatalf("%s %s: %v (the portal did not answer)", method, path, err)
	}
	if took > faultDeadline {
		t.Errorf("%s %s took %v, want the page within %v", method, path, took, faultDeadline)
	}
	if status != w.status {
		t.Errorf("%s %s = %d, want %d (%s)", method, path, status, w.status, pageHeading(body))
	}
	if status >= 300 && status < 400 {
		if !strings.Contains(loc, w.phrase) {
			t.Errorf("%s %s redirects to %q, want it to contain %q", method, path, loc, w.phrase)
		}
		if w.flash != "" {
			if r := g.victim.Get(loc); !strings.Contains(r.Doc().Find("[data-testid=flash]").Text(), w.flash) {
				t.Errorf("GET %s after %s %s: flash %q, want it to contain %q", loc, method, path, r.Doc().Find("[data-testid=flash]").Text(), w.flash)
			}
		}
	} else if !strings.Contains(body, w.phrase) {
		t.Errorf("%s %s page says %q, want it to contain %q", method, path, pageHeading(body), w.phrase)
	}
	if w.retry != nil && !w.retry.MatchString(body) {
		t.Errorf("%s %s page lacks %q", method, path, w.retry)
	}
	if op.mutation && calls != w.upstream {
		t.Errorf("%s requests at the simulator = %d, want %d (sent at most once)", op.op, calls, w.upstream)
	}
	if !op.mutation && calls > w.upstream {
		t.Errorf("%s requests at the simulator = %d, want at most %d", op.op, calls, w.upstream)
	}

	if concurrent {
		if other.err != nil || other.status != http.StatusOK {
			t.Errorf("the other user's GET %s during the fault = %d, %v, want 200", op.other, other.status, other.err)
		}
		if sc.name == "stalled response" && !other.victimInside {
			t.Errorf("the other user was served only after the stalled request ended, want while it hung")
		}
	}
	if n := g.panics.n.Load(); n != 0 {
		t.Errorf("handler panics logged so far = %d, want 0", n)
	}
	// The process keeps serving: health, and both users' pages.
	if r := g.victim.Get("/healthz"); r.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz after the case: %s, want 200", r)
	}
	if r := g.other.Get(op.other); r.StatusCode != http.StatusOK {
		t.Errorf("the other user's GET %s after the case: %s, want 200", op.other, r)
	}
	if after != nil {
		after(t, sc.processed && calls > 0)
	}
}

// pageHeading is the error page's heading, for failure messages.
func pageHeading(body string) string {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(doc.Find("h1").First().Text())
}

func TestFaultInjection(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	scenarios, ops := faultScenarios(), faultOps()
	var cases atomic.Int64
	var mu sync.Mutex
	slowest := map[string]time.Duration{}
	t.Run("ops", func(t *testing.T) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				t.Parallel()
				g := startFaultGroup(t)
				g.policyID = policyIDByName(t, g.victim, "Contoso PAYG")
				for _, sc := range scenarios {
					t.Run(sc.name, func(t *testing.T) {
						start := time.Now()
						runFaultCase(t, g, sc, op)
						cases.Add(1)
						mu.Lock()
						if d := time.Since(start); d > slowest[op.name] {
							slowest[op.name] = d
						}
						mu.Unlock()
					})
				}
			})
		}
	})
	t.Logf("fault-injection cases: %d (%d scenarios × %d operations); slowest case per operation: %v",
		cases.Load(), len(scenarios), len(ops), slowest)
	if want := int64(len(scenarios) * len(ops)); cases.Load() != want {
		t.Errorf("cases run = %d, want %d", cases.Load(), want)
	}
	// No goroutine outlives the suite once its servers are closed.
	goleak.VerifyNone(t, leaks)
}

// TestSignInAgainReturnsToTheFormPage: a plain form POST that needs sign-in
// again (the token endpoint says invalid_grant or interaction_required)
// returns, after sign-in, to the page the form was on, taken from Referer
// only when it is of the portal's own origin.
func TestSignInAgainReturnsToTheFormPage(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	if r := b.SignIn("/environments", faultVictim); r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %s", r)
	}
	tenant := env.Demo.IDP.TenantID()
	var user session.User
	for _, u := range devidp.DefaultUsers(tenant) {
		if u.UPN == faultVictim {
			user = session.User{OID: u.OID, TenantID: tenant, UPN: u.UPN}
		}
	}
	tests := []struct {
		name, referer string
		idp           devidp.Fault
		want          string
	}{
		{"same origin", env.URL + "/billing/policies/new?from=list", devidp.Fault{Status: http.StatusBadRequest, Error: "invalid_grant"}, "/signin?return=%2Fbilling%2Fpolicies%2Fnew%3Ffrom%3Dlist"},
		{"claims challenge", env.URL + "/billing/policies/new", devidp.Fault{Error: "interaction_required"}, "/signin?claims="},
		{"other origin", "https://evil.example/billing/policies/new", devidp.Fault{Status: http.StatusBadRequest, Error: "invalid_grant"}, "/signin?return=%2Fenvironments"},
		{"same host, other scheme-less form", "//" + strings.TrimPrefix(env.URL, "http://") + "/billing", devidp.Fault{Status: http.StatusBadRequest, Error: "invalid_grant"}, "/signin?return=%2Fenvironments"},
		{"unsafe path", env.URL + "//evil.example/x", devidp.Fault{Status: http.StatusBadRequest, Error: "invalid_grant"}, "/signin?return=%2Fenvironments"},
		{"none", "", devidp.Fault{Status: http.StatusBadRequest, Error: "invalid_grant"}, "/signin?return=%2Fenvironments"},
	}
	for _, tt := range tests {
		form := newForm(t, b) // a fresh one-time token: a refused post spends it
		env.Portal.Broker.Forget(user)
		env.Demo.IDP.SetFault("obo", tt.idp)
		var headers []string
		if tt.referer != "" {
			headers = []string{"Referer", tt.referer}
		}
		r := b.Post("/billing/policies", form, headers...)
		env.Demo.IDP.SetFault("obo", devidp.Fault{})
		loc := r.Header.Get("Location")
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, tt.want) {
			t.Errorf("%s: POST /billing/policies with Referer %q = %d Location %q, want 303 to %s…", tt.name, tt.referer, r.StatusCode, loc, tt.want)
		}
		if tt.name == "claims challenge" && !strings.Contains(loc, "return=%2Fbilling%2Fpolicies%2Fnew") {
			t.Errorf("%s: Location %q, want return=/billing/policies/new", tt.name, loc)
		}
	}
}
