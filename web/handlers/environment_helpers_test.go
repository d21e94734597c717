package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
)

const envAdmin = "admin@contoso.example"

// signedIn starts a portal and a browser signed in as the envAdmin.
func envSignIn(t *testing.T, o portaltest.Options) (*portaltest.Env, *portaltest.Browser) {
	t.Helper()
	env := portaltest.Start(t, o)
	b := env.NewBrowser(t)
	if r := b.SignIn("/environments", envAdmin); r.StatusCode != http.StatusOK {
		t.Fatalf("SignIn: %s, want 200; %.300s", r, r.Body)
	}
	return env, b
}

// envByName finds a seeded environment by display name.
func envByName(t *testing.T, env *portaltest.Env, name string) ppapi.Environment {
	t.Helper()
	for _, e := range env.Demo.Sim.Environments() {
		if e.Properties.DisplayName == name {
			return e
		}
	}
	t.Fatalf("no seeded environment %q", name)
	return ppapi.Environment{}
}

// texts returns the trimmed text of every match of sel.
func envTexts(r *portaltest.Response, sel string) []string {
	var out []string
	for _, n := range r.Doc().Find(sel).EachIter() {
		out = append(out, strings.TrimSpace(n.Text()))
	}
	return out
}

// attr is the attribute of the first match of sel.
func envAttr(r *portaltest.Response, sel, name string) string {
	v, _ := r.Doc().Find(sel).First().Attr(name)
	return v
}

// want200 fails the test unless r is 200.
func envWant200(t *testing.T, r *portaltest.Response) {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d, want 200; body: %.500s", r.Request.URL.RequestURI(), r.StatusCode, r.Body)
	}
}

// simOpts is a tenant of n environments, paged 1,000 at a time.
func envSimOpts(n int) simulator.Options {
	return simulator.Options{Environments: n, PageSize: 1000}
}

// waitStep lets the simulator's clock move on between polls: the harness
// runs it with 50 ms steps, so a handful of short waits reach any state.
// Tests bound their poll loops by count.
func waitStep() { time.Sleep(20 * time.Millisecond) }

// envNoCache is a portal whose per-user read cache is off, for tests that
// inject upstream faults or count upstream calls.
func envNoCache(sim simulator.Options) portaltest.Options {
	return portaltest.Options{Sim: sim, Settings: func(s *portal.Settings) { s.CacheTTL = -1 }}
}
