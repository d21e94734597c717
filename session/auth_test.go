package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

const testRedirect = "https://portal.example/auth/callback"

// authEnv is one fake provider, clock and Authenticator.
type authEnv struct {
	f     *fakeIdP
	clk   *testClock
	a     *Authenticator
	strip *atomic.Bool // drop code_verifier from token requests
}

// stripVerifier is a transport that removes code_verifier from token
// requests while its flag is set: a client that forgot PKCE.
type stripVerifier struct {
	on   *atomic.Bool
	next http.RoundTripper
}

func (s stripVerifier) RoundTrip(r *http.Request) (*http.Response, error) {
	if !s.on.Load() || r.Method != http.MethodPost || r.Body == nil {
		return s.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	form.Del("code_verifier")
	enc := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(enc))
	r2.ContentLength = int64(len(enc))
	return s.next.RoundTrip(r2)
}

func newAuthEnv(t *testing.T, edit func(*Config)) *authEnv {
	t.Helper()
	e := &authEnv{clk: newTestClock(), strip: new(atomic.Bool)}
	e.f = newFakeIdP(t, e.clk)
	cfg := e.f.config(testRedirect)
	cfg.HTTPClient = &http.Client{Transport: stripVerifier{on: e.strip, next: e.f.srv.Client().Transport}}
	if edit != nil {
		edit(&cfg)
	}
	a, err := NewAuthenticator(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewAuthenticator: %v", err)
	}
	e.a = a
	return e
}

// begin runs Begin and returns the authorize URL and the flow cookie.
func (e *authEnv) begin(t *testing.T, returnTo, claims string) (*url.URL, *http.Cookie) {
	t.Helper()
	rec := httptest.NewRecorder()
	raw, err := e.a.Begin(rec, returnTo, claims)
	if err != nil {
		t.Fatalf("Begin(%q) error: %v", returnTo, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Begin set %d cookies, want 1", len(cookies))
	}
	return u, cookies[0]
}

// authorize follows the authorize URL at the fake provider over HTTP and
// returns the callback query it redirects to.
func (e *authEnv) authorize(t *testing.T, authURL *url.URL) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirect {
		t.Fatalf("authorize redirected to %q, want %q", got, testRedirect)
	}
	return loc.Query()
}

// complete delivers the callback.
func (e *authEnv) complete(q url.Values, cookies ...*http.Cookie) (*SignIn, error, *httptest.ResponseRecorder) {
	r := httptest.NewRequest(http.MethodGet, testRedirect+"?"+q.Encode(), nil)
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	si, err := e.a.Complete(rec, r)
	return si, err, rec
}

// signIn runs a whole successful flow.
func (e *authEnv) signIn(t *testing.T) *SignIn {
	t.Helper()
	u, ck := e.begin(t, "/environments", "")
	si, err, _ := e.complete(e.authorize(t, u), ck)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	return si
}

func TestAuthSignIn(t *testing.T) {
	e := newAuthEnv(t, nil)
	claims := `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`
	authURL, ck := e.begin(t, "/environments?sku=Sandbox&q=a%2Fb", claims)

	q := authURL.Query()
	wantParams := map[string]string{
		"client_id":             e.f.clientID,
		"response_type":         "code",
		"redirect_uri":          testRedirect,
		"scope":                 "openid profile offline_access api://" + e.f.clientID + "/access_as_user",
		"code_challenge_method": "S256",
		"claims":                claims,
	}
	for k, want := range wantParams {
		if got := q.Get(k); got != want {
			t.Errorf("authorize URL %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if got := len(q.Get(k)); got < 43 { // 32 bytes base64url
			t.Errorf("authorize URL %s has %d chars, want >= 43", k, got)
		}
		if strings.Contains(ck.Value, q.Get(k)) {
			t.Errorf("flow cookie contains %s in clear text", k)
		}
	}
	if q.Has("code_verifier") {
		t.Error("authorize URL carries code_verifier")
	}
	if q.Get("state") == q.Get("nonce") {
		t.Error("state == nonce, want independent values")
	}
	wantCookie := http.Cookie{Name: "portal-flow", Path: "/", MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	gotCookie := http.Cookie{Name: ck.Name, Path: ck.Path, MaxAge: ck.MaxAge, HttpOnly: ck.HttpOnly, Secure: ck.Secure, SameSite: ck.SameSite}
	if diff := cmp.Diff(wantCookie, gotCookie); diff != "" {
		t.Errorf("flow cookie attributes (-want +got):\n%s", diff)
	}

	cb := e.authorize(t, authURL)
	si, err, rec := e.complete(cb, ck)
	if err != nil {
		t.Fatalf("Complete = %v, want success", err)
	}
	now := e.clk.Now()
	if si.Tokens.AccessToken == "" || si.Tokens.RefreshToken == "" || si.Tokens.IDToken == "" {
		t.Errorf("Complete tokens = %+v, want access, refresh and ID tokens", si.Tokens)
	}
	if want := now.Add(time.Hour); !si.Tokens.Expiry.Equal(want) {
		t.Errorf("Complete expiry = %v, want %v", si.Tokens.Expiry, want)
	}
	if owner, ok := e.f.owner(si.Tokens.AccessToken); !ok || owner.aud != "api://"+e.f.clientID {
		t.Errorf("access token audience = %q, want the portal API", owner.aud)
	}
	got := SignIn{User: si.User, ReturnTo: si.ReturnTo, AuthTime: si.AuthTime}
	want := SignIn{
		User:     User{OID: "oid-admin", TenantID: e.f.tenant, UPN: "admin@contoso.example", Name: "Admin One"},
		ReturnTo: "/environments?sku=Sandbox&q=a%2Fb",
		AuthTime: time.Unix(now.Add(-time.Minute).Unix(), 0),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Complete (-want +got):\n%s", diff)
	}
	assertFlowCleared(t, rec)

	// The provider saw the PKCE verifier that matches the challenge.
	e.f.mu.Lock()
	form := e.f.forms[len(e.f.forms)-1]
	e.f.mu.Unlock()
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != q.Get("code_challenge") {
		t.Errorf("S256(code_verifier) = %q, want code_challenge %q", got, q.Get("code_challenge"))
	}
}

func assertFlowCleared(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == "portal-flow" || c.Name == "__Host-portal-flow" {
			if c.MaxAge >= 0 || c.Value != "" {
				t.Errorf("flow cookie after Complete: MaxAge %d value %q, want cleared", c.MaxAge, c.Value)
			}
			return
		}
	}
	t.Error("Complete did not clear the flow cookie")
}

func TestAuthSecureCookie(t *testing.T) {
	e := newAuthEnv(t, func(c *Config) { c.Secure = true })
	_, ck := e.begin(t, "", "")
	if ck.Name != "__Host-portal-flow" || !ck.Secure || ck.Path != "/" || ck.Domain != "" || !ck.HttpOnly {
		t.Errorf("secure flow cookie = %+v, want __Host-portal-flow, Secure, HttpOnly, Path=/, no Domain", ck)
	}
}

func TestAuthBeginRefusals(t *testing.T) {
	e := newAuthEnv(t, nil)
	for _, tc := range []struct{ returnTo, claims string }{
		{"//evil.example", ""},
		{"https://evil.example/", ""},
		{"/ok", "{not json"},
		{"/ok", `{"a":"` + strings.Repeat("x", 9000) + `"}`},
	} {
		rec := httptest.NewRecorder()
		if _, err := e.a.Begin(rec, tc.returnTo, tc.claims); err == nil {
			t.Errorf("Begin(%q, %.20q) = nil error, want refusal", tc.returnTo, tc.claims)
		}
		if n := len(rec.Result().Cookies()); n != 0 {
			t.Errorf("Begin(%q, %.20q) set %d cookies after refusing, want 0", tc.returnTo, tc.claims, n)
		}
	}
	// The longest accepted return path still fits a cookie.
	long := "/environments?q=" + strings.Repeat("a", maxReturnLen-len("/environments?q="))
	rec := httptest.NewRecorder()
	if _, err := e.a.Begin(rec, long, ""); err != nil {
		t.Fatalf("Begin(2 KB path) error: %v", err)
	}
	if c := rec.Result().Cookies()[0]; len(c.Name)+len(c.Value) > 4096 {
		t.Errorf("flow cookie for a 2 KB path is %d bytes, want <= 4096", len(c.Name)+len(c.Value))
	}
}

// TestAuthCallbackRejections is SECURITY.md G5: every tampered callback is
// refused with its reason, and the flow cookie is cleared.
func TestAuthCallbackRejections(t *testing.T) {
	otherKey := testKey(t, 1)
	mint := func(edit func(f *fakeIdP, c map[string]any) string) func(e *authEnv) {
		return func(e *authEnv) { e.f.mintID = func(f *fakeIdP, c map[string]any) string { return edit(f, c) } }
	}
	type tamperFunc func(t *testing.T, e *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie)
	keep := func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
		return q, []*http.Cookie{ck}
	}
	tests := []struct {
		name   string
		setup  func(e *authEnv)
		tamper tamperFunc
		reason string
		is     error // errors.Is on the CallbackError, if set
	}{
		{name: "state mismatch", reason: "state_mismatch", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			q.Set("state", q.Get("state")+"x")
			return q, []*http.Cookie{ck}
		}},
		{name: "state missing", reason: "state_mismatch", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			q.Del("state")
			return q, []*http.Cookie{ck}
		}},
		{name: "state repeated", reason: "state_mismatch", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			q.Add("state", "attacker")
			return q, []*http.Cookie{ck}
		}},
		{name: "missing flow cookie", reason: "missing_flow", tamper: func(_ *testing.T, _ *authEnv, q url.Values, _ *http.Cookie) (url.Values, []*http.Cookie) {
			return q, nil
		}},
		{name: "tampered flow cookie", reason: "missing_flow", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			b := []byte(ck.Value)
			b[len(b)/2] ^= 1
			return q, []*http.Cookie{{Name: ck.Name, Value: string(b)}}
		}},
		{name: "flow cookie of another deployment", reason: "missing_flow", tamper: func(t *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			other := newAuthEnv(t, func(c *Config) {
				c.CookieKeyPairs = [][]byte{[]byte(strings.Repeat("H", 32)), []byte(strings.Repeat("B", 32))}
			})
			_, ock := other.begin(t, "", "")
			return q, []*http.Cookie{ock}
		}},
		{name: "expired flow cookie", reason: "expired_flow", tamper: func(_ *testing.T, e *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			e.clk.Advance(flowTTL + time.Second)
			return q, []*http.Cookie{ck}
		}},
		{name: "replayed state", reason: "replayed_state", tamper: func(t *testing.T, e *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			if _, err, _ := e.complete(q, ck); err != nil {
				t.Fatalf("first Complete: %v", err)
			}
			return q, []*http.Cookie{ck} // the browser kept the cookie
		}},
		{name: "code replay", reason: "exchange_failed", is: ErrSignInRequired, tamper: func(t *testing.T, e *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			if _, err, _ := e.complete(q, ck); err != nil {
				t.Fatalf("first Complete: %v", err)
			}
			u2, ck2 := e.begin(t, "", "")
			q2 := e.authorize(t, u2)
			q2.Set("code", q.Get("code")) // a fresh flow, the old code
			return q2, []*http.Cookie{ck2}
		}},
		{name: "code injection (PKCE verifier mismatch)", reason: "exchange_failed", is: ErrSignInRequired, tamper: func(t *testing.T, e *authEnv, q url.Values, _ *http.Cookie) (url.Values, []*http.Cookie) {
			// The victim's flow receives the attacker's unused code.
			u2, ck2 := e.begin(t, "", "")
			q2 := e.authorize(t, u2)
			q2.Set("code", q.Get("code"))
			return q2, []*http.Cookie{ck2}
		}},
		{name: "missing PKCE verifier", reason: "exchange_failed", is: ErrSignInRequired, setup: func(e *authEnv) { e.strip.Store(true) }, tamper: keep},
		{name: "error=access_denied", reason: "access_denied", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "AADSTS65004: User declined to consent. Call +1-555-0100 now")
			return q, []*http.Cookie{ck}
		}},
		{name: "provider error", reason: "idp_error", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			q.Del("code")
			q.Set("error", "server_error")
			return q, []*http.Cookie{ck}
		}},
		{name: "mix-up: iss parameter of another provider", reason: "issuer_mismatch", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			q.Set("iss", "https://evil.example/tenant/v2.0")
			return q, []*http.Cookie{ck}
		}},
		{name: "no code", reason: "exchange_failed", tamper: func(_ *testing.T, _ *authEnv, q url.Values, ck *http.Cookie) (url.Values, []*http.Cookie) {
			q.Del("code")
			return q, []*http.Cookie{ck}
		}},
		{name: "token endpoint 503", reason: "exchange_failed", is: ErrTokenService,
			setup: func(e *authEnv) {
				e.f.setFault("authorization_code", fakeFault{503, `{"error":"temporarily_unavailable"}`})
			}, tamper: keep},
		{name: "nonce mismatch", reason: "nonce_mismatch", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			c["nonce"] = "another-nonce"
			return f.sign(c)
		})},
		{name: "nonce missing", reason: "nonce_mismatch", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			delete(c, "nonce")
			return f.sign(c)
		})},
		{name: "wrong issuer", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			c["iss"] = "https://evil.example/" + f.tenant + "/v2.0"
			return f.sign(c)
		})},
		{name: "issuer of another tenant", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			c["iss"] = f.srv.URL + "/99999999-2222-3333-4444-555555555555/v2.0"
			return f.sign(c)
		})},
		{name: "wrong audience", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			c["aud"] = "bbbbbbbb-0000-0000-0000-000000000002"
			return f.sign(c)
		})},
		{name: "extra audience", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			c["aud"] = []string{f.clientID, "bbbbbbbb-0000-0000-0000-000000000002"}
			return f.sign(c)
		})},
		{name: "expired ID token", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			now := f.clock.Now()
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
			return f.sign(c)
		})},
		{name: "alg none", reason: "invalid_id_token", tamper: keep, setup: mint(func(_ *fakeIdP, c map[string]any) string {
			return unsignedJWT(c)
		})},
		{name: "alg HS256 keyed with the public key", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			return signWith(f.key.PublicKey.N.Bytes(), f.kid, jose.HS256, c)
		})},
		{name: "wrong signing key", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			return signWith(otherKey, f.kid, jose.RS256, c)
		})},
		{name: "no ID token", reason: "invalid_id_token", tamper: keep, setup: mint(func(*fakeIdP, map[string]any) string {
			return ""
		})},
		{name: "wrong tenant", reason: "wrong_tenant", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			c["tid"] = "99999999-2222-3333-4444-555555555555"
			return f.sign(c)
		})},
		{name: "no tid", reason: "wrong_tenant", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			delete(c, "tid")
			return f.sign(c)
		})},
		{name: "no oid", reason: "invalid_id_token", tamper: keep, setup: mint(func(f *fakeIdP, c map[string]any) string {
			delete(c, "oid")
			return f.sign(c)
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newAuthEnv(t, nil)
			if tc.setup != nil {
				tc.setup(e)
			}
			authURL, ck := e.begin(t, "/environments", "")
			q, cookies := tc.tamper(t, e, e.authorize(t, authURL), ck)
			si, err, rec := e.complete(q, cookies...)
			if si != nil {
				t.Fatalf("Complete returned a sign-in for %s, want rejection", si.User.UPN)
			}
			var ce *CallbackError
			if !errors.As(err, &ce) {
				t.Fatalf("Complete error = %v, want *CallbackError", err)
			}
			if ce.Reason != tc.reason {
				t.Errorf("Complete reason = %q (%v), want %q", ce.Reason, err, tc.reason)
			}
			if ce.Description == "" || strings.Contains(ce.Description, "555") {
				t.Errorf("Complete description = %q, want a fixed sentence", ce.Description)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Complete error = %v, want errors.Is %v", err, tc.is)
			}
			assertFlowCleared(t, rec)
		})
	}
}

func TestAuthConfigRefusals(t *testing.T) {
	keys := [][]byte{[]byte(strings.Repeat("h", 32)), []byte(strings.Repeat("b", 32))}
	good := Config{
		Authority: "http://127.0.0.1:1", TenantID: "t", ClientID: "c", ClientSecret: "s",
		RedirectURL: "https://portal.example/auth/callback", CookieKeyPairs: keys,
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"http authority off loopback", func(c *Config) { c.Authority = "http://login.example" }},
		{"http authority lookalike of loopback", func(c *Config) { c.Authority = "http://127.0.0.1.evil.example" }},
		{"http authority localhost subdomain", func(c *Config) { c.Authority = "http://localhost.evil.example" }},
		{"ftp authority", func(c *Config) { c.Authority = "ftp://127.0.0.1" }},
		{"relative authority", func(c *Config) { c.Authority = "/login" }},
		{"http issuer off loopback", func(c *Config) { c.Issuer = "http://idp.example/oidc" }},
		{"http redirect off loopback", func(c *Config) { c.RedirectURL = "http://portal.example/auth/callback" }},
		{"no tenant", func(c *Config) { c.TenantID = "" }},
		{"tenant with a slash", func(c *Config) { c.TenantID = "a/b" }},
		{"no client id", func(c *Config) { c.ClientID = "" }},
		{"no client secret", func(c *Config) { c.ClientSecret = "" }},
		{"no cookie keys", func(c *Config) { c.CookieKeyPairs = nil }},
		{"sign-only cookie key", func(c *Config) { c.CookieKeyPairs = keys[:1] }},
		{"short hash key", func(c *Config) { c.CookieKeyPairs = [][]byte{[]byte("short"), keys[1]} }},
		{"bad block key", func(c *Config) { c.CookieKeyPairs = [][]byte{keys[0], []byte("12345")} }},
	}
	for _, tc := range tests {
		cfg := good
		tc.edit(&cfg)
		// Refusals happen before any network call: port 1 is never dialled.
		if a, err := NewAuthenticator(context.Background(), cfg); err == nil || a != nil || !strings.HasPrefix(err.Error(), "session: invalid sign-in configuration") {
			t.Errorf("NewAuthenticator(%s) = %v, %v; want a configuration error", tc.name, a, err)
		}
	}
}

func TestAuthCheckEndpointURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://login.example":             true,
		"http://127.0.0.1:8080":             true,
		"http://127.9.9.9":                  true,
		"http://[::1]:9000/x":               true,
		"http://localhost:8080":             true,
		"http://LOCALHOST":                  true,
		"http://10.0.0.1":                   false,
		"http://0.0.0.0":                    false,
		"http://[::ffff:7f00:1]":            true, // IPv4-mapped 127.0.0.1
		"http://127.0.0.1.nip.example":      false,
		"http://user@127.0.0.1":             false,
		"https://login.example/#frag":       false,
		"javascript:alert(1)":               false,
		"":                                  false,
		"https://":                          false,
		"http://localhost.attacker.example": false,
	} {
		if got := checkEndpointURL(raw) == nil; got != ok {
			t.Errorf("checkEndpointURL(%q) ok = %v, want %v", raw, got, ok)
		}
	}
}

func TestAuthEndSessionURL(t *testing.T) {
	e := newAuthEnv(t, nil)
	got, err := url.Parse(e.a.EndSessionURL("https://portal.example/", ""))
	if err != nil {
		t.Fatal(err)
	}
	if want := e.f.srv.URL + "/" + e.f.tenant + "/oauth2/v2.0/logout"; got.Scheme+"://"+got.Host+got.Path != want {
		t.Errorf("EndSessionURL endpoint = %q, want %q", got.Scheme+"://"+got.Host+got.Path, want)
	}
	wantQ := url.Values{"client_id": {e.f.clientID}, "post_logout_redirect_uri": {"https://portal.example/"}}
	if diff := cmp.Diff(wantQ, got.Query()); diff != "" {
		t.Errorf("EndSessionURL query (-want +got):\n%s", diff)
	}
}

func TestAuthRefresh(t *testing.T) {
	e := newAuthEnv(t, nil)
	si := e.signIn(t)
	e.clk.Advance(30 * time.Minute)
	tok, err := e.a.Refresh(context.Background(), si.Tokens.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh = %v", err)
	}
	if tok.AccessToken == "" || tok.AccessToken == si.Tokens.AccessToken || tok.RefreshToken == "" || tok.IDToken == "" {
		t.Errorf("Refresh tokens = %+v, want new access, refresh and ID tokens", tok)
	}
	if want := e.clk.Now().Add(time.Hour); !tok.Expiry.Equal(want) {
		t.Errorf("Refresh expiry = %v, want %v", tok.Expiry, want)
	}
	e.f.mu.Lock()
	form := e.f.forms[len(e.f.forms)-1]
	e.f.mu.Unlock()
	if got, want := form.Get("scope"), "openid profile offline_access api://"+e.f.clientID+"/access_as_user"; got != want {
		t.Errorf("refresh request scope = %q, want %q", got, want)
	}
	// The old refresh token was rotated away: invalid_grant -> sign in again.
	_, err = e.a.Refresh(context.Background(), si.Tokens.RefreshToken)
	if !errors.Is(err, ErrSignInRequired) {
		t.Errorf("Refresh(rotated token) = %v, want ErrSignInRequired", err)
	}
	if err != nil && strings.Contains(err.Error(), si.Tokens.RefreshToken) {
		t.Errorf("Refresh error %q contains the refresh token", err)
	}
	if _, err := e.a.Refresh(context.Background(), ""); !errors.Is(err, ErrSignInRequired) {
		t.Errorf("Refresh(\"\") = %v, want ErrSignInRequired", err)
	}
}

// TestAuthUsedStatesBound checks the replay set forgets expired states and
// never grows past its bound.
func TestAuthUsedStatesBound(t *testing.T) {
	now := time.Unix(1000, 0)
	u := newUsedStates(3)
	for _, s := range []string{"a", "b", "c"} {
		if !u.add(s, now.Add(time.Minute), now) {
			t.Fatalf("add(%q) = false, want true", s)
		}
	}
	if u.add("a", now.Add(time.Minute), now) {
		t.Error("add(a) again = true, want false (replay)")
	}
	if !u.add("d", now.Add(time.Minute), now) {
		t.Error("add(d) = false, want true")
	}
	if got := len(u.seen); got > 3 {
		t.Errorf("used set holds %d states, want <= 3", got)
	}
	later := now.Add(2 * time.Minute)
	if !u.add("e", later.Add(time.Minute), later) {
		t.Error("add(e) = false, want true")
	}
	if got := len(u.seen); got != 1 {
		t.Errorf("used set after expiry holds %d states, want 1", got)
	}
}
