package devidp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
)

func TestDiscoveryAndJWKSVerifyTokens(t *testing.T) {
	e := newEnv(t, nil)
	pg := e.get(e.url("/v2.0/.well-known/openid-configuration"))
	if pg.status != http.StatusOK {
		t.Fatalf("GET discovery = %d, want 200", pg.status)
	}
	var doc struct {
		Issuer            string   `json:"issuer"`
		Authorization     string   `json:"authorization_endpoint"`
		Token             string   `json:"token_endpoint"`
		JWKS              string   `json:"jwks_uri"`
		EndSession        string   `json:"end_session_endpoint"`
		ResponseTypes     []string `json:"response_types_supported"`
		Algs              []string `json:"id_token_signing_alg_values_supported"`
		ChallengeMethods  []string `json:"code_challenge_methods_supported"`
		ScopesSupported   []string `json:"scopes_supported"`
		GrantTypesSupport []string `json:"grant_types_supported"`
	}
	if err := json.Unmarshal([]byte(pg.body), &doc); err != nil {
		t.Fatal(err)
	}
	issuer := e.srv.URL + "/" + e.p.TenantID() + "/v2.0"
	if got := e.p.Issuer(e.srv.URL); got != issuer {
		t.Errorf("Issuer(%q) = %q, want %q", e.srv.URL, got, issuer)
	}
	want := map[string]string{
		"issuer": issuer, "authorization_endpoint": e.url("/oauth2/v2.0/authorize"),
		"token_endpoint": e.url("/oauth2/v2.0/token"), "jwks_uri": e.url("/discovery/v2.0/keys"),
		"end_session_endpoint": e.url("/oauth2/v2.0/logout"),
	}
	got := map[string]string{
		"issuer": doc.Issuer, "authorization_endpoint": doc.Authorization, "token_endpoint": doc.Token,
		"jwks_uri": doc.JWKS, "end_session_endpoint": doc.EndSession,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovery endpoints (-want +got):\n%s", diff)
	}
	for name, pair := range map[string][2][]string{
		"response_types_supported":              {doc.ResponseTypes, {"code"}},
		"id_token_signing_alg_values_supported": {doc.Algs, {"RS256"}},
		"code_challenge_methods_supported":      {doc.ChallengeMethods, {"S256"}},
	} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Errorf("discovery %s = %v, want %v", name, pair[0], pair[1])
		}
	}
	if !slices.Contains(doc.ScopesSupported, "openid") || !slices.Contains(doc.GrantTypesSupport, grantJWTBearer) {
		t.Errorf("discovery scopes %v / grants %v lack openid / jwt-bearer", doc.ScopesSupported, doc.GrantTypesSupport)
	}

	keys := e.get(doc.JWKS)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(keys.body), &set); err != nil {
		t.Fatalf("JWKS is not a key set: %v", err)
	}
	if len(set.Keys) != 1 || set.Keys[0].KeyID == "" || set.Keys[0].Use != "sig" || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS = %+v, want one public signing key with a kid", set.Keys)
	}

	tokens := e.signIn("admin@contoso.example", nil)
	admin := e.user("admin@contoso.example")

	// ID token: verified with the published key only.
	var id struct {
		jwt.Claims
		Nonce     string `json:"nonce"`
		OID       string `json:"oid"`
		TID       string `json:"tid"`
		UPN       string `json:"upn"`
		Preferred string `json:"preferred_username"`
		Name      string `json:"name"`
		Ver       string `json:"ver"`
		AuthTime  int64  `json:"auth_time"`
	}
	verifyWithJWKS(t, set, tokens.IDToken, &id)
	if err := id.Claims.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{portalID}, Time: e.clock.Now()}, 0); err != nil {
		t.Errorf("ID token claims: %v", err)
	}
	gotID := []string{id.Nonce, id.OID, id.TID, id.UPN, id.Preferred, id.Name, id.Ver}
	wantID := []string{"n-456", admin.OID, e.p.TenantID(), admin.UPN, admin.UPN, admin.Name, "2.0"}
	if diff := cmp.Diff(wantID, gotID); diff != "" {
		t.Errorf("ID token nonce/oid/tid/upn/preferred_username/name/ver (-want +got):\n%s", diff)
	}
	if id.Subject == "" || id.AuthTime != e.clock.Now().Unix() || id.NotBefore == nil || id.IssuedAt == nil {
		t.Errorf("ID token sub=%q auth_time=%d nbf=%v iat=%v, want all set", id.Subject, id.AuthTime, id.NotBefore, id.IssuedAt)
	}

	// Access token for the portal's own API.
	var at struct {
		jwt.Claims
		Scp  string   `json:"scp"`
		Wids []string `json:"wids"`
		Ver  string   `json:"ver"`
		OID  string   `json:"oid"`
	}
	verifyWithJWKS(t, set, tokens.AccessToken, &at)
	if err := at.Claims.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{portalID}, Time: e.clock.Now()}, 0); err != nil {
		t.Errorf("access token claims: %v", err)
	}
	if at.Scp != "access_as_user" || !slices.Equal(at.Wids, []string{PowerPlatformAdminRoleID}) || at.Ver != "2.0" || at.OID != admin.OID {
		t.Errorf("access token scp=%q wids=%v ver=%q oid=%q, want access_as_user, [admin role], 2.0, %s", at.Scp, at.Wids, at.Ver, at.OID, admin.OID)
	}
}

func verifyWithJWKS(t *testing.T, set jose.JSONWebKeySet, token string, dest any) {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("ParseSigned = %v", err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys for kid %q, want 1", len(keys), tok.Headers[0].KeyID)
	}
	if err := tok.Claims(keys[0].Key, dest); err != nil {
		t.Fatalf("verify with JWKS key = %v", err)
	}
}

func TestCodeFlowWithPKCE(t *testing.T) {
	e := newEnv(t, nil)
	v, ch := pkcePair("flow")
	params := authParams(ch)
	pg := e.get(e.url("/oauth2/v2.0/authorize?" + params.Encode()))
	if pg.status != http.StatusOK {
		t.Fatalf("GET authorize = %d, want 200", pg.status)
	}
	csp := pg.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "form-action 'self' https://portal.example", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("authorize CSP = %q, want it to contain %q", csp, want)
		}
	}
	if strings.Contains(pg.body, "<script") || strings.Contains(pg.body, " style=") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("authorize page has inline script or style, or CSP allows it")
	}
	// The one <style> element is allowed by its hash; nothing else is.
	if m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(pg.body); m == nil {
		t.Errorf("authorize page has no style element")
	} else {
		sum := sha256.Sum256([]byte(m[1]))
		if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
			t.Errorf("authorize CSP = %q, want it to contain %q (the page style's hash)", csp, want)
		}
	}
	if !strings.Contains(pg.body, "Dev identity provider — choose an account") || !strings.Contains(pg.body, `<html lang="en">`) {
		t.Errorf("authorize page lacks its heading or language")
	}
	_, hidden, accounts, _ := pickerForm(t, pg.body)
	if len(accounts) != 4 {
		t.Errorf("picker lists %d accounts, want 4 (%v)", len(accounts), accounts)
	}
	for _, k := range []string{"client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		if hidden.Get(k) != params.Get(k) {
			t.Errorf("hidden %s = %q, want %q", k, hidden.Get(k), params.Get(k))
		}
	}

	code := e.code(params, "admin@contoso.example")
	// Client authentication with HTTP Basic, form-encoded inside as x/oauth2 does.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {portalRedirect}, "code_verifier": {v}}
	req := http.Header{}
	r0, _ := http.NewRequest(http.MethodPost, "/", nil)
	r0.SetBasicAuth(url.QueryEscape(portalID), url.QueryEscape(portalSecret))
	req.Set("Authorization", r0.Header.Get("Authorization"))
	r := e.token(form, req)
	if r.status != http.StatusOK {
		t.Fatalf("redeem = %d %s %s, want 200", r.status, r.Error, r.ErrorDescription)
	}
	if r.TokenType != "Bearer" || r.ExpiresIn != 3600 || r.IDToken == "" || r.RefreshToken == "" {
		t.Errorf("token response type=%q expires_in=%d id_token?%v refresh_token?%v, want Bearer 3600 and both tokens",
			r.TokenType, r.ExpiresIn, r.IDToken != "", r.RefreshToken != "")
	}
	if !strings.Contains(r.Scope, "api://"+portalID+"/access_as_user") {
		t.Errorf("token scope = %q, want the portal API scope", r.Scope)
	}
	if strings.HasPrefix(r.RefreshToken, "eyJ") || strings.Count(r.RefreshToken, ".") > 1 {
		t.Errorf("refresh token %q looks like a JWT", r.RefreshToken)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token Cache-Control = %q, want no-store", cc)
	}
	c, err := e.p.ValidateAccessToken(r.AccessToken, portalID)
	if err != nil {
		t.Fatalf("ValidateAccessToken(access token, portal) = %v", err)
	}
	admin := e.user("admin@contoso.example")
	want := Claims{OID: admin.OID, TID: e.p.TenantID(), UPN: admin.UPN, Name: admin.Name, Scp: "access_as_user", Aud: portalID,
		Wids: []string{PowerPlatformAdminRoleID}, Exp: e.clock.Now().Add(time.Hour), AMR: []string{"pwd"}, AppID: portalID}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("ValidateAccessToken claims (-want +got):\n%s", diff)
	}
	if err := e.p.AuthorizeAPI(r.AccessToken, portalID); err != nil {
		t.Errorf("AuthorizeAPI(admin) = %v, want nil", err)
	}
	if _, err := e.p.ValidateAccessToken(r.IDToken, portalID); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("ValidateAccessToken(ID token) = %v, want ErrInvalidToken", err)
	}
	for kind, n := range map[string]int{"authorize": 2, "authorize:post": 1, "token": 1, "token:authorization_code": 1} {
		if got := e.p.Count(kind); got != n {
			t.Errorf("Count(%q) = %d, want %d", kind, got, n)
		}
	}
}

func TestCodeSingleUseAndBound(t *testing.T) {
	e := newEnv(t, nil)
	v, ch := pkcePair("replay")
	code := e.code(authParams(ch), "admin@contoso.example")
	first := e.redeem(code, v)
	if first.status != http.StatusOK {
		t.Fatalf("first redeem = %d %s, want 200", first.status, first.ErrorDescription)
	}
	wantError(t, "replayed code", e.redeem(code, v), http.StatusBadRequest, "invalid_grant", 54005)
	if _, err := e.p.ValidateAccessToken(first.AccessToken, portalID); err != nil {
		t.Errorf("token of the first redemption after a replay: %v, want still valid (Entra only refuses)", err)
	}

	// Another client cannot redeem the portal's code, even with its own secret.
	v2, ch2 := pkcePair("bound")
	code2 := e.code(authParams(ch2), "admin@contoso.example")
	r := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code2}, "redirect_uri": {portalRedirect},
		"code_verifier": {v2}, "client_id": {otherID}, "client_secret": {otherSecret}}, nil)
	wantError(t, "code of another client", r, http.StatusBadRequest, "invalid_grant", 70000)

	// A different redirect_uri is refused.
	v3, ch3 := pkcePair("redir")
	code3 := e.code(authParams(ch3), "admin@contoso.example")
	r = e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code3}, "redirect_uri": {portalRedirect + "x"},
		"code_verifier": {v3}, "client_id": {portalID}, "client_secret": {portalSecret}}, nil)
	wantError(t, "redirect_uri mismatch at token", r, http.StatusBadRequest, "invalid_grant", 500112)

	// Codes expire after ten minutes.
	v4, ch4 := pkcePair("late")
	code4 := e.code(authParams(ch4), "admin@contoso.example")
	e.clock.Advance(10 * time.Minute)
	wantError(t, "expired code", e.redeem(code4, v4), http.StatusBadRequest, "invalid_grant", 70008)
}

func TestPKCEVerifierRequired(t *testing.T) {
	tests := []struct {
		name     string
		verifier func(good string) string
		aadsts   int
	}{
		{"wrong verifier", func(string) string { v, _ := pkcePair("someone-else"); return v }, 50148},
		{"missing verifier", func(string) string { return "" }, 501481},
		{"verifier equal to challenge (plain)", func(string) string { _, ch := pkcePair("pkce"); return ch }, 50148},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			v, ch := pkcePair("pkce")
			code := e.code(authParams(ch), "admin@contoso.example")
			wantError(t, "redeem", e.redeem(code, tc.verifier(v)), http.StatusBadRequest, "invalid_grant", tc.aadsts)
			// The code was used up by the failed attempt.
			wantError(t, "redeem after failure", e.redeem(code, v), http.StatusBadRequest, "invalid_grant", 54005)
		})
	}
}

func TestRefreshTokenRotation(t *testing.T) {
	e := newEnv(t, nil)
	first := e.signIn("admin@contoso.example", nil)
	e.clock.Advance(30 * time.Minute)
	second := e.refresh(first.RefreshToken, "")
	if second.status != http.StatusOK {
		t.Fatalf("refresh = %d %s, want 200", second.status, second.ErrorDescription)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.IDToken == "" {
		t.Errorf("refresh returned refresh_token %q (old %q), id_token?%v; want a new one and an ID token",
			second.RefreshToken, first.RefreshToken, second.IDToken != "")
	}
	c, err := e.p.ValidateAccessToken(second.AccessToken, portalID)
	if err != nil || !c.Exp.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("refreshed access token: claims exp %v err %v, want exp %v", c.Exp, err, e.clock.Now().Add(time.Hour))
	}
	wantError(t, "old refresh token reused", e.refresh(first.RefreshToken, ""), http.StatusBadRequest, "invalid_grant", 70000)
	if third := e.refresh(second.RefreshToken, ""); third.status != http.StatusOK {
		t.Errorf("refresh with the rotated token = %d %s, want 200", third.status, third.ErrorDescription)
	}
	if got := e.p.Count("token:refresh_token"); got != 3 {
		t.Errorf("Count(token:refresh_token) = %d, want 3", got)
	}

	// Without offline_access Entra issues no refresh token.
	v, ch := pkcePair("no-offline")
	params := authParams(ch)
	params.Set("scope", "openid profile api://"+portalID+"/access_as_user")
	if r := e.redeem(e.code(params, "admin@contoso.example"), v); r.status != http.StatusOK || r.RefreshToken != "" {
		t.Errorf("redeem without offline_access = %d, refresh_token %q; want 200 and none", r.status, r.RefreshToken)
	}
}

func TestConcurrentRedemptionsSucceedOnce(t *testing.T) {
	e := newEnv(t, nil)
	v, ch := pkcePair("race")
	code := e.code(authParams(ch), "admin@contoso.example")
	tokens := e.signIn("reader@contoso.example", nil)
	const n = 16
	var wg sync.WaitGroup
	codeOK, refreshOK := make([]bool, n), make([]bool, n)
	for i := range n {
		wg.Go(func() {
			codeOK[i] = e.redeem(code, v).status == http.StatusOK
			refreshOK[i] = e.refresh(tokens.RefreshToken, "").status == http.StatusOK
		})
	}
	wg.Wait()
	count := func(b []bool) int { return len(slices.DeleteFunc(slices.Clone(b), func(ok bool) bool { return !ok })) }
	if got := count(codeOK); got != 1 {
		t.Errorf("%d concurrent redemptions of one code succeeded %d times, want 1", n, got)
	}
	if got := count(refreshOK); got != 1 {
		t.Errorf("%d concurrent uses of one refresh token succeeded %d times, want 1", n, got)
	}
}

func TestOBOBothAudiences(t *testing.T) {
	e := newEnv(t, nil)
	tokens := e.signIn("admin@contoso.example", nil)
	for _, aud := range []string{unifiedAud, bapAud} {
		r := e.obo(tokens.AccessToken, aud+"/.default")
		if r.status != http.StatusOK {
			t.Fatalf("OBO %s = %d %s, want 200", aud, r.status, r.ErrorDescription)
		}
		if r.RefreshToken != "" || r.IDToken != "" {
			t.Errorf("OBO %s returned refresh or ID token, want only an access token", aud)
		}
		c, err := e.p.ValidateAccessToken(r.AccessToken, aud)
		if err != nil || c.Aud != aud || c.OID != e.user("admin@contoso.example").OID || c.Scp != "user_impersonation" {
			t.Errorf("OBO %s token: claims %+v err %v, want aud %s for the admin", aud, c, err, aud)
		}
		if err := e.p.AuthorizeAPI(r.AccessToken, aud); err != nil {
			t.Errorf("AuthorizeAPI(OBO %s) = %v, want nil", aud, err)
		}
		if _, err := e.p.ValidateAccessToken(r.AccessToken, portalID); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("ValidateAccessToken(OBO %s token, portal) = %v, want ErrInvalidToken", aud, err)
		}
	}
	// A sovereign audience and extra OpenID scopes (which MSAL adds) are accepted.
	if r := e.obo(tokens.AccessToken, "https://api.gov.powerplatform.microsoft.us/.default openid offline_access profile"); r.status != http.StatusOK {
		t.Errorf("OBO sovereign = %d %s, want 200", r.status, r.ErrorDescription)
	}
	for _, scope := range []string{unifiedAud + "/.default " + bapAud + "/.default", unifiedAud, "http://api.powerplatform.com/.default", "User.Read"} {
		wantError(t, "OBO scope "+scope, e.obo(tokens.AccessToken, scope), http.StatusBadRequest, "invalid_scope", 70011)
	}
	for kind, n := range map[string]int{"token:obo": 7, "token:obo:" + unifiedAud: 1, "token:obo:" + bapAud: 1} {
		if got := e.p.Count(kind); got != n {
			t.Errorf("Count(%q) = %d, want %d", kind, got, n)
		}
	}
}

func TestOBORefusesForeignAssertions(t *testing.T) {
	e := newEnv(t, nil)
	portal := e.signIn("admin@contoso.example", nil)

	// A token the other app got for its own API.
	v, ch := pkcePair("other")
	params := authParams(ch)
	params.Set("client_id", otherID)
	params.Set("redirect_uri", otherRedirect)
	params.Set("scope", "openid api://"+otherID+"/access_as_user")
	code := e.code(params, "admin@contoso.example")
	other := e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {otherRedirect},
		"code_verifier": {v}, "client_id": {otherID}, "client_secret": {otherSecret}}, nil)
	if other.status != http.StatusOK {
		t.Fatalf("other client redeem = %d %s", other.status, other.ErrorDescription)
	}

	// A Graph token: signed in without asking for the portal API.
	v2, ch2 := pkcePair("graph")
	params2 := authParams(ch2)
	params2.Set("scope", "openid profile")
	graph := e.redeem(e.code(params2, "admin@contoso.example"), v2)

	tests := []struct {
		name, assertion string
		aadsts          int
	}{
		{"access token for another app", other.AccessToken, 50013},
		{"Graph access token", graph.AccessToken, 50013},
		{"ID token", portal.IDToken, 50013},
		{"not a JWT", "0.Aopaque", 50027},
		{"tampered signature", portal.AccessToken[:len(portal.AccessToken)-4] + "AAAA", 50013},
	}
	for _, tc := range tests {
		wantError(t, "OBO with "+tc.name, e.obo(tc.assertion, unifiedAud+"/.default"), http.StatusBadRequest, "invalid_grant", tc.aadsts)
	}
}

func TestOBOInteractionRequiredThenSatisfied(t *testing.T) {
	e := newEnv(t, nil)
	before := e.signIn("mfa@contoso.example", nil)
	r := e.obo(before.AccessToken, unifiedAud+"/.default")
	wantError(t, "OBO for the MFA user", r, http.StatusBadRequest, "interaction_required", 50079)
	var challenge struct {
		AccessToken struct {
			Capolids struct {
				Essential bool     `json:"essential"`
				Values    []string `json:"values"`
			} `json:"capolids"`
		} `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(r.Claims), &challenge); err != nil || !challenge.AccessToken.Capolids.Essential || len(challenge.AccessToken.Capolids.Values) != 1 {
		t.Fatalf("claims challenge = %q (%v), want access_token.capolids essential with one value", r.Claims, err)
	}

	// Signing in again with the challenge satisfies it.
	pg := e.get(e.url("/oauth2/v2.0/authorize?" + func() string {
		p := authParams("x")
		p.Set("code_challenge", strings.Repeat("A", 43))
		p.Set("claims", r.Claims)
		return p.Encode()
	}()))
	if !strings.Contains(pg.body, `data-testid="claims-notice"`) {
		t.Errorf("authorize page with claims does not say a challenge is being answered")
	}
	after := e.signIn("mfa@contoso.example", url.Values{"claims": {r.Claims}})
	ok := e.obo(after.AccessToken, unifiedAud+"/.default")
	if ok.status != http.StatusOK {
		t.Fatalf("OBO after the claims sign-in = %d %s, want 200", ok.status, ok.ErrorDescription)
	}
	c, err := e.p.ValidateAccessToken(ok.AccessToken, unifiedAud)
	if err != nil || !slices.Contains(c.AMR, "mfa") {
		t.Errorf("OBO token after MFA: amr %v err %v, want mfa", c.AMR, err)
	}
	// Tokens from the earlier sign-in still fail, and a refresh keeps MFA.
	wantError(t, "OBO with the pre-MFA token", e.obo(before.AccessToken, bapAud+"/.default"), http.StatusBadRequest, "interaction_required", 50079)
	rt := e.refresh(after.RefreshToken, "")
	if got := e.obo(rt.AccessToken, bapAud+"/.default"); got.status != http.StatusOK {
		t.Errorf("OBO with a token refreshed from the MFA sign-in = %d %s, want 200", got.status, got.ErrorDescription)
	}
	if got := e.p.Count("authorize:claims"); got != 2 {
		t.Errorf("Count(authorize:claims) = %d, want 2", got)
	}
}

func TestOBOConsentRequiredShape(t *testing.T) {
	e := newEnv(t, nil)
	tokens := e.signIn("noconsent@contoso.example", nil)
	const corr = "0f4c7d5e-1a2b-4c3d-8e9f-a0b1c2d3e4f5"
	r := e.token(url.Values{"grant_type": {grantJWTBearer}, "requested_token_use": {"on_behalf_of"},
		"assertion": {tokens.AccessToken}, "scope": {bapAud + "/.default"}, "client_id": {portalID}, "client_secret": {portalSecret}},
		http.Header{"Client-Request-Id": {corr}})
	wantError(t, "OBO without consent", r, http.StatusBadRequest, "invalid_grant", 65001)
	if r.Suberror != "consent_required" || !strings.HasPrefix(r.ErrorDescription, "AADSTS65001: ") || r.CorrelationID != corr {
		t.Errorf("consent error suberror=%q description=%q correlation=%q, want consent_required, AADSTS65001 prefix, %s",
			r.Suberror, r.ErrorDescription, r.CorrelationID, corr)
	}
	if !strings.Contains(r.ErrorDescription, "\r\nTrace ID: "+r.TraceID) {
		t.Errorf("description %q does not end with the trace id as Entra's do", r.ErrorDescription)
	}
	if _, err := time.Parse("2006-01-02 15:04:05Z", r.Timestamp); err != nil {
		t.Errorf("timestamp %q is not in Entra's format: %v", r.Timestamp, err)
	}
}

func TestOBONoServicePrincipalUnifiedOnly(t *testing.T) {
	users := []User{{OID: "7d1e0f3a-2b4c-4d5e-8f6a-7b8c9d0e1f2a", UPN: "nosp@fabrikam.example", Name: "No SP", Admin: true, Behavior: NoServicePrincipal}}
	e := newEnv(t, users)
	tokens := e.signIn("nosp@fabrikam.example", nil)
	wantError(t, "OBO unified without SP", e.obo(tokens.AccessToken, unifiedAud+"/.default"), http.StatusBadRequest, "invalid_resource", 500011)
	if r := e.obo(tokens.AccessToken, bapAud+"/.default"); r.status != http.StatusOK {
		t.Errorf("OBO BAP without unified SP = %d %s, want 200", r.status, r.ErrorDescription)
	}
	// The same check applies to a refresh token redeemed for the resource.
	wantError(t, "refresh for unified without SP", e.refresh(tokens.RefreshToken, unifiedAud+"/.default"), http.StatusBadRequest, "invalid_resource", 500011)
	r := e.refresh(tokens.RefreshToken, bapAud+"/.default")
	if r.status != http.StatusOK {
		t.Fatalf("refresh for BAP (refresh token kept after the refused request) = %d %s, want 200", r.status, r.ErrorDescription)
	}
	if _, err := e.p.ValidateAccessToken(r.AccessToken, bapAud); err != nil {
		t.Errorf("refresh-for-resource token: %v, want aud %s", err, bapAud)
	}
}

func TestAuthorizeAPIRoles(t *testing.T) {
	e := newEnv(t, nil)
	reader := e.obo(e.signIn("reader@contoso.example", nil).AccessToken, unifiedAud+"/.default")
	if err := e.p.AuthorizeAPI(reader.AccessToken, unifiedAud); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("AuthorizeAPI(reader) = %v, want ErrNotAdmin", err)
	}
	if _, err := e.p.ValidateAccessToken(reader.AccessToken, unifiedAud); err != nil {
		t.Errorf("ValidateAccessToken(reader) = %v, want nil (valid, just not admin)", err)
	}
	for _, tok := range []string{"", "not-a-token", "a.b.c"} {
		if err := e.p.AuthorizeAPI(tok, unifiedAud); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("AuthorizeAPI(%q) = %v, want ErrInvalidToken", tok, err)
		}
	}
}

func TestExpiredTokensRejected(t *testing.T) {
	e := newEnv(t, nil)
	tokens := e.signIn("admin@contoso.example", nil)
	e.clock.Advance(time.Hour - time.Second)
	if _, err := e.p.ValidateAccessToken(tokens.AccessToken, portalID); err != nil {
		t.Fatalf("ValidateAccessToken one second before expiry = %v, want nil", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.p.ValidateAccessToken(tokens.AccessToken, portalID); !errors.Is(err, ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("ValidateAccessToken at expiry = %v, want an expired ErrInvalidToken", err)
	}
	wantError(t, "OBO with an expired assertion", e.obo(tokens.AccessToken, unifiedAud+"/.default"), http.StatusBadRequest, "invalid_grant", 500133)
}

func TestRotateKey(t *testing.T) {
	e := newEnv(t, nil)
	tokens := e.signIn("admin@contoso.example", nil)
	kidOf := func() string {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(e.get(e.url("/discovery/v2.0/keys")).body), &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("JWKS = %v keys, err %v; want 1", len(set.Keys), err)
		}
		return set.Keys[0].KeyID
	}
	old := kidOf()
	e.p.RotateKey()
	if now := kidOf(); now == old {
		t.Errorf("kid after RotateKey = %q, want a new one", now)
	}
	if _, err := e.p.ValidateAccessToken(tokens.AccessToken, portalID); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("ValidateAccessToken(old-key token) = %v, want ErrInvalidToken", err)
	}
	wantError(t, "OBO with an old-key assertion", e.obo(tokens.AccessToken, unifiedAud+"/.default"), http.StatusBadRequest, "invalid_grant", 50013)
}

func TestTokenFaultInjection(t *testing.T) {
	e := newEnv(t, nil)
	tokens := e.signIn("admin@contoso.example", nil)

	e.p.SetFault("refresh_token", Fault{Status: http.StatusServiceUnavailable, Count: 1, RetryAfter: 2 * time.Second})
	r := e.refresh(tokens.RefreshToken, "")
	wantError(t, "faulted refresh", r, http.StatusServiceUnavailable, "temporarily_unavailable", 90033)
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want 2", got)
	}
	// The fault consumed nothing and was used up.
	r = e.refresh(tokens.RefreshToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("refresh after a one-shot fault = %d %s, want 200", r.status, r.ErrorDescription)
	}

	e.p.SetFault("obo", Fault{Error: "interaction_required"})
	for range 2 {
		f := e.obo(r.AccessToken, bapAud+"/.default")
		wantError(t, "faulted OBO", f, http.StatusBadRequest, "interaction_required", 50079)
		if f.Claims == "" {
			t.Errorf("faulted interaction_required has no claims challenge")
		}
	}
	e.p.SetFault("obo", Fault{})
	if f := e.obo(r.AccessToken, bapAud+"/.default"); f.status != http.StatusOK {
		t.Errorf("OBO after clearing the fault = %d %s, want 200", f.status, f.ErrorDescription)
	}

	e.p.SetFault("", Fault{Error: "invalid_grant", Count: 2})
	wantError(t, "all-grants fault (refresh)", e.refresh(r.RefreshToken, ""), http.StatusBadRequest, "invalid_grant", 70000)
	wantError(t, "all-grants fault (OBO)", e.obo(r.AccessToken, unifiedAud+"/.default"), http.StatusBadRequest, "invalid_grant", 70000)
	if f := e.refresh(r.RefreshToken, ""); f.status != http.StatusOK {
		t.Errorf("refresh after the fault ran out = %d %s, want 200", f.status, f.ErrorDescription)
	}
	for kind, n := range map[string]int{"token:refresh_token": 4, "token:obo": 4, "token:obo:" + bapAud: 3, "token": 9} {
		if got := e.p.Count(kind); got != n {
			t.Errorf("Count(%q) = %d, want %d", kind, got, n)
		}
	}
}

func TestClientAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	v, ch := pkcePair("client")
	code := e.code(authParams(ch), "admin@contoso.example")
	base := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {portalRedirect}, "code_verifier": {v}}
	with := func(kv ...string) url.Values {
		f := url.Values{}
		for k, vs := range base {
			f[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	basic := func(id, secret string) http.Header {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(id, secret)
		return http.Header{"Authorization": r.Header["Authorization"]}
	}
	tests := []struct {
		name   string
		form   url.Values
		hdr    http.Header
		status int
		code   string
		aadsts int
	}{
		{"wrong secret in form", with("client_id", portalID, "client_secret", "nope"), nil, 401, "invalid_client", 7000215},
		{"wrong secret in Basic", base, basic(portalID, "nope"), 401, "invalid_client", 7000215},
		{"other client's secret", with("client_id", portalID, "client_secret", otherSecret), nil, 401, "invalid_client", 7000215},
		{"no secret", with("client_id", portalID), nil, 401, "invalid_client", 7000218},
		{"unknown client", with("client_id", "ffffffff-ffff-4fff-8fff-ffffffffffff", "client_secret", "x"), nil, 400, "unauthorized_client", 700016},
		{"no client", base, nil, 400, "invalid_request", 900144},
		{"repeated parameter", func() url.Values {
			f := with("client_id", portalID, "client_secret", portalSecret)
			f.Add("code", "x")
			return f
		}(), nil, 400, "invalid_request", 90015},
	}
	for _, tc := range tests {
		wantError(t, tc.name, e.token(tc.form, tc.hdr), tc.status, tc.code, tc.aadsts)
	}
	// Failed client authentication consumed nothing.
	if r := e.redeem(code, v); r.status != http.StatusOK {
		t.Errorf("redeem after refused client auth = %d %s, want 200", r.status, r.ErrorDescription)
	}
	wantError(t, "unsupported grant", e.token(url.Values{"grant_type": {"password"}, "client_id": {portalID}, "client_secret": {portalSecret}}, nil),
		http.StatusBadRequest, "unsupported_grant_type", 70003)
}

func TestAuthorizeRefusesBadRequestsWithoutRedirect(t *testing.T) {
	e := newEnv(t, nil)
	_, ch := pkcePair("bad")
	mod := func(f func(url.Values)) url.Values { p := authParams(ch); f(p); return p }
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"redirect_uri mismatch", mod(func(p url.Values) { p.Set("redirect_uri", "https://evil.example/cb") }), "AADSTS50011"},
		{"redirect_uri prefix only", mod(func(p url.Values) { p.Set("redirect_uri", portalRedirect+"/more") }), "AADSTS50011"},
		{"other client's redirect_uri", mod(func(p url.Values) { p.Set("redirect_uri", otherRedirect) }), "AADSTS50011"},
		{"unknown client", mod(func(p url.Values) { p.Set("client_id", "nope") }), "AADSTS700016"},
		{"response_type token", mod(func(p url.Values) { p.Set("response_type", "token") }), "AADSTS700054"},
		{"no openid", mod(func(p url.Values) { p.Set("scope", "api://"+portalID+"/access_as_user") }), "AADSTS9002313"},
		{"unknown scope", mod(func(p url.Values) { p.Set("scope", "openid Files.ReadWrite") }), "AADSTS70011"},
		{"no code_challenge", mod(func(p url.Values) { p.Del("code_challenge") }), "AADSTS900144"},
		{"plain method", mod(func(p url.Values) { p.Set("code_challenge_method", "plain") }), "AADSTS9002313"},
		{"form_post mode", mod(func(p url.Values) { p.Set("response_mode", "form_post") }), "AADSTS9002313"},
		{"bad claims", mod(func(p url.Values) { p.Set("claims", "{not json") }), "AADSTS90014"},
		{"repeated state", mod(func(p url.Values) { p.Add("state", "two") }), "AADSTS90015"},
	}
	for _, tc := range tests {
		pg := e.get(e.url("/oauth2/v2.0/authorize?" + tc.params.Encode()))
		if pg.status != http.StatusBadRequest || pg.header.Get("Location") != "" || !strings.Contains(pg.body, tc.want) {
			t.Errorf("authorize with %s = %d Location %q, body has %s: %v; want 400, no Location", tc.name, pg.status,
				pg.header.Get("Location"), tc.want, strings.Contains(pg.body, tc.want))
		}
		// Posting the same parameters with a user does not redirect either.
		post := url.Values{"user": {e.user("admin@contoso.example").OID}}
		for k, vs := range tc.params {
			post[k] = vs
		}
		if pg := e.postForm(e.url("/oauth2/v2.0/authorize"), post, nil); pg.status != http.StatusBadRequest || pg.header.Get("Location") != "" {
			t.Errorf("POST authorize with %s = %d Location %q, want 400 and no Location", tc.name, pg.status, pg.header.Get("Location"))
		}
	}
	wrongTenant := e.srv.URL + "/" + derivedGUID("elsewhere") + "/oauth2/v2.0/authorize?" + authParams(ch).Encode()
	if pg := e.get(wrongTenant); pg.status != http.StatusBadRequest || !strings.Contains(pg.body, "AADSTS90002") {
		t.Errorf("authorize for another tenant = %d, want 400 with AADSTS90002", pg.status)
	}
	if pg := e.get(e.srv.URL + "/" + derivedGUID("elsewhere") + "/v2.0/.well-known/openid-configuration"); pg.status != http.StatusBadRequest ||
		!strings.Contains(pg.body, `"error":"invalid_tenant"`) {
		t.Errorf("discovery for another tenant = %d %s, want 400 invalid_tenant", pg.status, pg.body)
	}
}

func TestAuthorizeChoices(t *testing.T) {
	e := newEnv(t, nil)
	_, ch := pkcePair("choice")
	params := authParams(ch)

	// An unknown user is refused with a page.
	post := url.Values{"user": {derivedGUID("stranger")}}
	for k, vs := range params {
		post[k] = vs
	}
	if pg := e.postForm(e.url("/oauth2/v2.0/authorize"), post, nil); pg.status != http.StatusBadRequest || pg.header.Get("Location") != "" {
		t.Errorf("POST authorize with an unknown user = %d Location %q, want 400 and no Location", pg.status, pg.header.Get("Location"))
	}
	// A cross-site post is refused.
	post.Set("user", e.user("admin@contoso.example").OID)
	if pg := e.postForm(e.url("/oauth2/v2.0/authorize"), post, http.Header{"Sec-Fetch-Site": {"cross-site"}}); pg.status != http.StatusForbidden {
		t.Errorf("cross-site POST authorize = %d, want 403", pg.status)
	}
	// Cancel returns access_denied with the state to the validated redirect URI.
	post.Del("user")
	post.Set("cancel", "1")
	pg := e.postForm(e.url("/oauth2/v2.0/authorize"), post, nil)
	loc, _ := url.Parse(pg.header.Get("Location"))
	if pg.status != http.StatusFound || loc == nil || loc.Host != "portal.example" || loc.Query().Get("error") != "access_denied" ||
		loc.Query().Get("state") != "st-123" || loc.Query().Get("code") != "" {
		t.Errorf("Cancel = %d Location %q, want 302 to the portal with error=access_denied and the state", pg.status, pg.header.Get("Location"))
	}
	// login_hint preselects (lists first, focused) but still shows the picker.
	params.Set("login_hint", "reader@contoso.example")
	page := e.get(e.url("/oauth2/v2.0/authorize?" + params.Encode()))
	_, _, accounts, order := pickerForm(t, page.body)
	if len(accounts) != 4 || order[0] != "reader@contoso.example" || strings.Count(page.body, "autofocus") != 1 {
		t.Errorf("picker with login_hint lists %v, %d autofocus; want reader first of 4, focused", order, strings.Count(page.body, "autofocus"))
	}
	// prompt=none cannot be answered silently.
	params.Set("prompt", "none")
	pg = e.get(e.url("/oauth2/v2.0/authorize?" + params.Encode()))
	if loc, _ := url.Parse(pg.header.Get("Location")); pg.status != http.StatusFound || loc.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none = %d Location %q, want 302 with error=login_required", pg.status, pg.header.Get("Location"))
	}
}

func TestLogoutRedirectsOnlyToRegisteredOrigins(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		target, wantLocation string
	}{
		{"https://portal.example/signed-out", "https://portal.example/signed-out?state=s1"},
		{"https://evil.example/", ""},
		{"https://portal.example.evil.example/", ""},
		{"javascript:alert(1)", ""},
		{"//portal.example/x", ""},
	}
	for _, tc := range tests {
		pg := e.get(e.url("/oauth2/v2.0/logout?" + url.Values{"post_logout_redirect_uri": {tc.target}, "state": {"s1"}}.Encode()))
		if got := pg.header.Get("Location"); got != tc.wantLocation {
			t.Errorf("logout to %q: Location = %q, want %q", tc.target, got, tc.wantLocation)
		}
		if tc.wantLocation == "" && (pg.status != http.StatusOK || !strings.Contains(pg.body, `data-testid="signed-out"`)) {
			t.Errorf("logout to %q = %d, want 200 signed-out page", tc.target, pg.status)
		}
	}
	if got := e.p.Count("logout"); got != len(tests) {
		t.Errorf("Count(logout) = %d, want %d", got, len(tests))
	}
}

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"tenant not a GUID", Options{TenantID: "contoso"}},
		{"client without secret", Options{Clients: []Client{{ID: "a", RedirectURIs: []string{portalRedirect}}}}},
		{"redirect URI with fragment", Options{Clients: []Client{{ID: "a", Secret: "s", RedirectURIs: []string{portalRedirect + "#x"}}}}},
		{"relative redirect URI", Options{Clients: []Client{{ID: "a", Secret: "s", RedirectURIs: []string{"/cb"}}}}},
		{"duplicate client", Options{Clients: []Client{{ID: "a", Secret: "s", RedirectURIs: []string{portalRedirect}}, {ID: "a", Secret: "t", RedirectURIs: []string{portalRedirect}}}}},
		{"user OID not a GUID", Options{Users: []User{{OID: "x", UPN: "a@b"}}}},
		{"negative TTL", Options{AccessTokenTTL: -time.Second}},
	}
	for _, tc := range tests {
		if p, err := New(tc.opts); err == nil || p != nil || !strings.HasPrefix(err.Error(), "devidp: ") {
			t.Errorf("New(%s) = %v, %v; want nil and a devidp: error", tc.name, p, err)
		}
	}
	a, errA := New(Options{})
	b, errB := New(Options{})
	if errA != nil || errB != nil || a.TenantID() != b.TenantID() || !isGUID(a.TenantID()) {
		t.Fatalf("default tenants %q, %q (errors %v, %v); want the same GUID", a.TenantID(), b.TenantID(), errA, errB)
	}
	users := DefaultUsers(a.TenantID())
	var upns []string
	for _, u := range users {
		upns = append(upns, u.UPN)
	}
	wantUPNs := []string{"admin@contoso.example", "reader@contoso.example", "mfa@contoso.example", "noconsent@contoso.example"}
	if diff := cmp.Diff(wantUPNs, upns); diff != "" {
		t.Errorf("DefaultUsers UPNs (-want +got):\n%s", diff)
	}
	wantRoles := []struct {
		admin bool
		b     Behavior
	}{{true, Normal}, {false, Normal}, {true, InteractionRequired}, {true, ConsentRequired}}
	for i, u := range users {
		if u.Admin != wantRoles[i].admin || u.Behavior != wantRoles[i].b || !isGUID(u.OID) {
			t.Errorf("DefaultUsers[%d] = %+v, want admin %v behavior %v and a GUID oid", i, u, wantRoles[i].admin, wantRoles[i].b)
		}
	}
}

func TestHandlerUnderPathAndIssuerOverride(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	const issuer = "https://login.example/custom/v2.0"
	p, err := New(Options{Issuer: issuer, Now: clock.Now,
		Clients: []Client{{ID: portalID, Secret: portalSecret, RedirectURIs: []string{portalRedirect}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/idp"
	srv.Config.Handler = p.Handler(base)
	srv.Start()
	t.Cleanup(srv.Close)
	e := &env{t: t, p: p, srv: srv, clock: clock, http: srv.Client()}
	e.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	if got := p.Issuer(base); got != issuer {
		t.Errorf("Issuer(%q) = %q, want the override %q", base, got, issuer)
	}
	pg := e.get(base + "/" + p.TenantID() + "/v2.0/.well-known/openid-configuration")
	var doc struct {
		Issuer string `json:"issuer"`
		Token  string `json:"token_endpoint"`
	}
	if err := json.Unmarshal([]byte(pg.body), &doc); err != nil || doc.Issuer != issuer || doc.Token != base+"/"+p.TenantID()+"/oauth2/v2.0/token" {
		t.Fatalf("discovery under /idp = %d %+v (%v), want issuer %s and token endpoint under /idp", pg.status, doc, err, issuer)
	}
	if pg := e.get(srv.URL + "/" + p.TenantID() + "/v2.0/.well-known/openid-configuration"); pg.status != http.StatusNotFound {
		t.Errorf("discovery outside /idp = %d, want 404", pg.status)
	}
	// The account picker posts back under /idp, and the tokens carry the override.
	v, ch := pkcePair("prefix")
	params := authParams(ch)
	page := e.get(base + "/" + p.TenantID() + "/oauth2/v2.0/authorize?" + params.Encode())
	action, form, accounts, _ := pickerForm(t, page.body)
	if !strings.HasPrefix(action, "/idp/") {
		t.Fatalf("picker form action = %q, want it under /idp", action)
	}
	form.Set("user", accounts["admin@contoso.example"])
	post := e.postForm(srv.URL+action, form, nil)
	loc, _ := url.Parse(post.header.Get("Location"))
	if post.status != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("POST picker = %d Location %q, want 302 with a code", post.status, post.header.Get("Location"))
	}
	r := readToken(t, e, base+"/"+p.TenantID()+"/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {portalRedirect}, "code_verifier": {v}, "client_id": {portalID}, "client_secret": {portalSecret}})
	if c, err := p.ValidateAccessToken(r.AccessToken, portalID); err != nil || c.TID != p.TenantID() {
		t.Errorf("token issued under the override: %v, want valid", err)
	}
}

func readToken(t *testing.T, e *env, endpoint string, form url.Values) tokenReply {
	t.Helper()
	pg := e.postForm(endpoint, form, nil)
	var r tokenReply
	if err := json.Unmarshal([]byte(pg.body), &r); err != nil || pg.status != http.StatusOK {
		t.Fatalf("token at %s = %d %s (%v), want 200", endpoint, pg.status, pg.body, err)
	}
	return r
}
