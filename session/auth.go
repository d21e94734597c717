package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/securecookie"
	"golang.org/x/oauth2"
)

const (
	// flowTTL is how long a sign-in may take between Begin and Complete
	// (SECURITY.md §3.1 item 12: at most 15 minutes).
	flowTTL = 10 * time.Minute
	// flowClockSkew tolerates a flow cookie issued slightly "in the future"
	// by another replica whose clock runs ahead.
	flowClockSkew = time.Minute
	// maxClaimsLen bounds a claims challenge passed to the authorize URL.
	maxClaimsLen = 8 << 10
	// maxUsedStates bounds the replay set of consumed states.
	maxUsedStates = 100_000
	// maxTokenResponse bounds a token endpoint response body.
	maxTokenResponse = 1 << 20
	// defaultHTTPTimeout applies when Config.HTTPClient is nil.
	defaultHTTPTimeout = 30 * time.Second
	// defaultExpiresIn is assumed when a token response has no expires_in.
	defaultExpiresIn = 5 * time.Minute

	flowCookieName       = "portal-flow"
	flowCookieSecureName = "__Host-portal-flow"
)

// Config configures an Authenticator. Every field but AppScope, Issuer,
// HTTPClient and Now is required.
type Config struct {
	// Authority is the identity provider root, such as
	// "https://login.microsoftonline.com". It must be https, or http on a
	// loopback host (127.0.0.0/8, ::1, localhost) for the dev provider.
	Authority string
	// TenantID is the Entra tenant GUID; the issuer is
	// Authority + "/" + TenantID + "/v2.0" and ID tokens must carry it as tid.
	TenantID string
	// ClientID and ClientSecret are the portal's app registration.
	ClientID     string
	ClientSecret string `json:"-"`
	// RedirectURL is the callback, "<base URL>/auth/callback".
	RedirectURL string
	// AppScope is the portal's own API scope, whose access token is the
	// assertion for on-behalf-of exchanges; by default
	// "api://" + ClientID + "/access_as_user".
	AppScope string
	// Issuer, when set, is used verbatim as the issuer instead of
	// Authority/TenantID/v2.0, for a standards-only OpenID provider (tests,
	// or another IdP). Authority is then ignored. If TenantID is also set,
	// ID tokens must still carry it as tid; if TenantID is empty, users are
	// identified by (iss, sub): User.TenantID is the issuer and User.OID the
	// subject.
	Issuer string
	// Secure marks the flow cookie Secure and gives it the __Host- prefix.
	// Set it whenever the portal is served over https.
	Secure bool
	// CookieKeyPairs are securecookie (hash key, block key) pairs that sign
	// and encrypt the flow cookie; the first pair encodes, all decode, so
	// keys can be rotated. Hash keys are at least 32 bytes, block keys 16,
	// 24 or 32 bytes (AES).
	CookieKeyPairs [][]byte `json:"-"`
	// HTTPClient reaches the identity provider; by default a client with a
	// 30 second timeout.
	HTTPClient *http.Client
	// Now is the clock; by default time.Now.
	Now func() time.Time
}

// Authenticator runs the OpenID Connect authorization-code flow with PKCE
// against one tenant. It is safe for concurrent use.
type Authenticator struct {
	issuer       string
	tenantID     string
	clientID     string
	clientSecret string
	appScope     string
	genericIDs   bool // identify users by (iss, sub): generic issuer, no tenant
	oauth        oauth2.Config
	verifier     *oidc.IDTokenVerifier
	endSession   string
	client       *http.Client
	codecs       []securecookie.Codec
	cookieName   string
	secure       bool
	now          func() time.Time
	used         *usedStates
}

// NewAuthenticator validates cfg, fetches the provider's discovery document
// once and returns an Authenticator. It refuses a plain-http Authority (or
// Issuer) unless its host is loopback.
func NewAuthenticator(ctx context.Context, cfg Config) (*Authenticator, error) {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }

	issuer := cfg.Issuer
	if issuer == "" {
		if err := checkEndpointURL(cfg.Authority); err != nil {
			bad("Authority: %v", err)
		}
		if cfg.TenantID == "" || strings.ContainsAny(cfg.TenantID, "/?#% ") {
			bad("TenantID: must be a tenant id")
		}
		issuer = strings.TrimSuffix(cfg.Authority, "/") + "/" + cfg.TenantID + "/v2.0"
	} else if err := checkEndpointURL(cfg.Issuer); err != nil {
		bad("Issuer: %v", err)
	}
	if cfg.ClientID == "" {
		bad("ClientID: required")
	}
	if cfg.ClientSecret == "" {
		bad("ClientSecret: required")
	}
	if err := checkEndpointURL(cfg.RedirectURL); err != nil {
		bad("RedirectURL: %v", err)
	}
	codecs, err := flowCodecs(cfg.CookieKeyPairs)
	if err != nil {
		bad("CookieKeyPairs: %v", err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("session: invalid sign-in configuration: %w", errors.Join(problems...))
	}

	a := &Authenticator{
		issuer:       issuer,
		tenantID:     cfg.TenantID,
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		appScope:     cfg.AppScope,
		genericIDs:   cfg.Issuer != "" && cfg.TenantID == "",
		client:       cfg.HTTPClient,
		codecs:       codecs,
		cookieName:   flowCookieName,
		secure:       cfg.Secure,
		now:          cfg.Now,
		used:         newUsedStates(maxUsedStates),
	}
	if a.appScope == "" {
		a.appScope = "api://" + cfg.ClientID + "/access_as_user"
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if cfg.Secure {
		a.cookieName = flowCookieSecureName
	}

	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, a.client), issuer)
	if err != nil {
		return nil, fmt.Errorf("session: OpenID discovery for %s: %w", issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("session: OpenID discovery for %s: %w", issuer, err)
	}
	endpoint := provider.Endpoint()
	for name, u := range map[string]string{"authorization_endpoint": endpoint.AuthURL, "token_endpoint": endpoint.TokenURL} {
		if err := checkEndpointURL(u); err != nil {
			return nil, fmt.Errorf("session: OpenID discovery for %s: %s: %w", issuer, name, err)
		}
	}
	if meta.EndSession != "" && checkEndpointURL(meta.EndSession) == nil {
		a.endSession = meta.EndSession
	}
	// Client credentials go in the form body: Entra accepts both styles and
	// auto-detection would send the secret twice on a failure.
	endpoint.AuthStyle = oauth2.AuthStyleInParams
	a.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     endpoint,
		RedirectURL:  cfg.RedirectURL,
		Scopes:       a.scopes(),
	}
	a.verifier = provider.Verifier(&oidc.Config{
		ClientID:             cfg.ClientID,
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  a.now,
	})
	return a, nil
}

// scopes are the sign-in scopes: OpenID, a refresh token, and the portal's
// own API (whose access token is the on-behalf-of assertion).
func (a *Authenticator) scopes() []string {
	return []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess, a.appScope}
}

// checkEndpointURL accepts an absolute https URL, or http on a loopback host.
func checkEndpointURL(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: plain http is allowed only on a loopback host", raw)
	default:
		return fmt.Errorf("%q: scheme must be https", raw)
	}
}

// isLoopback reports whether host is localhost or a loopback IP literal.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// flowCodecs builds sign-and-encrypt codecs from key pairs.
func flowCodecs(pairs [][]byte) ([]securecookie.Codec, error) {
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return nil, errors.New("need one or more (hash key, block key) pairs")
	}
	var codecs []securecookie.Codec
	for i := 0; i < len(pairs); i += 2 {
		hashKey, blockKey := pairs[i], pairs[i+1]
		if len(hashKey) < 32 {
			return nil, fmt.Errorf("pair %d: hash key must be at least 32 bytes", i/2)
		}
		if n := len(blockKey); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("pair %d: block key must be 16, 24 or 32 bytes", i/2)
		}
		sc := securecookie.New(hashKey, blockKey).
			// A second fence on the real clock; the flow's own timestamp is
			// checked against Config.Now.
			MaxAge(int((flowTTL + 5*time.Minute) / time.Second)).
			SetSerializer(securecookie.JSONEncoder{})
		codecs = append(codecs, sc)
	}
	return codecs, nil
}

// flow is the per-sign-in state kept in the encrypted flow cookie.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r,omitempty"`
	Issued   int64  `json:"t"`
}

// Begin starts a sign-in: it creates state, nonce (32 random bytes each) and
// a PKCE S256 verifier, stores them with returnTo in a signed and encrypted
// flow cookie that lives 10 minutes, and returns the provider's authorize
// URL to redirect the browser to. returnTo must be "" or a path accepted by
// SafeReturn. claims, if not "", is a claims-challenge JSON object passed
// on as the authorize request's claims parameter (Conditional Access, MFA).
func (a *Authenticator) Begin(w http.ResponseWriter, returnTo, claims string) (authURL string, err error) {
	if returnTo != "" {
		if _, ok := SafeReturn(returnTo); !ok {
			return "", errors.New("session: refusing an unsafe return path")
		}
	}
	if claims != "" && (len(claims) > maxClaimsLen || !json.Valid([]byte(claims))) {
		return "", errors.New("session: the claims challenge is not valid JSON")
	}
	state, err := randomString(32)
	if err != nil {
		return "", err
	}
	nonce, err := randomString(32)
	if err != nil {
		return "", err
	}
	f := flow{
		State:    state,
		Nonce:    nonce,
		Verifier: oauth2.GenerateVerifier(),
		ReturnTo: returnTo,
		Issued:   a.now().Unix(),
	}
	value, err := securecookie.EncodeMulti(a.cookieName, f, a.codecs...)
	if err != nil {
		return "", fmt.Errorf("session: encoding the flow cookie: %w", err)
	}
	http.SetCookie(w, a.flowCookie(value, int(flowTTL/time.Second)))

	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(f.Verifier)}
	if claims != "" {
		opts = append(opts, oauth2.SetAuthURLParam("claims", claims))
	}
	return a.oauth.AuthCodeURL(state, opts...), nil
}

func (a *Authenticator) flowCookie(value string, maxAge int) *http.Cookie {
	// #nosec G124 -- HttpOnly and SameSite=Lax always; Secure whenever the base URL is https (the portal refuses plain http except on loopback)
	return &http.Cookie{
		Name:     a.cookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   a.secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// CallbackError is why a sign-in callback was rejected. Reason is one of
// "state_mismatch", "missing_flow", "expired_flow", "replayed_state",
// "issuer_mismatch" (the callback's iss parameter names another provider),
// "exchange_failed", "invalid_id_token", "nonce_mismatch", "wrong_tenant",
// "access_denied" or "idp_error".
type CallbackError struct {
	// Reason is machine-readable, for logs and metrics.
	Reason string
	// Description is a fixed sentence safe to show the user; it never
	// echoes request parameters.
	Description string
	// Err is the underlying error, if any; not for display.
	Err error
}

// Error implements error.
func (e *CallbackError) Error() string {
	if e.Err != nil {
		return "session: sign-in rejected: " + e.Reason + ": " + e.Err.Error()
	}
	return "session: sign-in rejected: " + e.Reason
}

// Unwrap returns the underlying error.
func (e *CallbackError) Unwrap() error { return e.Err }

var callbackDescriptions = map[string]string{
	"state_mismatch":   "The sign-in response did not match the sign-in this browser started. Please sign in again.",
	"missing_flow":     "This browser has no sign-in in progress (it may have been started in another tab). Please sign in again.",
	"expired_flow":     "The sign-in took too long. Please sign in again.",
	"replayed_state":   "This sign-in response was already used. Please sign in again.",
	"issuer_mismatch":  "The sign-in response came from an unexpected identity provider. Please sign in again.",
	"exchange_failed":  "The identity provider did not confirm the sign-in. Please sign in again.",
	"invalid_id_token": "The identity provider's answer could not be verified. Please sign in again.",
	"nonce_mismatch":   "The identity provider's answer belongs to another sign-in. Please sign in again.",
	"wrong_tenant":     "This account belongs to another organization than the one this portal serves.",
	"access_denied":    "Sign-in was cancelled or access was refused.",
	"idp_error":        "The identity provider reported an error. Please try again.",
}

func callbackError(reason string, err error) *CallbackError {
	return &CallbackError{Reason: reason, Description: callbackDescriptions[reason], Err: err}
}

// Complete handles the callback request: it reads and clears the flow
// cookie, checks state (constant time, single use), the provider's error
// parameter, redeems the code with the PKCE verifier, verifies the ID token
// (signature, RS256 only, iss, aud, exp), its nonce and tenant, and returns
// the signed-in user, their tokens and the return path. Every rejection is a
// *CallbackError. The callback is a GET carrying the response in its query
// (response_mode=query, Entra's default for the code flow). The caller must
// rotate the session after success.
func (a *Authenticator) Complete(w http.ResponseWriter, r *http.Request) (*SignIn, error) {
	f, ferr := a.readFlow(r)
	http.SetCookie(w, a.flowCookie("", -1))
	if ferr != nil {
		return nil, ferr
	}
	q := r.URL.Query()
	now := a.now()

	if len(q["state"]) != 1 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return nil, callbackError("state_mismatch", nil)
	}
	if !a.used.add(f.State, time.Unix(f.Issued, 0).Add(flowTTL+flowClockSkew), now) {
		return nil, callbackError("replayed_state", nil)
	}
	// RFC 9207: a provider that names itself must be the one we asked.
	if iss, ok := q["iss"]; ok && (len(iss) != 1 || iss[0] != a.issuer) {
		return nil, callbackError("issuer_mismatch", nil)
	}
	if code := q.Get("error"); code != "" {
		if code == "access_denied" {
			return nil, callbackError("access_denied", nil)
		}
		return nil, callbackError("idp_error", fmt.Errorf("provider error %q", safeCode(code)))
	}
	if len(q["code"]) != 1 || q.Get("code") == "" {
		return nil, callbackError("exchange_failed", errors.New("no authorization code"))
	}

	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, a.client)
	tok, err := a.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return nil, callbackError("exchange_failed", classifyTokenError(err))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, callbackError("invalid_id_token", errors.New("no id_token in the token response"))
	}
	idt, err := a.verifier.Verify(r.Context(), rawID)
	if err != nil {
		return nil, callbackError("invalid_id_token", err)
	}
	if len(idt.Audience) != 1 {
		// Entra names only the client; several audiences would call for an
		// azp check that nothing here needs (OpenID Connect Core §3.1.3.7).
		return nil, callbackError("invalid_id_token", errors.New("ID token has several audiences"))
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		return nil, callbackError("invalid_id_token", err)
	}
	if subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(f.Nonce)) != 1 {
		return nil, callbackError("nonce_mismatch", nil)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, callbackError("invalid_id_token", err)
		}
	}
	user, reason, err := a.userFrom(idt, c)
	if err != nil {
		return nil, callbackError(reason, err)
	}
	if tok.AccessToken == "" {
		return nil, callbackError("exchange_failed", errors.New("no access token in the token response"))
	}
	authTime := idt.IssuedAt
	if c.AuthTime > 0 {
		authTime = time.Unix(int64(c.AuthTime), 0)
	}
	return &SignIn{
		User: user,
		Tokens: Tokens{
			AccessToken:  tok.AccessToken,
			RefreshToken: tok.RefreshToken,
			IDToken:      rawID,
			Expiry:       expiryFrom(now, tok.ExpiresIn, tok.Expiry),
		},
		ReturnTo: f.ReturnTo,
		AuthTime: authTime,
	}, nil
}

// readFlow decodes the flow cookie. With several cookies of that name (one
// planted by a sibling host when the __Host- prefix is off), the first that
// decodes wins; a planted one cannot decode without the keys.
func (a *Authenticator) readFlow(r *http.Request) (flow, *CallbackError) {
	cookies := r.CookiesNamed(a.cookieName)
	if len(cookies) == 0 {
		return flow{}, callbackError("missing_flow", nil)
	}
	var lastErr error
	for _, ck := range cookies {
		var f flow
		if err := securecookie.DecodeMulti(a.cookieName, ck.Value, &f, a.codecs...); err != nil {
			lastErr = err
			continue
		}
		if f.State == "" || f.Nonce == "" || f.Verifier == "" {
			lastErr = errors.New("incomplete flow cookie")
			continue
		}
		issued := time.Unix(f.Issued, 0)
		if now := a.now(); now.Sub(issued) > flowTTL || issued.Sub(now) > flowClockSkew {
			return flow{}, callbackError("expired_flow", nil)
		}
		return f, nil
	}
	return flow{}, callbackError("missing_flow", fmt.Errorf("flow cookie: %w", lastErr))
}

// idClaims are the ID token claims the portal reads. Entra v2 tokens carry
// tid and oid; preferred_username (v2) or upn (v1) names the account.
type idClaims struct {
	Nonce             string  `json:"nonce"`
	TenantID          string  `json:"tid"`
	OID               string  `json:"oid"`
	PreferredUsername string  `json:"preferred_username"`
	UPN               string  `json:"upn"`
	Name              string  `json:"name"`
	AuthTime          float64 `json:"auth_time"`
}

// userFrom builds the user from verified claims. Identity is (tid, oid),
// or (iss, sub) for a generic provider without tenants.
func (a *Authenticator) userFrom(idt *oidc.IDToken, c idClaims) (User, string, error) {
	u := User{OID: c.OID, TenantID: c.TenantID, UPN: c.PreferredUsername, Name: c.Name}
	if u.UPN == "" {
		u.UPN = c.UPN
	}
	if a.genericIDs {
		if idt.Subject == "" {
			return User{}, "invalid_id_token", errors.New("ID token has no sub")
		}
		u.TenantID, u.OID = idt.Issuer, idt.Subject
		return u, "", nil
	}
	if c.TenantID != a.tenantID {
		return User{}, "wrong_tenant", fmt.Errorf("ID token tenant %q is not the configured tenant", safeCode(c.TenantID))
	}
	if c.OID == "" {
		return User{}, "invalid_id_token", errors.New("ID token has no oid")
	}
	return u, "", nil
}

// Refresh redeems refreshToken for new tokens (with the sign-in scopes). An
// invalid or revoked refresh token gives an error wrapping
// ErrSignInRequired; see Broker for the other error kinds. RefreshToken and
// IDToken in the result are empty when the provider sent none; callers
// keep the old ones.
func (a *Authenticator) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	t, _, err := a.refresh(ctx, refreshToken)
	return t, err
}

// refresh is Refresh that also returns the identity in a returned ID token
// (nil if none came back), so the caller can check it is the same user.
func (a *Authenticator) refresh(ctx context.Context, refreshToken string) (Tokens, *User, error) {
	if refreshToken == "" {
		return Tokens{}, nil, fmt.Errorf("session: no refresh token: %w", ErrSignInRequired)
	}
	now := a.now()
	tr, err := a.tokenRequest(ctx, a.client, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"scope":         {strings.Join(a.scopes(), " ")},
	})
	if err != nil {
		return Tokens{}, nil, classifyTokenError(err)
	}
	t := Tokens{
		AccessToken:  tr.AccessToken,
		RefreshToken: tr.RefreshToken,
		IDToken:      tr.IDToken,
		Expiry:       expiryFrom(now, int64(tr.ExpiresIn), time.Time{}),
	}
	if t.AccessToken == "" {
		return Tokens{}, nil, fmt.Errorf("session: refresh: no access token in the response: %w", ErrTokenService)
	}
	var who *User
	if t.IDToken != "" {
		idt, err := a.verifier.Verify(ctx, t.IDToken)
		if err != nil {
			return Tokens{}, nil, fmt.Errorf("session: refresh: invalid ID token: %w", err)
		}
		var c idClaims
		if err := idt.Claims(&c); err != nil {
			return Tokens{}, nil, fmt.Errorf("session: refresh: invalid ID token: %w", err)
		}
		u, _, err := a.userFrom(idt, c)
		if err != nil {
			return Tokens{}, nil, fmt.Errorf("session: refresh: %w", err)
		}
		who = &u
	}
	return t, who, nil
}

// EndSessionURL returns the provider's end_session_endpoint (from discovery)
// with post_logout_redirect_uri and id_token_hint when given, or "" if the
// provider has none. Note that an ID token passed as hint travels through
// the browser; pass "" to keep every token server-side (SECURITY.md G1).
func (a *Authenticator) EndSessionURL(postLogoutRedirect, idTokenHint string) string {
	if a.endSession == "" {
		return ""
	}
	u, err := url.Parse(a.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", a.clientID)
	if postLogoutRedirect != "" {
		q.Set("post_logout_redirect_uri", postLogoutRedirect)
	}
	if idTokenHint != "" {
		q.Set("id_token_hint", idTokenHint)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// tokenResponse is a successful token endpoint answer.
type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	IDToken      string    `json:"id_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    numberish `json:"expires_in"`
	Error        string    `json:"error"`
}

// numberish decodes a JSON number or a numeric string (some providers quote
// expires_in).
type numberish int64

// UnmarshalJSON accepts 3600, 3600.0 and "3600", clamped to [0, MaxInt32].
func (n *numberish) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("expires_in: %w", err)
	}
	*n = numberish(math.Min(math.Max(f, 0), math.MaxInt32))
	return nil
}

// tokenRequest posts form (plus the client credentials) to the token
// endpoint. A non-2xx answer, or a 2xx answer carrying an error, is an
// *oauth2.RetrieveError, as x/oauth2 reports them.
func (a *Authenticator) tokenRequest(ctx context.Context, client *http.Client, form url.Values) (*tokenResponse, error) {
	form.Set("client_id", a.clientID)
	form.Set("client_secret", a.clientSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.oauth.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("session: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, err
	}
	var tr tokenResponse
	jerr := json.Unmarshal(body, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || tr.Error != "" {
		re := &oauth2.RetrieveError{Response: resp, Body: body}
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			URI         string `json:"error_uri"`
		}
		if json.Unmarshal(body, &e) == nil {
			re.ErrorCode, re.ErrorDescription, re.ErrorURI = e.Error, e.Description, e.URI
		}
		return nil, re
	}
	if jerr != nil {
		return nil, fmt.Errorf("session: token response is not JSON: %w", ErrTokenService)
	}
	return &tr, nil
}

// expiryFrom turns expires_in (seconds) into a time on our clock, capped as
// x/oauth2 caps it; without one it falls back to fallback, then to a short
// default.
func expiryFrom(now time.Time, expiresIn int64, fallback time.Time) time.Time {
	switch {
	case expiresIn > 0:
		return now.Add(time.Duration(min(expiresIn, math.MaxInt32)) * time.Second)
	case !fallback.IsZero():
		return fallback
	default:
		return now.Add(defaultExpiresIn)
	}
}

// safeCode keeps an identifier from a request or token fit for logs:
// letters, digits, '_', '-' and '.', at most 64 bytes.
func safeCode(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			return r
		}
		return '?'
	}, s)
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// usedStates remembers consumed states (as hashes) until their flow expires,
// so a replayed callback fails even if the browser kept the flow cookie. It
// holds at most max entries; beyond that the oldest are forgotten (they
// still cannot redeem their single-use code twice at the provider). Each
// replica has its own set.
type usedStates struct {
	mu    sync.Mutex
	max   int
	seen  map[[32]byte]time.Time
	order [][32]byte
}

func newUsedStates(max int) *usedStates {
	return &usedStates{max: max, seen: make(map[[32]byte]time.Time)}
}

// add records state as used until expiry; it reports false if the state was
// already used.
func (u *usedStates) add(state string, expiry, now time.Time) bool {
	k := sha256.Sum256([]byte(state))
	u.mu.Lock()
	defer u.mu.Unlock()
	if exp, ok := u.seen[k]; ok && now.Before(exp) {
		return false
	}
	// Forget expired states from the front, then the oldest while full.
	for len(u.order) > 0 {
		oldest := u.order[0]
		if exp, ok := u.seen[oldest]; ok && now.Before(exp) && len(u.order) < u.max {
			break
		}
		delete(u.seen, oldest)
		u.order = u.order[1:]
	}
	u.seen[k] = expiry
	u.order = append(u.order, k)
	return true
}
