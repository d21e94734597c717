package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"ppportal/internal/portaltest"
)

func TestBulkInstallWithOneFailingEnvironment(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	sim := env.Demo.Sim
	// A package that installs, into two environments that take it and
	// one that cannot (no Dataverse).
	good := "CreatorKitCore"
	ids := []string{
		envByName(t, env, "Contoso HR (Prod)").Name,
		envByName(t, env, "Contoso Sales (Test)").Name,
		sim.NoDataverseEnvironmentID(),
	}

	r := b.Get("/bulk/installs/new?pkg=" + good + "&env=" + ids[0] + "&env=" + ids[1])
	envWant200(t, r)
	if got := envAttr(r, "#bulk-pkg option[selected]", "value"); got != good {
		t.Errorf("preselected package = %q, want %s", got, good)
	}
	if n := r.Doc().Find("[data-testid=bulk-choice] input:checked").Length(); n != 2 {
		t.Errorf("preselected environments = %d, want 2", n)
	}
	once := envAttr(r, "[data-testid=bulk-form] input[name=once]", "value")
	form := url.Values{"csrf": {b.CSRF()}, "once": {once}, "pkg": {good}, "env": ids}
	sim.ResetCalls()
	r = b.Post("/bulk/installs", form)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/bulk/installs?pkg="+good) {
		t.Fatalf("POST bulk = %d Location %q, want 303 to the bulk page", r.StatusCode, loc)
	}
	if n := sim.Calls("installApplicationPackage"); n != 3 {
		t.Errorf("installs started = %d, want 3", n)
	}
	// A double post starts nothing more.
	if r2 := b.Post("/bulk/installs", form); r2.StatusCode != http.StatusSeeOther {
		t.Errorf("repeat POST bulk = %d, want 303", r2.StatusCode)
	}
	if n := sim.Calls("installApplicationPackage"); n != 3 {
		t.Errorf("installs after a repeat POST = %d, want 3", n)
	}

	page := b.Get(loc)
	envWant200(t, page)
	if n := page.Doc().Find("[data-testid=bulk-row]").Length(); n != 3 {
		t.Fatalf("bulk rows = %d, want 3", n)
	}
	if got := strings.TrimSpace(page.Doc().Find("[data-testid=bulk-row] a").First().Text()); got != "Contoso HR (Prod)" {
		t.Errorf("first row names %q, want Contoso HR (Prod)", got)
	}
	var last *portaltest.Response
	for i := 0; i < 100; i++ {
		last = b.Get(loc, "HX-Request", "true")
		envWant200(t, last)
		if envAttr(last, "#bulk-status", "data-done") == "true" {
			break
		}
		if n := last.Doc().Find("[data-testid=bulk-op-status][hx-swap-oob=true]").Length(); n != 3 {
			t.Fatalf("fragment row updates = %d, want 3 out-of-band", n)
		}
		waitStep()
	}
	if envAttr(last, "#bulk-status", "data-done") != "true" {
		t.Fatalf("bulk install not done after 100 polls")
	}
	if _, ok := last.Doc().Find("#bulk-status").Attr("hx-trigger"); ok {
		t.Errorf("the finished summary still polls")
	}
	states := map[string]string{}
	for _, s := range last.Doc().Find("[data-testid=bulk-op-status]").EachIter() {
		id, _ := s.Attr("data-env-id")
		st, _ := s.Attr("data-state")
		states[id] = st
	}
	want := map[string]string{ids[0]: "Succeeded", ids[1]: "Succeeded", ids[2]: "NotStarted"}
	for id, w := range want {
		if states[id] != w {
			t.Errorf("row %s state = %q, want %q", id, states[id], w)
		}
	}
	if got := strings.TrimSpace(last.Doc().Find("[data-testid=bulk-count-Succeeded]").Text()); got != "2 Succeeded" {
		t.Errorf("summary Succeeded = %q, want 2 Succeeded", got)
	}
	// Reopened from its URL, the page shows the same finished state.
	again := env.NewBrowser(t).SignIn(loc, "admin@contoso.example")
	envWant200(t, again)
	if envAttr(again, "#bulk-status", "data-done") != "true" || again.Doc().Find("[data-testid=bulk-summary]").Length() != 1 {
		t.Errorf("reopened bulk page is not finished with a summary")
	}
}

func TestBulkInstallWithFailingPackage(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	sim := env.Demo.Sim
	pkg := sim.FailingPackageUniqueName()
	ids := []string{envByName(t, env, "Contoso HR (Prod)").Name, envByName(t, env, "Copilot Studio Pilot").Name}
	r := b.Get("/bulk/installs/new?pkg=" + pkg + "&env=" + ids[0] + "&env=" + ids[1])
	envWant200(t, r)
	once := envAttr(r, "[data-testid=bulk-form] input[name=once]", "value")
	r = b.Post("/bulk/installs", url.Values{"csrf": {b.CSRF()}, "once": {once}, "pkg": {pkg}, "env": ids})
	loc := r.Header.Get("Location")
	var last *portaltest.Response
	for i := 0; i < 100; i++ {
		last = b.Get(loc)
		envWant200(t, last)
		if envAttr(last, "#bulk-status", "data-done") == "true" {
			break
		}
		waitStep()
	}
	if got := strings.TrimSpace(last.Doc().Find("[data-testid=bulk-count-Failed]").Text()); got != "2 Failed" {
		t.Errorf("summary = %q, want 2 Failed", last.Doc().Find("[data-testid=bulk-summary]").Text())
	}
	if n := last.Doc().Find("[data-testid=bulk-op-error]").Length(); n != 2 {
		t.Errorf("row errors shown = %d, want 2", n)
	}
}

func TestBulkInvalidURLs(t *testing.T) {
	env, b := envSignIn(t, portaltest.Options{})
	id := envByName(t, env, "Contoso HR (Prod)").Name
	env.Demo.Sim.ResetCalls()
	for _, q := range []string{
		"",
		"pkg=CreatorKitCore",
		"pkg=CreatorKitCore&op=" + id,
		"pkg=CreatorKitCore&op=" + id + ":nope",
		"pkg=CreatorKitCore&failed=" + id + ":whatever",
		"pkg=" + url.QueryEscape("../x") + "&op=" + id + ":00000000-0000-0000-0000-000000000001",
		"pkg=CreatorKitCore&op=" + id + ":00000000-0000-0000-0000-000000000001&op=" + id + ":00000000-0000-0000-0000-000000000002",
		"pkg=CreatorKitCore&op=" + id + ":00000000-0000-0000-0000-000000000001&x=1",
	} {
		if r := b.Get("/bulk/installs?" + q); r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /bulk/installs?%s = %d, want 400", q, r.StatusCode)
		}
	}
	if n := env.Demo.Sim.Calls(""); n != 0 {
		t.Errorf("upstream calls = %d, want 0", n)
	}
}

func TestBulkNewFromFilters(t *testing.T) {
	_, b := envSignIn(t, portaltest.Options{})
	r := b.Get("/bulk/installs/new?sku=Production")
	envWant200(t, r)
	for _, c := range r.Doc().Find("[data-testid=bulk-choice]").EachIter() {
		if !strings.Contains(c.Text(), "Production") {
			t.Errorf("choice %q is not a Production environment", strings.TrimSpace(c.Text()))
		}
	}
	if n, c := r.Doc().Find("[data-testid=bulk-choice]").Length(), r.Doc().Find("[data-testid=bulk-choice] input:checked").Length(); n == 0 || n != c {
		t.Errorf("choices %d, checked %d: want all of a small filtered set checked", n, c)
	}
}
