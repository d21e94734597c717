package handlers_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ppportal/internal/portaltest"
)

func TestSignInLandsOnTheRequestedPage(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)

	r := b.SignIn("/environments?sku=Sandbox", "admin@contoso.example")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("after sign-in: %s, want 200; body: %.300s", r, r.Body)
	}
	if got, want := r.Request.URL.RequestURI(), "/environments?sku=Sandbox"; got != want {
		t.Errorf("landed on %q, want %q", got, want)
	}
	rows := r.Doc().Find("[data-testid=environment-row]").Length()
	want := 0
	for _, e := range env.Demo.Sim.Environments() {
		if e.Properties.EnvironmentSKU == "Sandbox" {
			want++
		}
	}
	if rows != want {
		t.Errorf("environment rows = %d, want %d", rows, want)
	}
	if user := r.Doc().Find("[data-testid=signed-in-user]").Text(); !strings.Contains(user, "admin@contoso.example") {
		t.Errorf("signed-in user shown as %q", user)
	}
	if hdr, _ := r.Doc().Find("body").Attr("hx-headers"); !strings.Contains(hdr, `"X-CSRF-Token":"`) {
		t.Errorf("<body hx-headers> = %q, want the session's cross-site token for htmx", hdr)
	}
	if _, ok := env.NewBrowser(t).Get("/signedout").Doc().Find("body").Attr("hx-headers"); ok {
		t.Error("an anonymous page carries hx-headers")
	}
}

func TestAnonymousRequests(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)

	r := b.Get("/environments?q=x")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/signin?return=%2Fenvironments%3Fq%3Dx" {
		t.Errorf("GET /environments?q=x anonymous = %d Location %q, want 302 to sign-in with the return", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.Get("/environments", "HX-Request", "true", "HX-Current-URL", env.URL+"/environments?sku=Trial")
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("HX-Redirect") != "/signin?return=%2Fenvironments%3Fsku%3DTrial" {
		t.Errorf("htmx anonymous = %d HX-Redirect %q, want 401 with HX-Redirect to the current page", r.StatusCode, r.Header.Get("HX-Redirect"))
	}
	if n := env.Demo.Sim.Calls("listEnvironments"); n != 0 {
		t.Errorf("upstream listEnvironments calls = %d, want 0", n)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := b.Get(p); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d %q, want 200", p, r.StatusCode, r.Body)
		}
	}
}

func TestMalformedEnvironmentIDIs400WithoutUpstreamCall(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	env.Demo.Sim.ResetCalls()

	for _, id := range []string{"not-a-guid", "Default-123", "00000000-0000-0000-0000-00000000000g", url.PathEscape("../../x"), strings.Repeat("a", 300)} {
		r := b.Get("/environments/" + id)
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /environments/%s = %d, want 400", id, r.StatusCode)
			continue
		}
		if !strings.Contains(r.Body, "not a GUID") {
			t.Errorf("GET /environments/%s: the page does not say what was wrong", id)
		}
	}
	if n := env.Demo.Sim.Calls("getEnvironment"); n != 0 {
		t.Errorf("upstream getEnvironment calls = %d, want 0", n)
	}
}

func TestDefaultEnvironmentPage(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	r := b.Get("/environments/" + env.Demo.Sim.DefaultEnvironmentID())
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET default environment = %d, want 200; %.300s", r.StatusCode, r.Body)
	}
}

// TestStaticAssetsAreGzippedOnce guards against the router compressing the
// already-gzipped assets a second time, which breaks them in browsers.
func TestStaticAssetsAreGzippedOnce(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	r := b.SignIn("/environments", "admin@contoso.example")
	src, ok := r.Doc().Find(`script[src*="htmx"]`).Attr("src")
	if !ok {
		t.Fatal("no htmx script on the page")
	}
	resp := b.Get(src, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET %s: Content-Encoding %q Cache-Control %q", src, resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Control"))
	}
	zr, err := gzip.NewReader(strings.NewReader(resp.Body))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(plain), "var htmx") {
		t.Errorf("after one gunzip the asset starts %q, want the script itself", plain[:min(len(plain), 16)])
	}
}

func TestEnvironmentPageHostsTheFlowRunsForm(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	id := env.Demo.Sim.MainEnvironmentID()
	doc := b.Get("/environments/" + id).Doc()
	if n := doc.Find("#flow-runs-entry").Length(); n != 1 {
		t.Fatalf("#flow-runs-entry appears %d times, want 1", n)
	}
	action, _ := doc.Find("#flow-runs-entry form").Attr("action")
	if action != "/environments/"+id+"/flows" {
		t.Errorf("flow-runs form action = %q, want /environments/%s/flows", action, id)
	}
	doc = b.Get("/environments/" + env.Demo.Sim.NoDataverseEnvironmentID()).Doc()
	if doc.Find("#flow-runs-entry form").Length() != 0 || !strings.Contains(doc.Find("#flow-runs-entry").Text(), "need a Dataverse database") {
		t.Error("an environment without Dataverse offers the flow-runs form")
	}
}

// TestFragmentsDoNotEatTheNotice: the one-time notice after a redirect is
// shown by the next full page, even when an htmx fragment of the same URL
// is requested first (a poll racing the page load).
func TestFragmentsDoNotEatTheNotice(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	e := envByName(t, env, "Innovation Lab")
	r := b.Post("/environments/"+e.Name+"/delete", url.Values{"csrf": {b.CSRF()}, "confirm": {"Innovation Lab"}})
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || loc == "" {
		t.Fatalf("delete environment: %s", r)
	}
	if f := b.Get(loc, "HX-Request", "true"); f.StatusCode != http.StatusOK || strings.Contains(f.Body, `data-testid="flash"`) {
		t.Fatalf("fragment of %s: %d, flash in fragment: %v", loc, f.StatusCode, strings.Contains(f.Body, `data-testid="flash"`))
	}
	if n := b.Get(loc).Doc().Find("[data-testid=flash]").Length(); n != 1 {
		t.Errorf("the full page after the fragment shows %d notices, want 1", n)
	}
}
