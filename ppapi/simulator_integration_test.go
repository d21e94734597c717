package ppapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

// These tests drive the client against the simulator over real HTTP, as
// the portal does, and count at the simulator.

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newSim(t *testing.T, o simulator.Options) (*simulator.Simulator, *ppapi.Client) {
	t.Helper()
	sim := simulator.New(o)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := ppapi.New(ppapi.WithUnifiedURL(srv.URL), ppapi.WithBAPURL(srv.URL),
		ppapi.WithTokenSource(ppapi.TokenSourceFunc(func(context.Context, ppapi.Endpoint) (string, error) { return "token", nil })))
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func TestSimulatorListsPageAcrossThreePages(t *testing.T) {
	sim, c := newSim(t, simulator.Options{Seed: 7, Environments: 250, PageSize: 100})
	envs, err := c.ListEnvironments(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != 250 || sim.Calls("listEnvironments") != 3 {
		t.Errorf("ListEnvironments = %d environments in %d requests, want 250 in 3", len(envs), sim.Calls("listEnvironments"))
	}
}

func TestSimulatorRetryObservesRetryAfter(t *testing.T) {
	sim, c := newSim(t, simulator.Options{Seed: 7})
	sim.SetFault("listEnvironments", simulator.Fault{Kind: simulator.FaultStatus, Status: 429, RetryAfter: "1", Count: 1})
	start := time.Now()
	if _, err := c.ListEnvironments(context.Background(), ""); err != nil {
		t.Fatalf("ListEnvironments after one 429: %v", err)
	}
	if n := sim.Calls("listEnvironments"); n != 2 {
		t.Errorf("requests = %d, want 2 (one 429, one retry)", n)
	}
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("retried after %v, before the 1 s Retry-After", waited)
	}
}

func TestSimulatorMutationsAreNeverRetried(t *testing.T) {
	sim, c := newSim(t, simulator.Options{Seed: 7})
	ctx := context.Background()
	env := sim.MainEnvironmentID()
	policies, err := c.ListBillingPolicies(ctx)
	if err != nil || len(policies) == 0 {
		t.Fatalf("ListBillingPolicies: %v (%d)", err, len(policies))
	}
	cases := []struct {
		op   string
		call func() error
	}{
		{"installApplicationPackage", func() error { _, err := c.InstallApplicationPackage(ctx, env, sim.FailingPackage()); return err }},
		{"deleteEnvironment", func() error { _, err := c.DeleteEnvironment(ctx, env); return err }},
		{"createBillingPolicy", func() error {
			_, err := c.CreateBillingPolicy(ctx, ppapi.BillingPolicyCreateRequest{Name: "n", Location: "europe",
				BillingInstrument: ppapi.BillingInstrument{SubscriptionID: "0b5e7a1c-4d2f-4e8a-9c3b-6f1d2e3a4b5c", ResourceGroup: "rg"}})
			return err
		}},
		{"updateBillingPolicy", func() error {
			_, err := c.UpdateBillingPolicy(ctx, policies[0].ID, ppapi.BillingPolicyUpdateRequest{Name: "renamed"})
			return err
		}},
		{"deleteBillingPolicy", func() error { return c.DeleteBillingPolicy(ctx, policies[0].ID) }},
	}
	for _, tc := range cases {
		sim.SetFault(tc.op, simulator.Fault{Kind: simulator.FaultStatus, Status: 503, RetryAfter: "0"})
		err := tc.call()
		if !errors.Is(err, ppapi.ErrUnavailable) {
			t.Errorf("%s on 503: err = %v, want ErrUnavailable", tc.op, err)
		}
		if n := sim.Calls(tc.op); n != 1 {
			t.Errorf("%s on 503: %d requests at the simulator, want exactly 1", tc.op, n)
		}
	}
}

func TestSimulatorInstallToSucceededAndFailed(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	sim, c := newSim(t, simulator.Options{Seed: 7, Now: clock.Now, StepDuration: time.Second})
	ctx := context.Background()
	env := sim.MainEnvironmentID()
	pkgs, err := c.ListTenantApplicationPackages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var good string
	for _, p := range pkgs {
		if p.ID != sim.FailingPackage() {
			good = p.ID
			break
		}
	}
	for _, tc := range []struct {
		pkg  string
		want ppapi.OperationState
	}{{good, ppapi.OperationSucceeded}, {sim.FailingPackage(), ppapi.OperationFailed}} {
		acc, err := c.InstallApplicationPackage(ctx, env, tc.pkg)
		if err != nil {
			t.Fatalf("install %s: %v", tc.pkg, err)
		}
		var st *ppapi.OperationStatus
		for i := 0; i < 10; i++ {
			st, err = c.GetInstallStatus(ctx, env, acc.OperationID)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status.Terminal() {
				break
			}
			clock.Advance(time.Second)
		}
		if st.Status != tc.want {
			t.Errorf("install %s ended %q, want %q", tc.pkg, st.Status, tc.want)
		}
		if tc.want == ppapi.OperationFailed && (st.Error == nil || st.Error.Message == "") {
			t.Errorf("failed install carries no error: %+v", st)
		}
	}
}

func TestSimulatorTypedErrors(t *testing.T) {
	sim, c := newSim(t, simulator.Options{Seed: 7})
	ctx := context.Background()
	empty, flat := "", `{"code":"UnexpectedError","message":"An unexpected error occurred."}`
	for _, tc := range []struct {
		status int
		body   *string
		want   error
	}{
		{400, nil, ppapi.ErrBadRequest}, {401, nil, ppapi.ErrUnauthorized}, {403, &empty, ppapi.ErrForbidden},
		{404, nil, ppapi.ErrNotFound}, {409, &empty, ppapi.ErrConflict}, {500, &flat, ppapi.ErrUnavailable},
	} {
		sim.SetFault("getBillingPolicy", simulator.Fault{Kind: simulator.FaultStatus, Status: tc.status, Body: tc.body, Count: 3})
		_, err := c.GetBillingPolicy(ctx, "0b5e7a1c-4d2f-4e8a-9c3b-6f1d2e3a4b5c")
		var pe *ppapi.Error
		if !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.Status != tc.status {
			t.Errorf("status %d: err = %v, want %v with Status %d", tc.status, err, tc.want, tc.status)
		}
		if tc.body == &flat && pe != nil && pe.Code != "UnexpectedError" {
			t.Errorf("flat body: code %q, want UnexpectedError", pe.Code)
		}
		sim.ClearFaults()
	}
	before := sim.Calls("")
	if _, err := c.GetEnvironment(ctx, "Default-not-a-guid", ""); !errors.Is(err, ppapi.ErrInvalidID) {
		t.Errorf("malformed id: %v, want ErrInvalidID", err)
	}
	if sim.Calls("") != before {
		t.Error("a malformed id reached the simulator")
	}
}
