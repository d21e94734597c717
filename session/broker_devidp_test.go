package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"ppportal/session/devidp"
)

// devEnv is the dev identity provider (Entra-shaped: tid, oid, OBO with
// Entra's error bodies) with an Authenticator and a Broker on one clock.
type devEnv struct {
	p     *devidp.Provider
	srv   *httptest.Server
	clk   *testClock
	a     *Authenticator
	b     *Broker
	users map[string]devidp.User // by UPN
}

const devTenant = "72f988bf-0000-4000-8000-00000000c0de"

func newDevEnv(t *testing.T) *devEnv {
	t.Helper()
	e := &devEnv{clk: newTestClock(), users: map[string]devidp.User{}}
	users := append(devidp.DefaultUsers(devTenant), devidp.User{
		OID: "0b0b0b0b-0000-4000-8000-000000000005", UPN: "nosp@contoso.example",
		Name: "Nia NoSP", Admin: true, Behavior: devidp.NoServicePrincipal,
	})
	for _, u := range users {
		e.users[u.UPN] = u
	}
	p, err := devidp.New(devidp.Options{
		TenantID: devTenant,
		Users:    users,
		Now:      e.clk.Now,
		Clients: []devidp.Client{{
			ID: "portal-client", Secret: "portal-secret", RedirectURIs: []string{testRedirect},
		}},
	})
	if err != nil {
		t.Fatalf("devidp.New: %v", err)
	}
	e.p = p
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	mux.Handle("/", p.Handler(e.srv.URL))

	e.a, err = NewAuthenticator(context.Background(), Config{
		Authority:      e.srv.URL,
		TenantID:       p.TenantID(),
		ClientID:       "portal-client",
		ClientSecret:   "portal-secret",
		RedirectURL:    testRedirect,
		CookieKeyPairs: [][]byte{[]byte(strings.Repeat("h", 32)), []byte(strings.Repeat("b", 32))},
		HTTPClient:     e.srv.Client(),
		Now:            e.clk.Now,
	})
	if err != nil {
		t.Fatalf("NewAuthenticator(devidp) = %v", err)
	}
	e.b = NewBroker(e.a, BrokerOptions{})
	return e
}

// pick loads devidp's account picker for authURL and chooses upn (or
// cancels when upn is ""), returning the callback query.
func (e *devEnv) pick(t *testing.T, authURL *url.URL, upn string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("devidp authorize page: status %d, want 200", resp.StatusCode)
	}
	// The picker posts the authorize parameters back with the choice.
	form := authURL.Query()
	if upn == "" {
		form.Set("cancel", "1")
	} else {
		form.Set("user", e.users[upn].OID)
	}
	post := authURL.Scheme + "://" + authURL.Host + authURL.Path
	req, err := http.NewRequest(http.MethodPost, post, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("devidp account choice: status %d, Location %q; want 302", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

func (e *devEnv) begin(t *testing.T) (*url.URL, *http.Cookie) {
	t.Helper()
	return (&authEnv{a: e.a}).begin(t, "/environments", "")
}

func (e *devEnv) complete(q url.Values, ck *http.Cookie) (*SignIn, error) {
	si, err, _ := (&authEnv{a: e.a}).complete(q, ck)
	return si, err
}

// signIn signs upn in and returns a context carrying its session.
func (e *devEnv) signIn(t *testing.T, upn string) (context.Context, *fakeHolder) {
	t.Helper()
	u, ck := e.begin(t)
	si, err := e.complete(e.pick(t, u, upn), ck)
	if err != nil {
		t.Fatalf("sign-in of %s: %v", upn, err)
	}
	h := &fakeHolder{id: "sid-" + upn, user: si.User, toks: si.Tokens}
	return WithHolder(context.Background(), h), h
}

func TestBrokerDevIdPSignIn(t *testing.T) {
	e := newDevEnv(t)
	_, h := e.signIn(t, "admin@contoso.example")
	want := User{OID: e.users["admin@contoso.example"].OID, TenantID: devTenant, UPN: "admin@contoso.example", Name: "Avery Admin"}
	if diff := cmp.Diff(want, h.user); diff != "" {
		t.Errorf("devidp sign-in user (-want +got):\n%s", diff)
	}

	// Cancel on the picker -> access_denied.
	u, ck := e.begin(t)
	var ce *CallbackError
	if _, err := e.complete(e.pick(t, u, ""), ck); !errors.As(err, &ce) || ce.Reason != "access_denied" {
		t.Errorf("cancelled sign-in = %v, want access_denied", err)
	}

	// Code replay into a fresh flow -> exchange_failed (devidp: single-use codes).
	u1, ck1 := e.begin(t)
	q1 := e.pick(t, u1, "admin@contoso.example")
	if _, err := e.complete(q1, ck1); err != nil {
		t.Fatal(err)
	}
	u2, ck2 := e.begin(t)
	q2 := e.pick(t, u2, "admin@contoso.example")
	q2.Set("code", q1.Get("code"))
	if _, err := e.complete(q2, ck2); !errors.As(err, &ce) || ce.Reason != "exchange_failed" {
		t.Errorf("code replay against devidp = %v, want exchange_failed", err)
	}

	// After a key rollover the verifier fetches the new key by its kid.
	u3, ck3 := e.begin(t)
	q3 := e.pick(t, u3, "admin@contoso.example")
	e.p.RotateKey()
	if _, err := e.complete(q3, ck3); err != nil {
		t.Errorf("sign-in after key rotation = %v, want success (new key fetched)", err)
	}
}

func TestBrokerDevIdPConcurrent(t *testing.T) {
	e := newDevEnv(t)
	ctx, h := e.signIn(t, "admin@contoso.example")
	auds := map[string]string{scopePPAPI: "https://api.powerplatform.com", scopeBAP: "https://service.powerapps.com"}

	errs := concurrently(100, func(i int) error {
		scope := scopePPAPI
		if i%2 == 1 {
			scope = scopeBAP
		}
		tok, err := e.b.Token(ctx, scope)
		if err != nil {
			return err
		}
		c, err := e.p.ValidateAccessToken(tok, auds[scope])
		if err != nil {
			return err
		}
		if c.OID != h.user.OID {
			return errors.New("token of another user")
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Token call %d: %v", i, err)
		}
	}
	for _, aud := range auds {
		if n := e.p.Count("token:obo:" + aud); n != 1 {
			t.Errorf("devidp OBO exchanges for %s = %d, want 1", aud, n)
		}
	}

	// 20 concurrent requests with the user's token expired: one refresh, one OBO.
	e.clk.Advance(time.Hour)
	refreshes, obos := e.p.Count("token:refresh_token"), e.p.Count("token:obo:"+auds[scopePPAPI])
	errs = concurrently(20, func(int) error {
		_, err := e.b.Token(ctx, scopePPAPI)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Token call %d after expiry: %v", i, err)
		}
	}
	if n := e.p.Count("token:refresh_token") - refreshes; n != 1 {
		t.Errorf("devidp refreshes = %d, want 1", n)
	}
	if n := e.p.Count("token:obo:"+auds[scopePPAPI]) - obos; n != 1 {
		t.Errorf("devidp OBO exchanges after refresh = %d, want 1", n)
	}
}

func TestBrokerDevIdPErrors(t *testing.T) {
	e := newDevEnv(t)

	ctx, _ := e.signIn(t, "mfa@contoso.example")
	var ir *InteractionRequiredError
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.As(err, &ir) || ir.Claims == "" {
		t.Errorf("Token for an MFA account = %v, want *InteractionRequiredError with claims", err)
	} else {
		// Signing in again with the claims challenge satisfies it.
		rec := httptest.NewRecorder()
		raw, err := e.a.Begin(rec, "/environments", ir.Claims)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(raw)
		si, err := e.complete(e.pick(t, u, "mfa@contoso.example"), rec.Result().Cookies()[0])
		if err != nil {
			t.Fatalf("sign-in with claims: %v", err)
		}
		ctx2 := WithHolder(context.Background(), &fakeHolder{id: "sid-mfa2", user: si.User, toks: si.Tokens})
		if _, err := e.b.Token(ctx2, scopePPAPI); err != nil {
			t.Errorf("Token after answering the claims challenge = %v, want success", err)
		}
	}

	ctx, _ = e.signIn(t, "noconsent@contoso.example")
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("Token without consent = %v, want ErrConsentRequired", err)
	}

	ctx, _ = e.signIn(t, "nosp@contoso.example")
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.Is(err, ErrNoServicePrincipal) {
		t.Errorf("Token for PPAPI without its service principal = %v, want ErrNoServicePrincipal", err)
	}
	if _, err := e.b.Token(ctx, scopeBAP); err != nil {
		t.Errorf("Token for BAP in that tenant = %v, want success", err)
	}

	ctx, _ = e.signIn(t, "admin@contoso.example")
	e.p.SetFault("obo", devidp.Fault{Status: http.StatusServiceUnavailable})
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.Is(err, ErrTokenService) {
		t.Errorf("Token with the token endpoint at 503 = %v, want ErrTokenService", err)
	}
	e.p.SetFault("obo", devidp.Fault{})
	if _, err := e.b.Token(ctx, scopePPAPI); err != nil {
		t.Errorf("Token after the fault cleared = %v, want success", err)
	}
}
