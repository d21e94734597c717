package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	scopePPAPI = "https://api.powerplatform.com/.default"
	scopeBAP   = "https://service.powerapps.com/.default"
)

// fakeHolder is a TokenHolder whose UpdateTokens serializes on a mutex, as
// the real session does with its per-session lock.
type fakeHolder struct {
	id   string
	user User

	mu      sync.Mutex
	toks    Tokens
	updates int
}

var _ TokenHolder = (*fakeHolder)(nil)

func (h *fakeHolder) SessionID() string { return h.id }
func (h *fakeHolder) User() User        { return h.user }

func (h *fakeHolder) Tokens() Tokens {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.toks
}

func (h *fakeHolder) UpdateTokens(_ context.Context, fn func(Tokens) (Tokens, error)) (Tokens, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next, err := fn(h.toks)
	if err != nil {
		return Tokens{}, err
	}
	h.toks = next
	h.updates++
	return next, nil
}

// brokerEnv is a fake provider, an Authenticator and a Broker on one clock.
type brokerEnv struct {
	*authEnv
	b *Broker
}

func newBrokerEnv(t *testing.T) *brokerEnv {
	t.Helper()
	e := newAuthEnv(t, nil)
	return &brokerEnv{authEnv: e, b: NewBroker(e.a, BrokerOptions{})}
}

// holderFor signs in the next user and returns a context carrying them.
func (e *brokerEnv) holderFor(t *testing.T, u fakeUser) (context.Context, *fakeHolder) {
	t.Helper()
	e.f.queueUser(u)
	si := e.signIn(t)
	h := &fakeHolder{id: "sid-" + u.OID, user: si.User, toks: si.Tokens}
	return WithHolder(context.Background(), h), h
}

var (
	userAdmin = fakeUser{OID: "oid-admin", UPN: "admin@contoso.example", Name: "Admin One"}
	userOps   = fakeUser{OID: "oid-ops", UPN: "ops@contoso.example", Name: "Ops Two"}
)

// concurrently runs fn n times at once and returns the errors.
func concurrently(n int, fn func(i int) error) []error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestBrokerConcurrentExchange is SECURITY.md G9: 50 concurrent requests of
// one user with an empty cache make one OBO exchange per audience.
func TestBrokerConcurrentExchange(t *testing.T) {
	e := newBrokerEnv(t)
	ctx, h := e.holderFor(t, userAdmin)
	gate := make(chan struct{})
	e.f.mu.Lock()
	e.f.oboBlock = gate // hold the first exchanges so that the callers pile up
	e.f.mu.Unlock()

	var mu sync.Mutex
	got := map[string]map[string]bool{} // scope -> tokens seen
	var opened sync.Once
	errs := concurrently(100, func(i int) error {
		scope := scopePPAPI
		if i%2 == 1 {
			scope = scopeBAP
		}
		if i == 99 {
			opened.Do(func() { close(gate) })
		}
		tok, err := e.b.Token(ctx, scope)
		mu.Lock()
		defer mu.Unlock()
		if got[scope] == nil {
			got[scope] = map[string]bool{}
		}
		got[scope][tok] = true
		return err
	})
	opened.Do(func() { close(gate) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Token call %d: %v", i, err)
		}
	}
	for _, scope := range []string{scopePPAPI, scopeBAP} {
		if n := e.f.count("obo " + scope); n != 1 {
			t.Errorf("OBO exchanges for %s = %d, want 1", scope, n)
		}
		if n := len(got[scope]); n != 1 {
			t.Errorf("distinct tokens for %s = %d, want 1", scope, n)
		}
		for tok := range got[scope] {
			owner, ok := e.f.owner(tok)
			if !ok || owner.user.OID != h.user.OID || owner.aud != strings.TrimSuffix(scope, "/.default") {
				t.Errorf("token for %s belongs to %+v, want %s for that audience", scope, owner, h.user.OID)
			}
		}
	}
	// Cached from now on.
	if _, err := e.b.Token(ctx, scopePPAPI); err != nil {
		t.Fatal(err)
	}
	if n := e.f.count("obo " + scopePPAPI); n != 1 {
		t.Errorf("OBO exchanges after a cached call = %d, want 1", n)
	}
}

// TestBrokerConcurrentRefresh is SECURITY.md G9: 20 concurrent requests with
// an expired user token refresh it once and exchange once.
func TestBrokerConcurrentRefresh(t *testing.T) {
	e := newBrokerEnv(t)
	ctx, h := e.holderFor(t, userAdmin)
	if _, err := e.b.Token(ctx, scopePPAPI); err != nil {
		t.Fatal(err)
	}
	old := h.Tokens()
	e.clk.Advance(time.Hour) // the user's token (1 h) has expired
	refreshes, obos := e.f.count("refresh_token"), e.f.count("obo "+scopePPAPI)

	errs := concurrently(20, func(int) error {
		_, err := e.b.Token(ctx, scopePPAPI)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Token call %d: %v", i, err)
		}
	}
	if n := e.f.count("refresh_token") - refreshes; n != 1 {
		t.Errorf("refreshes = %d, want 1", n)
	}
	if n := e.f.count("obo "+scopePPAPI) - obos; n != 1 {
		t.Errorf("OBO exchanges after the refresh = %d, want 1", n)
	}
	now := h.Tokens()
	if now.AccessToken == old.AccessToken || now.Expired(e.clk.Now(), 2*time.Minute) {
		t.Errorf("holder tokens after refresh = expiry %v, want a new, fresh access token", now.Expiry)
	}
	if now.RefreshToken == old.RefreshToken || now.RefreshToken == "" {
		t.Error("holder refresh token was not rotated")
	}
}

func TestBrokerErrors(t *testing.T) {
	claims := `{"access_token":{"capolids":{"essential":true,"values":["c1"]}}}`
	tests := []struct {
		name  string
		fault fakeFault
		is    error
		check func(t *testing.T, err error)
	}{
		{
			name:  "interaction_required",
			fault: fakeFault{400, fmt.Sprintf(`{"error":"interaction_required","error_description":"AADSTS50079: Due to a configuration change made by your administrator, you must enroll in multi-factor authentication.","error_codes":[50079],"suberror":"basic_action","claims":%q}`, claims)},
			check: func(t *testing.T, err error) {
				var ir *InteractionRequiredError
				if !errors.As(err, &ir) {
					t.Fatalf("Token error = %v, want *InteractionRequiredError", err)
				}
				if ir.Claims != claims {
					t.Errorf("InteractionRequiredError.Claims = %q, want %q", ir.Claims, claims)
				}
				if ir.Description == "" || strings.Contains(ir.Description, "AADSTS") {
					t.Errorf("InteractionRequiredError.Description = %q, want a fixed sentence", ir.Description)
				}
			},
		},
		{name: "consent (65001)", is: ErrConsentRequired, fault: fakeFault{400, `{"error":"invalid_grant","error_description":"AADSTS65001: The user or administrator has not consented to use the application.","error_codes":[65001],"suberror":"consent_required"}`}},
		{name: "consent (suberror only)", is: ErrConsentRequired, fault: fakeFault{400, `{"error":"invalid_grant","suberror":"consent_required"}`}},
		{name: "no service principal (500011)", is: ErrNoServicePrincipal, fault: fakeFault{400, `{"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named https://api.powerplatform.com was not found in the tenant.","error_codes":[500011]}`}},
		{name: "no service principal (code only)", is: ErrNoServicePrincipal, fault: fakeFault{400, `{"error":"invalid_request","error_codes":[500011]}`}},
		{name: "assertion expired", is: ErrSignInRequired, fault: fakeFault{400, `{"error":"invalid_grant","error_codes":[500133]}`}},
		{name: "503", is: ErrTokenService, fault: fakeFault{503, `<html>Service Unavailable</html>`}},
		{name: "500 JSON", is: ErrTokenService, fault: fakeFault{500, `{"error":"server_error"}`}},
		{name: "temporarily_unavailable", is: ErrTokenService, fault: fakeFault{400, `{"error":"temporarily_unavailable"}`}},
		{name: "invalid_client", fault: fakeFault{401, `{"error":"invalid_client","error_codes":[7000215]}`}, check: func(t *testing.T, err error) {
			for _, k := range []error{ErrSignInRequired, ErrConsentRequired, ErrNoServicePrincipal, ErrTokenService} {
				if errors.Is(err, k) {
					t.Errorf("Token error = %v, want none of the user-facing kinds", err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newBrokerEnv(t)
			ctx, h := e.holderFor(t, userAdmin)
			e.f.setFault("obo "+scopePPAPI, tc.fault)
			tok, err := e.b.Token(ctx, scopePPAPI)
			if err == nil || tok != "" {
				t.Fatalf("Token = %q, %v; want an error", tok, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Token error = %v, want errors.Is %v", err, tc.is)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
			for _, secret := range []string{h.toks.AccessToken, h.toks.RefreshToken, e.f.secret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Token error %q contains a token or secret", err)
				}
			}
			// Failures are not cached: once the fault clears, it works.
			e.f.clearFault("obo " + scopePPAPI)
			if _, err := e.b.Token(ctx, scopePPAPI); err != nil {
				t.Errorf("Token after the fault cleared = %v, want success", err)
			}
		})
	}
}

func TestBrokerUnreachable(t *testing.T) {
	e := newBrokerEnv(t)
	ctx, _ := e.holderFor(t, userAdmin)
	e.f.srv.Close()
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.Is(err, ErrTokenService) {
		t.Errorf("Token with the provider down = %v, want ErrTokenService", err)
	}
}

func TestBrokerSignInRequired(t *testing.T) {
	e := newBrokerEnv(t)
	if _, err := e.b.Token(context.Background(), scopePPAPI); !errors.Is(err, ErrSignInRequired) {
		t.Errorf("Token without a holder = %v, want ErrSignInRequired", err)
	}

	// An expired user token whose refresh token was revoked.
	ctx, h := e.holderFor(t, userAdmin)
	e.clk.Advance(time.Hour)
	e.f.setFault("refresh_token", fakeFault{400, `{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked.","error_codes":[50173]}`})
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.Is(err, ErrSignInRequired) {
		t.Errorf("Token with a revoked refresh token = %v, want ErrSignInRequired", err)
	}
	if n := e.f.count("obo " + scopePPAPI); n != 0 {
		t.Errorf("OBO exchanges with a failed refresh = %d, want 0", n)
	}

	// A refresh needing MFA surfaces the claims challenge.
	e.f.setFault("refresh_token", fakeFault{400, `{"error":"interaction_required","error_codes":[50076],"claims":"{\"access_token\":{}}"}`})
	var ir *InteractionRequiredError
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.As(err, &ir) || ir.Claims != `{"access_token":{}}` {
		t.Errorf("Token with refresh interaction_required = %v, want *InteractionRequiredError with claims", err)
	}

	// No refresh token at all.
	h.mu.Lock()
	h.toks.RefreshToken = ""
	h.mu.Unlock()
	if _, err := e.b.Token(ctx, scopePPAPI); !errors.Is(err, ErrSignInRequired) {
		t.Errorf("Token without a refresh token = %v, want ErrSignInRequired", err)
	}

	if _, err := e.b.Token(ctx, "https://a/.default https://b/.default"); err == nil {
		t.Error("Token with two scopes = nil error, want a refusal")
	}
}

// TestBrokerUsersIsolated checks that two users, even with the same UPN,
// never share a cache entry, and that Forget drops only one user's tokens.
func TestBrokerUsersIsolated(t *testing.T) {
	e := newBrokerEnv(t)
	twin := fakeUser{OID: "oid-twin", UPN: userAdmin.UPN, Name: "Same UPN, other object"}
	ctxA, hA := e.holderFor(t, userAdmin)
	ctxB, hB := e.holderFor(t, userOps)
	ctxT, hT := e.holderFor(t, twin)

	tokens := map[string]string{}
	for _, c := range []struct {
		ctx context.Context
		h   *fakeHolder
	}{{ctxA, hA}, {ctxB, hB}, {ctxT, hT}} {
		tok, err := e.b.Token(c.ctx, scopePPAPI)
		if err != nil {
			t.Fatal(err)
		}
		owner, ok := e.f.owner(tok)
		if !ok || owner.user.OID != c.h.user.OID {
			t.Errorf("Token for %s belongs to %q, want %q", c.h.user.OID, owner.user.OID, c.h.user.OID)
		}
		tokens[c.h.user.OID] = tok
	}
	if n := e.f.count("obo " + scopePPAPI); n != 3 {
		t.Errorf("OBO exchanges for 3 users = %d, want 3", n)
	}
	if len(map[string]bool{tokens["oid-admin"]: true, tokens["oid-ops"]: true, tokens["oid-twin"]: true}) != 3 {
		t.Error("two users got the same token")
	}

	e.b.Forget(hA.user)
	tokA, err := e.b.Token(ctxA, scopePPAPI)
	if err != nil {
		t.Fatal(err)
	}
	tokB, err := e.b.Token(ctxB, scopePPAPI)
	if err != nil {
		t.Fatal(err)
	}
	if tokA == tokens["oid-admin"] || tokB != tokens["oid-ops"] {
		t.Errorf("after Forget(admin): admin token renewed = %v, ops token kept = %v; want true, true",
			tokA != tokens["oid-admin"], tokB == tokens["oid-ops"])
	}
	if n := e.f.count("obo " + scopePPAPI); n != 4 {
		t.Errorf("OBO exchanges after Forget = %d, want 4", n)
	}
}

// TestBrokerCacheExpiry checks tokens are reused until Skew before expiry.
func TestBrokerCacheExpiry(t *testing.T) {
	e := newBrokerEnv(t)
	e.f.mu.Lock()
	e.f.accessTTL = 3 * time.Hour // keep the user's own token valid
	e.f.mu.Unlock()
	ctx, _ := e.holderFor(t, userAdmin)
	first, err := e.b.Token(ctx, scopePPAPI)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Hour - defaultSkew - time.Second)
	if tok, err := e.b.Token(ctx, scopePPAPI); err != nil || tok != first {
		t.Errorf("Token just before the skew window = %.12q, %v; want the cached token", tok, err)
	}
	e.clk.Advance(2 * time.Second)
	tok, err := e.b.Token(ctx, scopePPAPI)
	if err != nil || tok == first {
		t.Errorf("Token inside the skew window = %.12q, %v; want a new token", tok, err)
	}
	if n := e.f.count("obo " + scopePPAPI); n != 2 {
		t.Errorf("OBO exchanges = %d, want 2", n)
	}
}

func TestBrokerCacheKey(t *testing.T) {
	a := User{TenantID: "t1", OID: "o1"}
	b := User{TenantID: "t1", OID: "o2"}
	tenantSwap := User{TenantID: "t1o", OID: "1"} // naive concatenation would collide
	k := oboKey(a, "assertion-1", scopePPAPI)
	for _, other := range []string{
		oboKey(a, "assertion-2", scopePPAPI),
		oboKey(a, "assertion-1", scopeBAP),
		oboKey(b, "assertion-1", scopePPAPI),
		oboKey(tenantSwap, "assertion-1", scopePPAPI),
	} {
		if other == k {
			t.Errorf("oboKey collision: %q", k)
		}
	}
	if !strings.HasPrefix(k, userPrefix(a)) || strings.HasPrefix(k, userPrefix(b)) {
		t.Errorf("oboKey(a) = %q, want it under userPrefix(a) only", k)
	}
	if strings.Contains(k, "assertion-1") || strings.Contains(k, "o1") {
		t.Errorf("oboKey = %q, want no raw assertion or account id", k)
	}
}

func TestBrokerMemoryCacheBound(t *testing.T) {
	clk := newTestClock()
	c := newMemoryCache(3, clk.Now)
	ctx := context.Background()
	for i, exp := range []time.Duration{time.Hour, 3 * time.Hour, 2 * time.Hour, 4 * time.Hour} {
		if err := c.Set(ctx, fmt.Sprint("k", i), "v", clk.Now().Add(exp)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.entries); n != 3 {
		t.Errorf("memory cache holds %d entries, want 3", n)
	}
	if _, _, ok, _ := c.Get(ctx, "k0"); ok {
		t.Error("Get(k0) found the entry expiring soonest, want it evicted")
	}
	clk.Advance(150 * time.Minute)
	if _, _, ok, _ := c.Get(ctx, "k2"); ok {
		t.Error("Get(k2) after expiry = found, want miss")
	}
	if _, _, ok, _ := c.Get(ctx, "k3"); !ok {
		t.Error("Get(k3) = miss, want found")
	}
}
