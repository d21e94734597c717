package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"ppportal/ppapi/simulator"
)

func TestThrottledStates(t *testing.T) {
	env, b := envSignIn(t, envNoCache(simulator.Options{}))
	sim := env.Demo.Sim

	// A page: 429 with the wait from Retry-After, on the page and in the
	// header.
	sim.SetFault("listEnvironments", simulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: "45", Count: 1})
	r := b.Get("/environments")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "45" {
		t.Errorf("throttled overview = %d Retry-After %q, want 429 and 45", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if !strings.Contains(r.Doc().Find("[data-testid=retry-after]").Text(), "45 s") {
		t.Errorf("throttled page does not say when to retry")
	}
	// A fragment: the error toast, retargeted.
	sim.SetFault("listEnvironments", simulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: "45", Count: 1})
	r = b.Get("/environments?sku=Sandbox", "HX-Request", "true")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("HX-Retarget") != "#toast" || r.Doc().Find("[data-testid=error-toast]").Length() != 1 {
		t.Errorf("throttled fragment = %d HX-Retarget %q, want 429 with the toast", r.StatusCode, r.Header.Get("HX-Retarget"))
	}

	// A polling operation keeps polling, slower, and says why.
	envID := envByName(t, env, "Contoso HR (Prod)").Name
	pkg := notInstalled(t, b, envID, sim.FailingPackageUniqueName())
	action, vals := installForm(t, b, envID, pkg)
	loc := b.Post(action, vals).Header.Get("Location")
	sim.SetFault("getApplicationPackageInstallStatus", simulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: "40", Count: 1})
	r = b.Get(loc, "HX-Request", "true")
	envWant200(t, r)
	if got := envAttr(r, "#operation-status", "hx-trigger"); got != "every 30s" {
		t.Errorf("throttled poll trigger = %q, want every 30s (Retry-After clamped)", got)
	}
	if !strings.Contains(r.Doc().Find("[data-testid=throttled]").Text(), "30 s") {
		t.Errorf("throttled operation does not say when it checks again")
	}
	if last := pollOperation(t, b, loc); envAttr(last, "#operation-status", "data-state") != "Succeeded" {
		t.Errorf("after throttling the operation did not reach Succeeded")
	}
}

func TestErrorTableStates(t *testing.T) {
	env, b := envSignIn(t, envNoCache(simulator.Options{}))
	sim := env.Demo.Sim
	id := envByName(t, env, "Contoso HR (Prod)").Name
	tests := []struct {
		op, path string
		status   int
		want     int
		says     string
	}{
		{"getEnvironment", "/environments/" + id, http.StatusForbidden, http.StatusForbidden, "administrator role"},
		{"getEnvironment", "/environments/" + id, http.StatusNotFound, http.StatusNotFound, "does not exist"},
		{"getEnvironment", "/environments/" + id, http.StatusInternalServerError, http.StatusBadGateway, "did not answer"},
		{"getTenantApplicationPackages", "/applications", http.StatusServiceUnavailable, http.StatusBadGateway, "did not answer"},
		{"getEnvironmentApplicationPackages", "/environments/" + id + "/applications", http.StatusForbidden, http.StatusForbidden, "administrator role"},
	}
	for _, tt := range tests {
		sim.SetFault(tt.op, simulator.Fault{Status: tt.status})
		r := b.Get(tt.path)
		sim.ClearFaults()
		if r.StatusCode != tt.want || !strings.Contains(r.Body, tt.says) {
			t.Errorf("GET %s with upstream %d = %d %.200q, want %d saying %q", tt.path, tt.status, r.StatusCode, r.Body, tt.want, tt.says)
		}
	}
	// A gone environment's pages say so.
	if r := b.Get("/environments/00000000-0000-0000-0000-000000000000/applications"); r.StatusCode != http.StatusNotFound {
		t.Errorf("applications of an unknown environment = %d, want 404", r.StatusCode)
	}
}
