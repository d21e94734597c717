package session

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/oauth2-proxy/mockoidc"
)

// TestAuthMockOIDC signs in over real HTTP against mockoidc, an independent
// standards-only OpenID provider: browser -> /signin -> provider authorize
// -> /auth/callback. mockoidc's issuer is its own URL ("<addr>/oidc") and its
// tokens carry no tid or oid, so the Authenticator runs with Config.Issuer
// and identifies users by (iss, sub).
func TestAuthMockOIDC(t *testing.T) {
	const appScope = "api://portal-test/access_as_user"
	// mockoidc refuses scopes outside its package-level list; extend it
	// before its server goroutine starts, restore it after shutdown.
	saved := mockoidc.ScopesSupported
	mockoidc.ScopesSupported = append(slices.Clone(saved), "offline_access", appScope)
	t.Cleanup(func() { mockoidc.ScopesSupported = saved })
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })

	var a *Authenticator
	mux := http.NewServeMux()
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		ret, _ := SafeReturn(r.URL.Query().Get("return"))
		authURL, err := a.Begin(w, ret, "")
		if err != nil {
			http.Error(w, "begin failed", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, authURL, http.StatusFound)
	})
	mux.HandleFunc("GET /auth/callback", func(w http.ResponseWriter, r *http.Request) {
		si, err := a.Complete(w, r)
		var ce *CallbackError
		if errors.As(err, &ce) {
			http.Error(w, ce.Reason, http.StatusForbidden)
			return
		}
		if err != nil {
			http.Error(w, "error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"user": si.User, "return": si.ReturnTo,
			"tokens": si.Tokens.AccessToken != "" && si.Tokens.RefreshToken != "" && si.Tokens.IDToken != "",
		})
	})
	portal := httptest.NewServer(mux)
	t.Cleanup(portal.Close)

	cfg := m.Config()
	a, err = NewAuthenticator(context.Background(), Config{
		Issuer:         cfg.Issuer,
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		RedirectURL:    portal.URL + "/auth/callback",
		AppScope:       appScope,
		CookieKeyPairs: [][]byte{[]byte(strings.Repeat("k", 32)), []byte(strings.Repeat("e", 16))},
	})
	if err != nil {
		t.Fatalf("NewAuthenticator(mockoidc) = %v", err)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var callback *url.URL
	browser := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Path == "/auth/callback" {
			callback = r.URL
		}
		return nil
	}}
	resp, err := browser.Get(portal.URL + "/signin?return=" + url.QueryEscape("/environments?sku=Sandbox"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in ended with %d %q, want 200", resp.StatusCode, body)
	}
	var got struct {
		User   User
		Return string
		Tokens bool
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := struct {
		User   User
		Return string
		Tokens bool
	}{
		User:   User{OID: mockoidc.DefaultUser().Subject, TenantID: cfg.Issuer, UPN: mockoidc.DefaultUser().PreferredUsername},
		Return: "/environments?sku=Sandbox",
		Tokens: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mockoidc sign-in (-want +got):\n%s", diff)
	}
	portalURL, _ := url.Parse(portal.URL)
	for _, c := range jar.Cookies(portalURL) {
		if c.Name == flowCookieName {
			t.Errorf("flow cookie %q still in the browser after sign-in", c.Name)
		}
	}

	// Replaying the callback (same state and code) is refused.
	if code := getStatus(t, browser, callback.String()); code != http.StatusForbidden {
		t.Errorf("callback replay: status %d, want 403", code)
	}

	// Code replay: a new flow fed the first flow's code; mockoidc refuses it.
	stop := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Path == "/auth/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err = stop.Get(portal.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	next, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || next.Path != "/auth/callback" {
		t.Fatalf("second flow stopped at %q, want the callback", resp.Header.Get("Location"))
	}
	q := next.Query()
	q.Set("code", callback.Query().Get("code"))
	next.RawQuery = q.Encode()
	resp, err = browser.Get(next.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.TrimSpace(string(body)) != "exchange_failed" {
		t.Errorf("code replay: %d %q, want 403 exchange_failed", resp.StatusCode, body)
	}
}

func getStatus(t *testing.T, c *http.Client, u string) int {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
