package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"ppportal/internal/portaltest"
)

func TestApplicationsCatalog(t *testing.T) {
	_, b := envSignIn(t, portaltest.Options{})
	r := b.Get("/applications")
	envWant200(t, r)
	all := r.Doc().Find("[data-testid=package-row]").Length()
	if all < 10 {
		t.Fatalf("catalog rows = %d, want at least 10", all)
	}
	r = b.Get("/applications?q=field")
	envWant200(t, r)
	if got := envTexts(r, "[data-testid=package-row] strong"); len(got) != 1 || got[0] != "Dynamics 365 Field Service" {
		t.Errorf("q=field rows = %q, want [Dynamics 365 Field Service]", got)
	}
	r = b.Get("/applications?q=field", "HX-Request", "true")
	envWant200(t, r)
	if strings.Contains(r.Body, "<html") || r.Doc().Find("#applications-table").Length() != 1 {
		t.Errorf("htmx search did not answer the #applications-table fragment alone")
	}
	if r = b.Get("/applications?q=zzzz"); r.Doc().Find("[data-testid=empty]").Length() != 1 {
		t.Errorf("no empty state for a search without matches")
	}
	if r = b.Get("/applications?q=+field+&x=1"); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/applications?q=field" {
		t.Errorf("non-canonical catalog URL = %d %q, want 302 to /applications?q=field", r.StatusCode, r.Header.Get("Location"))
	}
	if r = b.Get("/applications?q=" + strings.Repeat("a", 10240)); r.StatusCode != http.StatusBadRequest {
		t.Errorf("10 KB search = %d, want 400", r.StatusCode)
	}
}

// installForm opens an environment's applications and returns the form
// values of the Install button of pkg.
func installForm(t *testing.T, b *portaltest.Browser, envID, pkg string) (string, url.Values) {
	t.Helper()
	r := b.Get("/environments/" + envID + "/applications")
	envWant200(t, r)
	form := r.Doc().Find("[data-package='" + pkg + "'] [data-testid=install-form]")
	if form.Length() != 1 {
		t.Fatalf("no install form for %s in %s", pkg, envID)
	}
	action, _ := form.Attr("action")
	vals := url.Values{}
	for _, in := range form.Find("input[type=hidden]").EachIter() {
		n, _ := in.Attr("name")
		v, _ := in.Attr("value")
		vals.Set(n, v)
	}
	return action, vals
}

// pollOperation polls an operation URL as htmx would until it is terminal.
func pollOperation(t *testing.T, b *portaltest.Browser, u string) *portaltest.Response {
	t.Helper()
	var r *portaltest.Response
	for i := 0; i < 100; i++ {
		r = b.Get(u, "HX-Request", "true")
		envWant200(t, r)
		if _, polling := r.Doc().Find("#operation-status").Attr("hx-trigger"); !polling {
			return r
		}
		if got := envAttr(r, "#operation-status", "hx-get"); got != u {
			t.Fatalf("polling region hx-get = %q, want %q", got, u)
		}
		waitStep()
	}
	t.Fatalf("operation %s still running after 100 polls", u)
	return nil
}

// notInstalled finds a package the environment does not have.
func notInstalled(t *testing.T, b *portaltest.Browser, envID string, skip string) string {
	t.Helper()
	r := b.Get("/environments/" + envID + "/applications")
	envWant200(t, r)
	for _, row := range r.Doc().Find("[data-testid=package-row]").EachIter() {
		p, _ := row.Attr("data-package")
		st, _ := row.Attr("data-state")
		if p != skip && (st == "NotInstalled" || st == "None") {
			return p
		}
	}
	t.Fatalf("every package is installed in %s", envID)
	return ""
}

func TestInstallToSucceeded(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	envID := envByName(t, env, "Contoso HR (Prod)").Name
	pkg := notInstalled(t, b, envID, env.Demo.Sim.FailingPackageUniqueName())
	action, vals := installForm(t, b, envID, pkg)
	r := b.Post(action, vals)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/environments/"+envID+"/operations/") {
		t.Fatalf("POST install = %d Location %q, want 303 to the operation", r.StatusCode, loc)
	}
	page := b.Get(loc)
	envWant200(t, page)
	if !strings.HasPrefix(page.Doc().Find("title").Text(), "Install "+pkg+" · Contoso HR (Prod)") {
		t.Errorf("operation title = %q", page.Doc().Find("title").Text())
	}
	last := pollOperation(t, b, loc)
	if got := envAttr(last, "#operation-status", "data-state"); got != "Succeeded" {
		t.Errorf("final state = %q, want Succeeded", got)
	}
	// The same URL opened fresh shows the current (terminal) state.
	again := env.NewBrowser(t).SignIn(loc, "admin@contoso.example")
	envWant200(t, again)
	if got := envAttr(again, "#operation-status", "data-state"); got != "Succeeded" {
		t.Errorf("reopened operation state = %q, want Succeeded", got)
	}
	if _, ok := again.Doc().Find("#operation-status").Attr("hx-trigger"); ok {
		t.Errorf("a terminal operation page still polls")
	}
	apps := b.Get("/environments/" + envID + "/applications")
	if got := envAttr(apps, "[data-package='"+pkg+"']", "data-state"); got != "Installed" {
		t.Errorf("package state after install = %q, want Installed", got)
	}
}

func TestInstallToFailed(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	envID := envByName(t, env, "Contoso HR (Prod)").Name
	pkg := env.Demo.Sim.FailingPackageUniqueName()
	action, vals := installForm(t, b, envID, pkg)
	r := b.Post(action, vals, "HX-Request", "true")
	loc := r.Header.Get("HX-Redirect")
	if r.StatusCode != http.StatusNoContent || loc == "" {
		t.Fatalf("htmx POST install = %d HX-Redirect %q, want 204 with HX-Redirect", r.StatusCode, loc)
	}
	last := pollOperation(t, b, loc)
	if got := envAttr(last, "#operation-status", "data-state"); got != "Failed" {
		t.Errorf("final state = %q, want Failed", got)
	}
	if msg := last.Doc().Find("[data-testid=operation-error]").Text(); !strings.Contains(msg, "missing dependency") {
		t.Errorf("failed operation error = %q, want the upstream message", msg)
	}
	apps := b.Get("/environments/" + envID + "/applications")
	row := apps.Doc().Find("[data-package='" + pkg + "']")
	if st, _ := row.Attr("data-state"); st != "InstallFailed" {
		t.Errorf("package state = %q, want InstallFailed", st)
	}
	if !strings.Contains(row.Find("[data-testid=package-error]").Text(), "missing dependency") {
		t.Errorf("package lastError not shown")
	}
}

func TestDoublePostedInstallStartsOne(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	envID := envByName(t, env, "Contoso HR (Prod)").Name
	pkg := notInstalled(t, b, envID, env.Demo.Sim.FailingPackageUniqueName())
	action, vals := installForm(t, b, envID, pkg)
	env.Demo.Sim.ResetCalls()

	first := b.Post(action, vals)
	second := b.Post(action, vals)
	if first.StatusCode != http.StatusSeeOther || second.StatusCode != http.StatusSeeOther {
		t.Fatalf("two POSTs = %d, %d; want 303, 303", first.StatusCode, second.StatusCode)
	}
	if a, b := first.Header.Get("Location"), second.Header.Get("Location"); a != b {
		t.Errorf("repeat POST went to %q, want the first operation %q", b, a)
	}
	// Concurrent clicks with a fresh token: one install.
	action, vals = installForm(t, b, envID, notInstalled(t, b, envID, pkg))
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Go(func() { codes[i] = b.Post(action, vals).StatusCode })
	}
	wg.Wait()
	if n := env.Demo.Sim.Calls("installApplicationPackage"); n != 2 {
		t.Errorf("installApplicationPackage calls = %d, want 2 (one per form token); statuses %v", n, codes)
	}
}

func TestInstallBadInput(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	envID := envByName(t, env, "Contoso HR (Prod)").Name
	env.Demo.Sim.ResetCalls()
	tok := b.CSRF()
	for _, tt := range []struct{ path string }{
		{"/environments/" + envID + "/applications/" + url.PathEscape("../x") + "/install"},
		{"/environments/nope/applications/CreatorKitCore/install"},
		{"/environments/" + envID + "/applications/CreatorKitCore/install"}, // no once token
	} {
		if r := b.Post(tt.path, url.Values{"csrf": {tok}}); r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s = %d, want 400", tt.path, r.StatusCode)
		}
	}
	if n := env.Demo.Sim.Calls("installApplicationPackage"); n != 0 {
		t.Errorf("installApplicationPackage calls = %d, want 0", n)
	}
	for _, p := range []string{"/environments/" + envID + "/operations/not-a-guid", "/environments/" + envID + "/operations/00000000-0000-0000-0000-000000000000?pkg=" + url.QueryEscape("<x>")} {
		if r := b.Get(p); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s = %d, want 400", p, r.StatusCode)
		}
	}
	if r := b.Get("/environments/" + envID + "/operations/00000000-0000-0000-0000-000000000000"); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET unknown operation = %d, want 404", r.StatusCode)
	}
}

func TestEnvironmentApplicationsWithoutDataverse(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	env.Demo.Sim.ResetCalls()
	r := b.Get("/environments/" + env.Demo.Sim.NoDataverseEnvironmentID() + "/applications")
	envWant200(t, r)
	if r.Doc().Find("[data-testid=no-dataverse]").Length() != 1 {
		t.Errorf("no 'no Dataverse' state")
	}
	if n := env.Demo.Sim.Calls("getEnvironmentApplicationPackages"); n != 0 {
		t.Errorf("package list calls = %d, want 0", n)
	}
}
