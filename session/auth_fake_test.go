package session

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testClock is a settable clock shared by the fake provider and the code
// under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testKeys are generated once per test binary: RSA key generation is slow.
var testKeys struct {
	once sync.Once
	keys [2]*rsa.PrivateKey
	err  error
}

// testKey returns shared test signing key i (0 or 1).
func testKey(t *testing.T, i int) *rsa.PrivateKey {
	t.Helper()
	testKeys.once.Do(func() {
		for j := range testKeys.keys {
			if testKeys.keys[j], testKeys.err = rsa.GenerateKey(rand.Reader, 2048); testKeys.err != nil {
				return
			}
		}
	})
	if testKeys.err != nil {
		t.Fatal(testKeys.err)
	}
	return testKeys.keys[i]
}

// fakeFault is a canned token endpoint error answer.
type fakeFault struct {
	status int
	body   string
}

// fakeUser is an account of the fake provider.
type fakeUser struct {
	OID, UPN, Name string
}

// fakeIdP is an Entra-shaped OpenID provider for tests: discovery, JWKS,
// authorize (picks the next queued user, redirects back with a code) and a
// token endpoint for the code (with enforced PKCE S256), refresh and
// on-behalf-of grants. Rows replace mintID to forge ID tokens.
type fakeIdP struct {
	srv      *httptest.Server
	clock    *testClock
	tenant   string
	clientID string
	secret   string
	key      *rsa.PrivateKey
	kid      string

	oboTTL time.Duration

	mu        sync.Mutex
	accessTTL time.Duration // the user's portal access token
	users     []fakeUser    // queue for authorize; empty: the default admin
	codes     map[string]*fakeCode
	refresh   map[string]fakeUser
	access    map[string]fakeAccess // access tokens issued (portal and OBO)
	counts    map[string]int
	faults    map[string]fakeFault // by grant ("authorization_code", "refresh_token", "obo <scope>")
	forms     []url.Values         // token requests received
	mintID    func(f *fakeIdP, claims map[string]any) string
	oboBlock  chan struct{} // when set, OBO answers wait for it to close
}

type fakeCode struct {
	user      fakeUser
	nonce     string
	challenge string
	redirect  string
	used      bool
}

type fakeAccess struct {
	user   fakeUser
	aud    string
	expiry time.Time
}

func newFakeIdP(t *testing.T, clock *testClock) *fakeIdP {
	t.Helper()
	key := testKey(t, 0)
	f := &fakeIdP{
		clock:     clock,
		tenant:    "11111111-2222-3333-4444-555555555555",
		clientID:  "aaaaaaaa-0000-0000-0000-000000000001",
		secret:    "fake-client-secret",
		key:       key,
		kid:       "key-1",
		accessTTL: time.Hour,
		oboTTL:    time.Hour,
		codes:     map[string]*fakeCode{},
		refresh:   map[string]fakeUser{},
		access:    map[string]fakeAccess{},
		counts:    map[string]int{},
		faults:    map[string]fakeFault{},
		mintID:    func(f *fakeIdP, claims map[string]any) string { return f.sign(claims) },
	}
	mux := http.NewServeMux()
	base := "/" + f.tenant
	mux.HandleFunc("GET "+base+"/v2.0/.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET "+base+"/discovery/v2.0/keys", f.jwks)
	mux.HandleFunc("GET "+base+"/oauth2/v2.0/authorize", f.authorize)
	mux.HandleFunc("POST "+base+"/oauth2/v2.0/token", f.token)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) issuer() string { return f.srv.URL + "/" + f.tenant + "/v2.0" }

func (f *fakeIdP) config(redirect string) Config {
	return Config{
		Authority:      f.srv.URL,
		TenantID:       f.tenant,
		ClientID:       f.clientID,
		ClientSecret:   f.secret,
		RedirectURL:    redirect,
		CookieKeyPairs: [][]byte{[]byte(strings.Repeat("h", 32)), []byte(strings.Repeat("b", 32))},
		HTTPClient:     f.srv.Client(),
		Now:            f.clock.Now,
	}
}

func (f *fakeIdP) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[kind]
}

func (f *fakeIdP) setFault(grant string, ft fakeFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[grant] = ft
}

func (f *fakeIdP) clearFault(grant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.faults, grant)
}

// queueUser makes the next authorize sign in u.
func (f *fakeIdP) queueUser(u fakeUser) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users = append(f.users, u)
}

// owner returns who an access token was issued to, and for which audience.
func (f *fakeIdP) owner(token string) (fakeAccess, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.access[token]
	return a, ok
}

func (f *fakeIdP) sign(claims map[string]any) string {
	return signWith(f.key, f.kid, jose.RS256, claims)
}

func signWith(key any, kid string, alg jose.SignatureAlgorithm, claims map[string]any) string {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		panic(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return raw
}

// unsignedJWT builds an alg=none token.
func unsignedJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func (f *fakeIdP) discovery(w http.ResponseWriter, _ *http.Request) {
	base := f.srv.URL + "/" + f.tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                f.issuer(),
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"pairwise"},
	})
}

func (f *fakeIdP) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &f.key.PublicKey, KeyID: f.kid, Algorithm: "RS256", Use: "sig"},
	}})
}

func (f *fakeIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != f.clientID || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorize request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	u := fakeUser{OID: "oid-admin", UPN: "admin@contoso.example", Name: "Admin One"}
	if len(f.users) > 0 {
		u, f.users = f.users[0], f.users[1:]
	}
	code := "code-" + randomTestString()
	f.codes[code] = &fakeCode{user: u, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	f.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	bq := url.Values{"code": {code}, "state": {q.Get("state")}}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func entraErr(w http.ResponseWriter, status int, code, desc string, codes ...int) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": codes})
}

func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		entraErr(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	form := r.PostForm
	if form.Get("client_id") != f.clientID || form.Get("client_secret") != f.secret {
		entraErr(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret.", 7000215)
		return
	}
	grant := form.Get("grant_type")
	kind := grant
	if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		kind = "obo " + form.Get("scope")
	}
	f.mu.Lock()
	f.counts[kind]++
	f.forms = append(f.forms, form)
	ft, faulty := f.faults[kind]
	block := f.oboBlock
	f.mu.Unlock()
	if faulty {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ft.status)
		fmt.Fprint(w, ft.body)
		return
	}
	switch grant {
	case "authorization_code":
		f.codeGrant(w, form)
	case "refresh_token":
		f.refreshGrant(w, form)
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if block != nil {
			<-block
		}
		f.oboGrant(w, form)
	default:
		entraErr(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant")
	}
}

func (f *fakeIdP) codeGrant(w http.ResponseWriter, form url.Values) {
	f.mu.Lock()
	c, ok := f.codes[form.Get("code")]
	if ok && c.used {
		ok = false
	}
	if c != nil {
		c.used = true // single use, even when this redemption fails
	}
	f.mu.Unlock()
	if !ok {
		entraErr(w, http.StatusBadRequest, "invalid_grant", "AADSTS54005: OAuth2 Authorization code was already redeemed.", 54005)
		return
	}
	if form.Get("redirect_uri") != c.redirect {
		entraErr(w, http.StatusBadRequest, "invalid_grant", "AADSTS50148: redirect_uri mismatch.", 50148)
		return
	}
	v := form.Get("code_verifier")
	sum := sha256.Sum256([]byte(v))
	if v == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		entraErr(w, http.StatusBadRequest, "invalid_grant", "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.", 501481)
		return
	}
	now := f.clock.Now()
	claims := map[string]any{
		"iss": f.issuer(), "aud": f.clientID, "sub": "sub-" + c.user.OID,
		"oid": c.user.OID, "tid": f.tenant, "nonce": c.nonce,
		"preferred_username": c.user.UPN, "name": c.user.Name,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"auth_time": now.Add(-time.Minute).Unix(),
	}
	f.issueUserTokens(w, c.user, f.mintID(f, claims))
}

func (f *fakeIdP) issueUserTokens(w http.ResponseWriter, u fakeUser, idToken string) {
	at := "at-" + randomTestString()
	rt := "rt-" + randomTestString()
	f.mu.Lock()
	ttl := f.accessTTL
	f.access[at] = fakeAccess{user: u, aud: "api://" + f.clientID, expiry: f.clock.Now().Add(ttl)}
	f.refresh[rt] = u
	f.mu.Unlock()
	body := map[string]any{
		"token_type": "Bearer", "access_token": at, "refresh_token": rt,
		"expires_in": int(ttl / time.Second), "scope": "api://" + f.clientID + "/access_as_user",
	}
	if idToken != "" {
		body["id_token"] = idToken
	}
	writeJSON(w, http.StatusOK, body)
}

func (f *fakeIdP) refreshGrant(w http.ResponseWriter, form url.Values) {
	f.mu.Lock()
	u, ok := f.refresh[form.Get("refresh_token")]
	delete(f.refresh, form.Get("refresh_token")) // rotated
	f.mu.Unlock()
	if !ok {
		entraErr(w, http.StatusBadRequest, "invalid_grant", "AADSTS70008: The refresh token has expired.", 70008)
		return
	}
	now := f.clock.Now()
	f.issueUserTokens(w, u, f.sign(map[string]any{
		"iss": f.issuer(), "aud": f.clientID, "sub": "sub-" + u.OID, "oid": u.OID, "tid": f.tenant,
		"preferred_username": u.UPN, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}))
}

func (f *fakeIdP) oboGrant(w http.ResponseWriter, form url.Values) {
	f.mu.Lock()
	a, ok := f.access[form.Get("assertion")]
	f.mu.Unlock()
	if !ok || a.aud != "api://"+f.clientID || !f.clock.Now().Before(a.expiry) ||
		form.Get("requested_token_use") != "on_behalf_of" {
		entraErr(w, http.StatusBadRequest, "invalid_grant", "AADSTS500133: Assertion is not within its valid time range.", 500133)
		return
	}
	scope := form.Get("scope")
	tok := "obo-" + a.user.OID + "-" + randomTestString()
	f.mu.Lock()
	f.access[tok] = fakeAccess{user: a.user, aud: strings.TrimSuffix(scope, "/.default"), expiry: f.clock.Now().Add(f.oboTTL)}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "access_token": tok, "expires_in": int(f.oboTTL / time.Second), "scope": scope,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomTestString() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
