package handlers_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/ppapi/simulator"
)

// Upstream economy (issue 7, point 4), counted at the simulator and the
// identity provider.

func TestReadCacheSparesRepeatedLists(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{Settings: func(s *portal.Settings) { s.CacheTTL = 10 * time.Second }})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	env.Demo.Sim.ResetCalls()

	for _, p := range []string{"/environments", "/environments?sort=name&dir=desc", "/environments.csv"} {
		if r := b.Get(p); r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", p, r.StatusCode)
		}
	}
	if n := env.Demo.Sim.Calls("listEnvironments"); n != 0 {
		t.Errorf("listEnvironments calls after re-sorting and exporting = %d, want 0 (served from the read cache)", n)
	}

	// Another user of the same tenant never sees this user's cache.
	other := env.NewBrowser(t)
	r := other.SignIn("/environments", "mfa@contoso.example")
	r = other.Pick(r, "mfa@contoso.example") // the step-up the claims challenge asks for
	if r.StatusCode != http.StatusOK {
		t.Fatalf("second user: %s", r)
	}
	if n := env.Demo.Sim.Calls("listEnvironments"); n == 0 {
		t.Error("a second user's overview was served from the first user's cache")
	}
}

func TestConcurrentIdenticalRequestsShareOneUpstreamCall(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{Sim: simulator.Options{Latency: 500 * time.Millisecond}})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	env.Demo.Sim.ResetCalls()

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := b.Get("/environments"); r.StatusCode != http.StatusOK {
				t.Errorf("GET /environments = %d", r.StatusCode)
			}
		}()
	}
	wg.Wait()
	if n := env.Demo.Sim.Calls("listEnvironments"); n != 1 {
		t.Errorf("50 concurrent identical requests made %d upstream calls, want 1", n)
	}
}

func TestOneOBOExchangePerUserAndAudience(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	for _, p := range []string{"/environments", "/applications", "/billing/policies", "/environments/" + env.Demo.Sim.MainEnvironmentID() + "/applications"} {
		if r := b.Get(p); r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", p, r.StatusCode)
		}
	}
	for _, aud := range []string{"https://api.powerplatform.com", "https://service.powerapps.com"} {
		if n := env.Demo.IDP.Count("token:obo:" + aud); n != 1 {
			t.Errorf("OBO exchanges for %s = %d, want 1 per token lifetime", aud, n)
		}
	}
}

func TestMetricsNeedSignIn(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	if r := b.Get("/metrics"); r.StatusCode != http.StatusFound {
		t.Errorf("anonymous /metrics = %d, want a redirect to sign-in", r.StatusCode)
	}
	b.SignIn("/environments", "admin@contoso.example")
	r := b.Get("/metrics")
	for _, want := range []string{
		`portal_http_request_duration_seconds_count{method="GET",route="/environments",status="200"}`,
		`portal_upstream_request_duration_seconds_count{operation="listEnvironments",status="200"}`,
		`portal_token_events_total{event="obo",result="ok"}`,
		`portal_sessions`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
