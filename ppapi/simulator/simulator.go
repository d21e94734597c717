// Package simulator is a stateful fake of the Power Platform API: the 13
// operations of shared/spec/power-platform-api-openapi.json, served as an
// http.Handler over a seeded tenant. The demo and the tests talk HTTP to it
// with the production client, so its answers follow the spec (every
// response validates against it, see ppapi/contract) and, where the spec is
// silent, the real service (REAL-API.md).
//
// Long-running operations progress with the clock (Options.Now) in steps of
// Options.StepDuration, computed when a request arrives: no goroutines run
// behind the handler, and a test with an injected clock sees every state.
package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ppportal/ppapi"
)

// Options configure a Simulator. The zero value is a 14-environment tenant
// on the real clock that accepts any bearer token.
type Options struct {
	// Seed picks the tenant: the same seed gives the same tenant, byte for
	// byte (given the same Epoch, or a Now that agrees on the day).
	Seed int64
	// TenantID is the tenant GUID; empty (or anything not a GUID) derives
	// it from Seed.
	TenantID string
	// Environments is how many environments the tenant has; default and
	// minimum 14. The first 14 are hand-written (each plays a role the
	// accessors below name), the rest generated; 10,000 is cheap.
	Environments int
	// PageSize is the page length of every list operation; default 100.
	// Real BAP does not page environments, but clients follow nextLink
	// defensively, so the simulator pages them too.
	PageSize int
	// Latency is added before every response (benchmarks).
	Latency time.Duration
	// StepDuration is how long an install stays NotStarted and then
	// Running, and how long a deleted environment stays Deleting before
	// it is gone (two steps); default 1s.
	StepDuration time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Epoch anchors the seeded timestamps (creation times, flow runs);
	// zero means Now() at New, truncated to the UTC day.
	Epoch time.Time
	// Auth checks bearer tokens; nil accepts any non-empty token. A
	// request without a bearer token is always answered 401.
	Auth Authenticator
}

// Authenticator decides whether a bearer token may call an endpoint.
// Returning ErrForbidden (or an error wrapping it) answers 403; any other
// error answers 401.
type Authenticator interface {
	Authenticate(token string, ep ppapi.Endpoint) error
}

// ErrForbidden is what an Authenticator returns for a valid token that
// lacks the rights for the endpoint; the simulator answers 403.
var ErrForbidden = errors.New("simulator: forbidden")

// Simulator is the fake API. It is safe for concurrent use.
type Simulator struct {
	opts     Options
	step     time.Duration
	pageSize int
	g        gen
	users    []user
	epoch    time.Time
	tenantID string

	corr atomic.Uint64

	mu        sync.Mutex
	envs      []*envRec
	envByKey  map[string]*envRec
	gone      map[string]bool
	pkgs      []*pkgRec
	pkgStates map[string]map[int]pkgState // env key -> package index -> state
	ops       map[string]*opRec
	pending   []*opRec
	policies  []*policyRec
	seq       uint64
	calls     map[string]int
	faults    map[string]*Fault
	release   chan struct{} // closed by ClearFaults to free hanging requests
}

// New builds a simulator with a seeded tenant.
func New(opts Options) *Simulator {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Environments < len(seedEnvs) {
		opts.Environments = len(seedEnvs)
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.StepDuration <= 0 {
		opts.StepDuration = time.Second
	}
	epoch := opts.Epoch
	if epoch.IsZero() {
		epoch = opts.Now().UTC().Truncate(24 * time.Hour)
	}
	t := buildTenant(opts.Seed, opts.TenantID, opts.Environments, epoch.UTC())
	s := &Simulator{
		opts: opts, step: opts.StepDuration, pageSize: opts.PageSize,
		g: t.g, users: t.users, epoch: t.epoch, tenantID: t.tenantID,
		envs: t.envs, envByKey: make(map[string]*envRec, len(t.envs)), gone: map[string]bool{},
		pkgs: t.pkgs, pkgStates: map[string]map[int]pkgState{}, ops: map[string]*opRec{},
		policies: t.policies, calls: map[string]int{}, faults: map[string]*Fault{},
		release: make(chan struct{}),
	}
	for _, e := range s.envs {
		s.envByKey[e.key] = e
	}
	return s
}

// route is one operation of the spec.
type route struct {
	method string
	segs   []string // "{}" matches one segment
	op     string
	ep     ppapi.Endpoint
}

const envsPath = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"

var routes = func() []route {
	rs := []struct {
		method, path, op string
		ep               ppapi.Endpoint
	}{
		{http.MethodGet, envsPath, "listEnvironments", ppapi.EndpointBAP},
		{http.MethodGet, envsPath + "/{}", "getEnvironment", ppapi.EndpointBAP},
		{http.MethodDelete, envsPath + "/{}", "deleteEnvironment", ppapi.EndpointBAP},
		{http.MethodGet, "/appmanagement/environments/{}/applicationPackages", "getEnvironmentApplicationPackages", ppapi.EndpointUnified},
		{http.MethodPost, "/appmanagement/environments/{}/applicationPackages/{}/install", "installApplicationPackage", ppapi.EndpointUnified},
		{http.MethodGet, "/appmanagement/environments/{}/operations/{}", "getApplicationPackageInstallStatus", ppapi.EndpointUnified},
		{http.MethodGet, "/appmanagement/applicationPackages", "getTenantApplicationPackages", ppapi.EndpointUnified},
		{http.MethodGet, "/powerautomate/environments/{}/flowRuns", "listFlowRuns", ppapi.EndpointUnified},
		{http.MethodGet, "/licensing/billingPolicies", "listBillingPolicies", ppapi.EndpointUnified},
		{http.MethodPost, "/licensing/billingPolicies", "createBillingPolicy", ppapi.EndpointUnified},
		{http.MethodGet, "/licensing/billingPolicies/{}", "getBillingPolicy", ppapi.EndpointUnified},
		{http.MethodPatch, "/licensing/billingPolicies/{}", "updateBillingPolicy", ppapi.EndpointUnified},
		{http.MethodDelete, "/licensing/billingPolicies/{}", "deleteBillingPolicy", ppapi.EndpointUnified},
	}
	out := make([]route, len(rs))
	for i, r := range rs {
		out[i] = route{method: r.method, segs: strings.Split(strings.TrimPrefix(r.path, "/"), "/"), op: r.op, ep: r.ep}
	}
	return out
}()

// match finds the route for a path. Literal segments compare
// case-insensitively, as the real services do. args are the raw
// (still escaped) wildcard segments. pathOK reports whether some route
// has this path with another method.
func match(method, escapedPath string) (rt *route, args []string, pathOK bool) {
	if !strings.HasPrefix(escapedPath, "/") {
		return nil, nil, false
	}
	segs := strings.Split(escapedPath[1:], "/")
	for i := range routes {
		r := &routes[i]
		if len(r.segs) != len(segs) {
			continue
		}
		var a []string
		ok := true
		for j, want := range r.segs {
			if want == "{}" {
				if segs[j] == "" {
					ok = false
					break
				}
				a = append(a, segs[j])
				continue
			}
			if !strings.EqualFold(want, segs[j]) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if r.method == method {
			return r, a, true
		}
		pathOK = true
	}
	return nil, nil, pathOK
}

// allowed lists the methods a path answers, for 405's Allow header.
func allowed(escapedPath string) string {
	var ms []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		if r, _, _ := match(m, escapedPath); r != nil {
			ms = append(ms, m)
		}
	}
	return strings.Join(ms, ", ")
}

// request is one parsed request, handed to the operation handlers.
type request struct {
	r          *http.Request
	op         string
	args       []string
	apiVersion string
	now        time.Time
}

// ServeHTTP answers one API request.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-correlation-id", s.g.guid("correlation", s.corr.Add(1)))
	path := r.URL.EscapedPath()
	rt, args, pathOK := match(r.Method, path)
	if rt == nil {
		if !s.sleep(r.Context()) {
			return
		}
		if pathOK {
			w.Header().Set("Allow", allowed(path))
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The method '"+sanitize(r.Method)+"' is not allowed on this resource.")
			return
		}
		writeError(w, http.StatusNotFound, "NotFound", "No operation matches this path.")
		return
	}

	s.mu.Lock()
	s.calls[rt.op]++
	f, release := s.takeFault(rt.op), s.release
	s.mu.Unlock()

	if !s.sleep(r.Context()) {
		return
	}
	if f != nil {
		s.serveFault(w, r, rt, args, f, release)
		return
	}
	s.serveOp(w, r, rt, args)
}

// serveOp checks the token and the api-version, then runs the operation.
func (s *Simulator) serveOp(w http.ResponseWriter, r *http.Request, rt *route, args []string) {
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="No bearer token was presented."`)
		writeError(w, http.StatusUnauthorized, "Unauthorized", "The request requires a bearer token.")
		return
	}
	if s.opts.Auth != nil {
		if err := s.opts.Auth.Authenticate(token, rt.ep); err != nil {
			if errors.Is(err, ErrForbidden) {
				writeError(w, http.StatusForbidden, "Forbidden", "The caller does not have permission to perform this operation.")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
			return
		}
	}
	q := r.URL.Query()
	v := q.Get("api-version")
	switch {
	case v == "":
		writeError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	case !isAPIVersion(v):
		writeError(w, http.StatusBadRequest, "InvalidApiVersionParameter", "The api-version '"+sanitize(v)+"' is invalid. Supported versions look like 2022-03-01-preview or 2020-10-01.")
		return
	}
	req := &request{r: r, op: rt.op, args: args, apiVersion: v, now: s.opts.Now()}
	// The operation answers into a buffer and the buffer is sent after
	// the handler released s.mu, so a slow reader never holds the lock.
	rec := newRecorder()
	s.dispatch(rec, req)
	rec.sendTo(w)
}

// dispatch runs the operation's handler.
func (s *Simulator) dispatch(w http.ResponseWriter, req *request) {
	switch req.op {
	case "listEnvironments":
		s.listEnvironments(w, req)
	case "getEnvironment":
		s.getEnvironment(w, req)
	case "deleteEnvironment":
		s.deleteEnvironment(w, req)
	case "getEnvironmentApplicationPackages":
		s.listEnvironmentPackages(w, req)
	case "installApplicationPackage":
		s.installPackage(w, req)
	case "getApplicationPackageInstallStatus":
		s.installStatus(w, req)
	case "getTenantApplicationPackages":
		s.listTenantPackages(w, req)
	case "listFlowRuns":
		s.listFlowRuns(w, req)
	case "listBillingPolicies":
		s.listPolicies(w, req)
	case "createBillingPolicy":
		s.createPolicy(w, req)
	case "getBillingPolicy":
		s.getPolicy(w, req)
	case "updateBillingPolicy":
		s.updatePolicy(w, req)
	case "deleteBillingPolicy":
		s.deletePolicy(w, req)
	}
}

// sleep waits Options.Latency; false if the request ended meanwhile.
func (s *Simulator) sleep(ctx context.Context) bool {
	if s.opts.Latency <= 0 {
		return true
	}
	t := time.NewTimer(s.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func bearer(h string) (string, bool) {
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(p):])
	return tok, tok != ""
}

// Calls reports how many requests reached an operation (by spec
// operationId), counting those a fault answered; "" gives the total.
func (s *Simulator) Calls(operationID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if operationID == "" {
		n := 0
		for _, c := range s.calls {
			n += c
		}
		return n
	}
	return s.calls[operationID]
}

// ResetCalls sets every call count to zero.
func (s *Simulator) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// TenantID is the seeded tenant's GUID.
func (s *Simulator) TenantID() string { return s.tenantID }

// DefaultEnvironmentID is the default environment's id, Default-<tenant GUID>.
func (s *Simulator) DefaultEnvironmentID() string { return defaultPrefix + s.tenantID }

// Environments is a snapshot of the environments the list would show now,
// with capacity and add-ons expanded.
func (s *Simulator) Environments() []ppapi.Environment {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(s.opts.Now())
	out := make([]ppapi.Environment, 0, len(s.envs))
	for _, e := range s.envs {
		out = append(out, s.envView(e, expandCapacity|expandAddons))
	}
	return out
}

// FailingPackage is the id (a GUID) of the tenant package whose install
// always ends Failed with an error body.
func (s *Simulator) FailingPackage() string { return s.pkgs[failingPkgIdx].id }

// FailingPackageUniqueName is the uniqueName of FailingPackage; installs
// may name a package by either.
func (s *Simulator) FailingPackageUniqueName() string { return s.pkgs[failingPkgIdx].uniqueName }

// Workflows lists the ids of the seeded workflows of an environment that
// have runs, busiest first in the main environment; nil for an unknown
// environment or one without Dataverse.
func (s *Simulator) Workflows(envID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.envByKey[strings.ToLower(envID)]
	if e == nil {
		return nil
	}
	var out []string
	for _, w := range s.tenantView().workflows(e) {
		if w.runs > 0 {
			out = append(out, w.id)
		}
	}
	return out
}

// BusyWorkflow names the workflow with more than 250 runs covering every
// flow run status, and its environment.
func (s *Simulator) BusyWorkflow() (envID, workflowID string) {
	e := s.seedEnv(mainEnvIdx)
	return e.id, s.tenantView().workflows(e)[0].id
}

// EmptyWorkflow names a seeded workflow with no runs (listFlowRuns answers
// 204), and its environment.
func (s *Simulator) EmptyWorkflow() (envID, workflowID string) {
	e := s.seedEnv(mainEnvIdx)
	wfs := s.tenantView().workflows(e)
	return e.id, wfs[len(wfs)-1].id
}

// MainEnvironmentID is "Contoso Sales (Prod)", a Dataverse production
// environment holding the busy and the empty workflow.
func (s *Simulator) MainEnvironmentID() string { return s.seedEnv(mainEnvIdx).id }

// NoDataverseEnvironmentID is an environment without Dataverse: its flow
// runs and packages answer 404.
func (s *Simulator) NoDataverseEnvironmentID() string { return s.seedEnv(8).id }

// seedEnv finds a seeded environment by index even after it was deleted:
// ids are a pure function of the seed.
func (s *Simulator) seedEnv(idx int) *envRec {
	return s.tenantView().buildEnv(idx)
}

func (s *Simulator) tenantView() *tenant {
	return &tenant{g: s.g, tenantID: s.tenantID, epoch: s.epoch, users: s.users}
}

// settle applies what the clock has finished: installs that ended update
// the package states, deleted environments past their Deleting window are
// removed. Callers hold s.mu.
func (s *Simulator) settle(now time.Time) {
	if len(s.pending) > 0 {
		keep := s.pending[:0]
		for _, op := range s.pending {
			if s.opPhase(op, now) < 2 {
				keep = append(keep, op)
				continue
			}
			op.settled = true
			st := s.pkgStates[op.envKey]
			if st == nil {
				st = map[int]pkgState{}
				s.pkgStates[op.envKey] = st
			}
			if op.pkg.fails {
				st[op.pkg.idx] = pkgState{state: ppapi.PackageInstallFailed, lastErr: &ppapi.PackageError{Code: installErrCode, Message: installErrMessage(op.pkg)}}
			} else {
				st[op.pkg.idx] = pkgState{state: ppapi.PackageInstalled}
			}
		}
		for i := len(keep); i < len(s.pending); i++ {
			s.pending[i] = nil
		}
		s.pending = keep
	}
	removed := false
	for _, e := range s.envs {
		if !e.deleteStarted.IsZero() && !now.Before(e.deleteStarted.Add(2*s.step)) {
			s.gone[e.key] = true
			delete(s.envByKey, e.key)
			delete(s.pkgStates, e.key)
			removed = true
		}
	}
	if removed {
		keep := s.envs[:0]
		for _, e := range s.envs {
			if !s.gone[e.key] {
				keep = append(keep, e)
			}
		}
		for i := len(keep); i < len(s.envs); i++ {
			s.envs[i] = nil
		}
		s.envs = keep
	}
}

// opPhase is 0 while NotStarted, 1 while Running, 2 when ended.
func (s *Simulator) opPhase(op *opRec, now time.Time) int {
	d := now.Sub(op.created)
	switch {
	case d < s.step:
		return 0
	case d < 2*s.step:
		return 1
	}
	return 2
}

// busy reports whether an operation runs on the environment now.
func (s *Simulator) busy(e *envRec, now time.Time) bool {
	if !e.deleteStarted.IsZero() {
		return true
	}
	for _, op := range s.pending {
		if op.envKey == e.key && s.opPhase(op, now) < 2 {
			return true
		}
	}
	return false
}

// nextID is a fresh GUID for something created at run time.
func (s *Simulator) nextID(kind string) string {
	s.seq++
	return s.g.guid("new|"+kind, s.seq)
}

// retryAfter is the Retry-After the simulator suggests: one step, in whole
// seconds, at least 1.
func (s *Simulator) retryAfter() string {
	sec := int((s.step + time.Second - 1) / time.Second)
	if sec < 1 {
		sec = 1
	}
	return strconv.Itoa(sec)
}

// writeJSON writes a JSON body with its status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerError", "The response could not be encoded.")
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// writeError writes the spec's ErrorResponse envelope.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, ppapi.ErrorResponse{Error: &ppapi.ErrorBody{Code: code, Message: message}})
}

// sanitize bounds an echoed input and keeps it printable ASCII, so an
// error message never reflects control characters or huge values.
func sanitize(s string) string {
	const max = 80
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	if len(s) > max {
		b.WriteString("...")
	}
	return b.String()
}
