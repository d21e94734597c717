package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

const (
	bap   = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
	bapV  = "?api-version=2020-10-01"
	ppV   = "?api-version=2022-03-01-preview"
	zeroG = "00000000-0000-4000-8000-000000000000"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	t     *testing.T
	sim   *simulator.Simulator
	srv   *httptest.Server
	clock *clock
}

func newFixture(t *testing.T, opts simulator.Options) *fixture {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &fixture{t: t, sim: sim, srv: srv, clock: c}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(method, target, body string) resp {
	f.t.Helper()
	return f.doToken(method, target, body, "Bearer t")
}

func (f *fixture) doToken(method, target, body, auth string) resp {
	f.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = f.srv.URL + target
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	r, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Fatalf("%s %s: read: %v", method, target, err)
	}
	return resp{r.StatusCode, r.Header, b}
}

func (f *fixture) want(r resp, status int, what string) {
	f.t.Helper()
	if r.status != status {
		f.t.Fatalf("%s: status = %d, want %d (body %.300s)", what, r.status, status, r.body)
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("json.Unmarshal(%.200s): %v", b, err)
	}
	return v
}

func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	e := decode[ppapi.ErrorResponse](t, b)
	if e.Error == nil {
		t.Fatalf("body %s is not an ErrorResponse", b)
	}
	return e.Error.Code
}

func TestSeededTenant(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 42})
	envs := f.sim.Environments()
	if len(envs) < 12 {
		t.Fatalf("len(Environments()) = %d, want >= 12", len(envs))
	}
	skus := map[ppapi.EnvironmentSKU]bool{}
	regions := map[string]bool{}
	states := map[ppapi.ProvisioningState]bool{}
	dataverse, without, defaults := 0, 0, 0
	for _, e := range envs {
		p := e.Properties
		skus[p.EnvironmentSKU] = true
		regions[e.Location] = true
		states[p.ProvisioningState] = true
		if p.HasDataverse() {
			dataverse++
			if m := p.LinkedEnvironmentMetadata; m.Version == "" || m.InstanceURL == "" || m.DomainName == "" {
				t.Errorf("env %s: Dataverse metadata %+v lacks version, instanceUrl or domainName", e.Name, m)
			}
		} else {
			without++
		}
		if p.IsDefault {
			defaults++
			if e.Name != f.sim.DefaultEnvironmentID() || e.Name != "Default-"+f.sim.TenantID() {
				t.Errorf("default env name = %q, want Default-%s", e.Name, f.sim.TenantID())
			}
		}
		if len(p.Capacity) != 3 || p.CreatedBy == nil || p.CreatedBy.ID == "" {
			t.Errorf("env %s: capacity %d, createdBy %+v; want 3 and a principal", e.Name, len(p.Capacity), p.CreatedBy)
		}
	}
	for _, s := range []ppapi.EnvironmentSKU{ppapi.SKUProduction, ppapi.SKUSandbox, ppapi.SKUTrial, ppapi.SKUDeveloper, ppapi.SKUDefault, ppapi.SKUTeams} {
		if !skus[s] {
			t.Errorf("no %s environment", s)
		}
	}
	if len(regions) < 3 || len(states) < 2 || !states[ppapi.ProvisioningSucceeded] || defaults != 1 || dataverse == 0 || without == 0 {
		t.Errorf("regions %d, states %v, defaults %d, dataverse %d, without %d; want >= 3 regions, Succeeded and another, 1 default, some of each", len(regions), states, defaults, dataverse, without)
	}
	if got := envs[0].Properties.DisplayName; got == "" {
		t.Errorf("first environment has no display name")
	}
	r := f.do("GET", "/appmanagement/applicationPackages"+ppV, "")
	pkgs := decode[ppapi.ApplicationPackageListResponse](t, r.body).Value
	found := false
	for _, p := range pkgs {
		found = found || p.ID == f.sim.FailingPackage()
	}
	if len(pkgs) < 8 || !found {
		t.Errorf("tenant packages = %d, failing package listed %v; want >= 8, true", len(pkgs), found)
	}
	pol := decode[ppapi.BillingPolicyListResponse](t, f.do("GET", "/licensing/billingPolicies"+ppV, "").body).Value
	disabled := 0
	for _, p := range pol {
		if p.Status == ppapi.BillingDisabled {
			disabled++
		}
	}
	if len(pol) < 3 || disabled != 1 {
		t.Errorf("billing policies = %d with %d disabled, want >= 3 with 1", len(pol), disabled)
	}
	if wfs := f.sim.Workflows(f.sim.MainEnvironmentID()); len(wfs) < 1 {
		t.Errorf("Workflows(main) = %v, want some", wfs)
	}
	if wfs := f.sim.Workflows(f.sim.NoDataverseEnvironmentID()); wfs != nil {
		t.Errorf("Workflows(no Dataverse) = %v, want none", wfs)
	}
}

func TestDeterministic(t *testing.T) {
	epoch := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	list := func(seed int64) ([]byte, string) {
		f := newFixture(t, simulator.Options{Seed: seed, Epoch: epoch})
		e, w := f.sim.BusyWorkflow()
		runs := f.do("GET", "/powerautomate/environments/"+e+"/flowRuns"+ppV+"&workflowId="+w, "").body
		envs := f.do("GET", bap+bapV+"&$expand=properties.capacity,properties.addons", "").body
		pkgs := f.do("GET", "/appmanagement/environments/"+e+"/applicationPackages"+ppV, "").body
		all := string(envs) + string(runs) + string(pkgs)
		return []byte(strings.ReplaceAll(all, f.srv.URL, "http://sim")), f.sim.TenantID()
	}
	a, ta := list(1)
	b, tb := list(1)
	c, tc := list(2)
	if diff := cmp.Diff(string(a), string(b)); diff != "" {
		t.Errorf("same seed, different tenant (-first +second):\n%.2000s", diff)
	}
	if ta != tb || ta == tc || string(a) == string(c) {
		t.Errorf("tenants for seeds 1, 1, 2 = %s, %s, %s; want the first two equal and the third different", ta, tb, tc)
	}
	if got := simulator.New(simulator.Options{TenantID: "11112222-3333-4444-8555-666677778888"}).DefaultEnvironmentID(); got != "Default-11112222-3333-4444-8555-666677778888" {
		t.Errorf("DefaultEnvironmentID with TenantID = %q, want Default-11112222-3333-4444-8555-666677778888", got)
	}
}

func TestManyEnvironments(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 3, Environments: 10000})
	r := f.do("GET", bap+bapV, "")
	f.want(r, 200, "list")
	page := decode[ppapi.EnvironmentListResponse](t, r.body)
	if len(page.Value) != 100 || page.NextLink == "" {
		t.Fatalf("first page = %d items, nextLink %q; want 100 and a link", len(page.Value), page.NextLink)
	}
	if n := len(f.sim.Environments()); n != 10000 {
		t.Errorf("len(Environments()) = %d, want 10000", n)
	}
	ids := map[string]bool{}
	for _, e := range f.sim.Environments() {
		if ids[e.Name] {
			t.Fatalf("duplicate environment id %s", e.Name)
		}
		ids[e.Name] = true
	}
}

func BenchmarkNew10000(b *testing.B) {
	for b.Loop() {
		simulator.New(simulator.Options{Seed: 1, Environments: 10000})
	}
}

func BenchmarkListPage10000(b *testing.B) {
	sim := simulator.New(simulator.Options{Seed: 1, Environments: 10000, PageSize: 10000})
	req := httptest.NewRequest("GET", bap+bapV, nil)
	req.Header.Set("Authorization", "Bearer t")
	for b.Loop() {
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func TestInstall(t *testing.T) {
	f := newFixture(t, simulator.Options{Seed: 5})
	env := f.sim.MainEnvironmentID()
	base := "/appmanagement/environments/" + env
	state := func(pkgID string) ppapi.ApplicationPackage {
		t.Helper()
		for _, p := range decode[ppapi.ApplicationPackageListResponse](t, f.do("GET", base+"/applicationPackages"+ppV, "").body).Value {
			if p.ID == pkgID {
				return p
			}
		}
		t.Fatalf("package %s not listed in %s", pkgID, env)
		return ppapi.ApplicationPackage{}
	}
	var good ppapi.ApplicationPackage
	for _, p := range decode[ppapi.ApplicationPackageListResponse](t, f.do("GET", base+"/applicationPackages"+ppV, "").body).Value {
		if p.State == ppapi.PackageNotInstalled && p.ID != f.sim.FailingPackage() {
			good = p
			break
		}
	}
	if good.ID == "" {
		t.Fatal("no installable package in the main environment")
	}

	tests := []struct {
		name    string
		pkg     string // path segment
		pkgID   string
		want    []ppapi.OperationState
		final   ppapi.PackageState
		wantErr bool
	}{
		{"by id, succeeds", good.ID, good.ID, []ppapi.OperationState{ppapi.OperationNotStarted, ppapi.OperationRunning, ppapi.OperationSucceeded}, ppapi.PackageInstalled, false},
		{"failing package by uniqueName", f.sim.FailingPackageUniqueName(), f.sim.FailingPackage(), []ppapi.OperationState{ppapi.OperationNotStarted, ppapi.OperationRunning, ppapi.OperationFailed}, ppapi.PackageInstallFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("POST", base+"/applicationPackages/"+tt.pkg+"/install"+ppV, "")
			f.want(r, 202, "install")
			loc := r.header.Get("Location")
			if !strings.HasPrefix(loc, f.srv.URL+base+"/operations/") || !strings.Contains(loc, "api-version=2022-03-01-preview") {
				t.Fatalf("Location = %q, want %s%s/operations/<id>?api-version=...", loc, f.srv.URL, base)
			}
			if ra := r.header.Get("Retry-After"); ra != "1" {
				t.Errorf("Retry-After = %q, want 1", ra)
			}
			// A second mutation while this one runs is refused.
			r2 := f.do("POST", base+"/applicationPackages/"+tt.pkg+"/install"+ppV, "")
			f.want(r2, 409, "second install")
			if code := errorCode(t, r2.body); code != "OperationNotStartable" {
				t.Errorf("second install code = %q, want OperationNotStartable", code)
			}
			f.want(f.do("DELETE", bap+"/"+env+bapV, ""), 409, "delete during install")
			for i, want := range tt.want {
				st := decode[ppapi.OperationStatus](t, f.do("GET", loc, "").body)
				if st.Status != want {
					t.Errorf("poll %d: status = %q, want %q", i, st.Status, want)
				}
				if got := st.LastActionDateTime == nil; got != (want == ppapi.OperationNotStarted) {
					t.Errorf("poll %d (%s): lastActionDateTime absent = %v", i, want, got)
				}
				if want.Terminal() && (st.Error != nil) != tt.wantErr {
					t.Errorf("final error = %+v, want error %v", st.Error, tt.wantErr)
				}
				f.clock.advance(time.Second)
			}
			p := state(tt.pkgID)
			if p.State != tt.final || (p.LastError != nil) != tt.wantErr {
				t.Errorf("package state = %q, lastError %+v; want %q, error %v", p.State, p.LastError, tt.final, tt.wantErr)
			}
		})
	}
	// After the operations ended, the environment takes mutations again.
	f.want(f.do("POST", base+"/applicationPackages/"+good.ID+"/install"+ppV, ""), 202, "install after the end")
}
