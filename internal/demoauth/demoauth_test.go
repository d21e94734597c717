package demoauth_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ppportal/internal/demoauth"
	"ppportal/internal/portaltest"
)

const picker = `<html><body><form method="post" action="/t/oauth2/v2.0/authorize">
<input type="hidden" name="client_id" value="c1"><input type="hidden" name="state" value="s&amp;1">
<ul><li><button type="submit" name="user" value="oid-a"><span class="name">A</span> <span class="upn">a@contoso.example</span></button></li>
<li><button type="submit" name="user" value="oid-b"><span class="name">B</span> <span class="upn"> b@contoso.example </span></button></li></ul>
</form></body></html>`

func TestPickRequest(t *testing.T) {
	at, _ := url.Parse("http://127.0.0.1:1/t/oauth2/v2.0/authorize?client_id=c1")
	req, err := demoauth.PickRequest(at, strings.NewReader(picker), "b@contoso.example")
	if err != nil {
		t.Fatalf("PickRequest(b) error = %v", err)
	}
	if req.Method != http.MethodPost || req.URL.String() != "http://127.0.0.1:1/t/oauth2/v2.0/authorize" {
		t.Errorf("PickRequest(b) = %s %s, want POST http://127.0.0.1:1/t/oauth2/v2.0/authorize", req.Method, req.URL)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("PickRequest(b) Content-Type = %q, want a form", ct)
	}
	body, _ := io.ReadAll(req.Body)
	got, _ := url.ParseQuery(string(body))
	want := url.Values{"client_id": {"c1"}, "state": {"s&1"}, "user": {"oid-b"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("PickRequest(b) form (-want +got):\n%s", d)
	}

	if _, err := demoauth.PickRequest(at, strings.NewReader(picker), "c@contoso.example"); err == nil {
		t.Error("PickRequest(unknown account) error = nil, want an error")
	}
	if _, err := demoauth.PickRequest(at, strings.NewReader("<p>no form</p>"), "a@contoso.example"); err == nil {
		t.Error("PickRequest(page without form) error = nil, want an error")
	}
}

func TestSignIn(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c := demoauth.NewClient(10 * time.Second)
	p, err := demoauth.SignIn(ctx, c, env.URL, "/billing/policies", env.Demo.IDPURL, "admin@contoso.example")
	if err != nil {
		t.Fatalf("SignIn(admin) error = %v", err)
	}
	if p.Status != http.StatusOK || p.URL.Path != "/billing/policies" {
		t.Errorf("SignIn(admin) landed on %d %s, want 200 /billing/policies", p.Status, p.URL.Path)
	}
	u, _ := url.Parse(env.URL)
	if len(c.Jar.Cookies(u)) == 0 {
		t.Error("SignIn(admin) left no cookie for the portal in the jar")
	}

	// A client that is already signed in is not sent to the picker.
	if _, err := demoauth.SignIn(ctx, c, env.URL, "/environments", env.Demo.IDPURL, "admin@contoso.example"); err == nil {
		t.Error("SignIn(signed-in client) error = nil, want an error: no picker was reached")
	}
	if _, err := demoauth.SignIn(ctx, demoauth.NewClient(10*time.Second), env.URL, "/environments", env.Demo.IDPURL, "nobody@contoso.example"); err == nil {
		t.Error("SignIn(unknown account) error = nil, want an error")
	}
}
