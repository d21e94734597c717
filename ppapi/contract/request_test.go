package contract

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

// validatingTransport checks every request the client sends against the
// spec before forwarding it, and every response it gets back after.
type validatingTransport struct {
	t    *testing.T
	spec *spec
	next http.RoundTripper

	mu   sync.Mutex
	seen map[string]int // operationId -> requests validated
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	op, err := v.spec.validateRequest(req.Context(), req)
	if err != nil {
		v.t.Errorf("client request %s %s does not validate: %v", req.Method, req.URL.RequestURI(), err)
	}
	v.mu.Lock()
	v.seen[op]++
	v.mu.Unlock()
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if _, skip := outsideContract[op][resp.StatusCode]; !skip {
		if _, err := v.spec.validateResponse(req.Context(), req, resp.StatusCode, resp.Header, body); err != nil {
			v.t.Errorf("response to client %s %s does not validate: %v", req.Method, req.URL.RequestURI(), err)
		}
	}
	return resp, nil
}

// TestClientRequests drives the ppapi client through all 13 operations
// against the simulator, validating each request and response.
func TestClientRequests(t *testing.T) {
	c := newClock()
	sim := simulator.New(simulator.Options{Seed: 11, PageSize: 5, Now: c.Now})
	srv := newServer(t, sim)
	vt := &validatingTransport{t: t, spec: loadSpec(t), next: http.DefaultTransport, seen: map[string]int{}}
	client, err := ppapi.New(
		ppapi.WithUnifiedURL(srv),
		ppapi.WithBAPURL(srv),
		ppapi.WithHTTPClient(&http.Client{Transport: vt}),
		ppapi.WithTokenSource(ppapi.TokenSourceFunc(func(context.Context, ppapi.Endpoint) (string, error) { return "t", nil })),
	)
	if err != nil {
		t.Fatalf("ppapi.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	envs, err := client.ListEnvironments(ctx, "")
	must("ListEnvironments", err)
	if len(envs) != 14 {
		t.Errorf("ListEnvironments = %d environments, want 14 (3 pages of 5)", len(envs))
	}
	envs, err = client.ListEnvironments(ctx, "properties.capacity,properties.addons")
	must("ListEnvironments expanded", err)
	def, err := client.GetEnvironment(ctx, sim.DefaultEnvironmentID(), "properties.capacity")
	must("GetEnvironment", err)
	if !def.Properties.IsDefault || len(def.Properties.Capacity) != 3 {
		t.Errorf("GetEnvironment(default) isDefault %v capacity %d, want true, 3", def.Properties.IsDefault, len(def.Properties.Capacity))
	}

	tenantPkgs, err := client.ListTenantApplicationPackages(ctx)
	must("ListTenantApplicationPackages", err)
	main := sim.MainEnvironmentID()
	envPkgs, err := client.ListEnvironmentApplicationPackages(ctx, main)
	must("ListEnvironmentApplicationPackages", err)
	if len(tenantPkgs) < 8 || len(envPkgs) != len(tenantPkgs) {
		t.Errorf("packages: tenant %d, environment %d; want >= 8 and equal", len(tenantPkgs), len(envPkgs))
	}
	// The spec names the package by id (a uuid), so the id is what is sent.
	acc, err := client.InstallApplicationPackage(ctx, main, sim.FailingPackage())
	must("InstallApplicationPackage", err)
	if acc.OperationID == "" {
		t.Fatalf("InstallApplicationPackage = %+v, want an operation id", acc)
	}
	var states []ppapi.OperationState
	for i := 0; i < 3; i++ {
		st, err := client.GetInstallStatus(ctx, main, acc.OperationID)
		must("GetInstallStatus", err)
		states = append(states, st.Status)
		c.advance(time.Second)
	}
	if want := []ppapi.OperationState{ppapi.OperationNotStarted, ppapi.OperationRunning, ppapi.OperationFailed}; !slices.Equal(states, want) {
		t.Errorf("install states = %v, want %v", states, want)
	}

	busyEnv, busy := sim.BusyWorkflow()
	runs, pages := 0, 0
	for cursor := ""; pages == 0 || cursor != ""; pages++ {
		if pages > 100 {
			t.Fatal("ListFlowRuns: more than 100 pages")
		}
		p, err := client.ListFlowRuns(ctx, busyEnv, busy, cursor)
		must("ListFlowRuns", err)
		runs += len(p.Runs)
		cursor = p.Next
	}
	if runs < 250 {
		t.Errorf("ListFlowRuns: %d runs in %d pages, want >= 250", runs, pages)
	}
	emptyEnv, empty := sim.EmptyWorkflow()
	p, err := client.ListFlowRuns(ctx, emptyEnv, empty, "")
	must("ListFlowRuns empty", err)
	if !p.NoContent {
		t.Errorf("ListFlowRuns(empty workflow) = %+v, want NoContent", p)
	}

	pols, err := client.ListBillingPolicies(ctx)
	must("ListBillingPolicies", err)
	created, err := client.CreateBillingPolicy(ctx, ppapi.BillingPolicyCreateRequest{
		Name: "Contract PAYG", Location: "europe", Status: ppapi.BillingEnabled,
		BillingInstrument: ppapi.BillingInstrument{SubscriptionID: "11112222-3333-4444-8555-666677778888", ResourceGroup: "rg-contract"},
	})
	must("CreateBillingPolicy", err)
	got, err := client.GetBillingPolicy(ctx, created.ID)
	must("GetBillingPolicy", err)
	if got.Name != "Contract PAYG" {
		t.Errorf("GetBillingPolicy name = %q, want Contract PAYG", got.Name)
	}
	upd, err := client.UpdateBillingPolicy(ctx, created.ID, ppapi.BillingPolicyUpdateRequest{Status: ppapi.BillingDisabled})
	must("UpdateBillingPolicy", err)
	if upd.Status != ppapi.BillingDisabled || upd.Name != "Contract PAYG" {
		t.Errorf("UpdateBillingPolicy = %s %q, want Disabled, Contract PAYG", upd.Status, upd.Name)
	}
	must("DeleteBillingPolicy", client.DeleteBillingPolicy(ctx, created.ID))
	if after, err := client.ListBillingPolicies(ctx); err != nil || len(after) != len(pols) {
		t.Errorf("ListBillingPolicies after delete = %d, %v; want %d", len(after), err, len(pols))
	}

	del, err := client.DeleteEnvironment(ctx, envs[4].Name)
	must("DeleteEnvironment", err)
	if del.Status != http.StatusAccepted || del.Location == "" {
		t.Errorf("DeleteEnvironment = %+v, want 202 with a Location", del)
	}

	vt.mu.Lock()
	defer vt.mu.Unlock()
	for _, op := range allOperations {
		if vt.seen[op] == 0 {
			t.Errorf("the client never sent %s", op)
		}
	}
	if len(vt.seen) != len(allOperations) {
		t.Errorf("operations seen = %v, want exactly the 13 of the spec", vt.seen)
	}
}

var allOperations = []string{
	"listEnvironments", "getEnvironment", "deleteEnvironment",
	"getEnvironmentApplicationPackages", "installApplicationPackage", "getApplicationPackageInstallStatus",
	"getTenantApplicationPackages", "listFlowRuns",
	"listBillingPolicies", "createBillingPolicy", "getBillingPolicy", "updateBillingPolicy", "deleteBillingPolicy",
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
