package devidp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	portalID       = "6f1d2b1e-0c47-4a5e-9d7b-3d1c2f8e9a01"
	portalSecret   = "portal-secret"
	portalRedirect = "https://portal.example/auth/callback"
	otherID        = "0a6e7c34-5b1f-4f0e-8a9d-2c3b4d5e6f70"
	otherSecret    = "other-secret"
	otherRedirect  = "https://other.example/cb"
	unifiedAud     = "https://api.powerplatform.com"
	bapAud         = "https://service.powerapps.com"
)

// fakeClock is an injectable, advanceable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a provider served over loopback with two registered clients.
type env struct {
	t     *testing.T
	p     *Provider
	srv   *httptest.Server
	clock *fakeClock
	http  *http.Client // does not follow redirects
}

func newEnv(t *testing.T, users []User) *env {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	p, err := New(Options{
		Clients: []Client{
			{ID: portalID, Secret: portalSecret, RedirectURIs: []string{portalRedirect}, Name: "Power Platform admin portal"},
			{ID: otherID, Secret: otherSecret, RedirectURIs: []string{otherRedirect}},
		},
		Users: users,
		Now:   clock.Now,
	})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = p.Handler("http://" + srv.Listener.Addr().String())
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, p: p, srv: srv, clock: clock, http: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (e *env) url(path string) string { return e.srv.URL + "/" + e.p.TenantID() + path }

func (e *env) user(upn string) User {
	e.t.Helper()
	for _, u := range e.p.users {
		if u.UPN == upn {
			return u
		}
	}
	e.t.Fatalf("no user %q", upn)
	return User{}
}

// pkcePair returns a verifier and its S256 challenge.
func pkcePair(seed string) (verifier, challenge string) {
	seedSum := sha256.Sum256([]byte(seed))
	v := hex.EncodeToString(seedSum[:]) // 64 unreserved characters
	sum := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams is a valid authorize request of the portal client.
func authParams(challenge string) url.Values {
	return url.Values{
		"client_id":             {portalID},
		"redirect_uri":          {portalRedirect},
		"response_type":         {"code"},
		"scope":                 {"openid profile offline_access api://" + portalID + "/access_as_user"},
		"state":                 {"st-123"},
		"nonce":                 {"n-456"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (e *env) get(rawURL string) page {
	e.t.Helper()
	resp, err := e.http.Get(rawURL)
	if err != nil {
		e.t.Fatalf("GET %s: %v", rawURL, err)
	}
	return readPage(e.t, resp)
}

func (e *env) postForm(rawURL string, form url.Values, hdr http.Header) page {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", rawURL, err)
	}
	return readPage(e.t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var (
	formActionRe = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenRe     = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	accountRe    = regexp.MustCompile(`<button type="submit" name="user" value="([^"]+)"[^>]*>.*?<span class="upn">([^<]+)</span>`)
)

// pickerForm scrapes the account picker: its action, hidden fields and
// the user value of each account button by UPN.
func pickerForm(t *testing.T, body string) (action string, hidden url.Values, accounts map[string]string, order []string) {
	t.Helper()
	m := formActionRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("picker page has no form:\n%s", body)
	}
	action = html.UnescapeString(m[1])
	hidden = url.Values{}
	for _, h := range hiddenRe.FindAllStringSubmatch(body, -1) {
		hidden.Add(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	accounts = map[string]string{}
	for _, a := range accountRe.FindAllStringSubmatch(body, -1) {
		upn := html.UnescapeString(a[2])
		accounts[upn] = html.UnescapeString(a[1])
		order = append(order, upn)
	}
	return action, hidden, accounts, order
}

// pick loads the authorize page with params and presses upn's button like
// a browser would, returning the response to the POST.
func (e *env) pick(params url.Values, upn string) page {
	e.t.Helper()
	pg := e.get(e.url("/oauth2/v2.0/authorize?" + params.Encode()))
	if pg.status != http.StatusOK {
		e.t.Fatalf("GET authorize = %d, want 200:\n%s", pg.status, pg.body)
	}
	action, form, accounts, _ := pickerForm(e.t, pg.body)
	oid, ok := accounts[upn]
	if !ok {
		e.t.Fatalf("picker has no button for %q (has %v)", upn, accounts)
	}
	form.Set("user", oid)
	return e.postForm(e.srv.URL+action, form, http.Header{"Sec-Fetch-Site": {"same-origin"}})
}

// code signs upn in and returns the authorization code.
func (e *env) code(params url.Values, upn string) string {
	e.t.Helper()
	pg := e.pick(params, upn)
	if pg.status != http.StatusFound {
		e.t.Fatalf("POST authorize = %d, want 302:\n%s", pg.status, pg.body)
	}
	loc, err := url.Parse(pg.header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != portalRedirect && got != otherRedirect {
		e.t.Fatalf("redirect to %q, want a registered redirect URI", got)
	}
	if got, want := loc.Query().Get("state"), params.Get("state"); got != want {
		e.t.Fatalf("redirect state = %q, want %q", got, want)
	}
	c := loc.Query().Get("code")
	if c == "" {
		e.t.Fatalf("redirect %q has no code", loc)
	}
	return c
}

// tokenReply is a decoded token endpoint answer, success or error.
type tokenReply struct {
	status int
	header http.Header
	tokenResponse
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	Suberror         string `json:"suberror"`
	Claims           string `json:"claims"`
}

func (e *env) token(form url.Values, hdr http.Header) tokenReply {
	e.t.Helper()
	pg := e.postForm(e.url("/oauth2/v2.0/token"), form, hdr)
	r := tokenReply{status: pg.status, header: pg.header}
	if err := json.Unmarshal([]byte(pg.body), &r); err != nil {
		e.t.Fatalf("token reply is not JSON (%v): %s", err, pg.body)
	}
	return r
}

func (e *env) redeem(code, verifier string) tokenReply {
	e.t.Helper()
	return e.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {portalRedirect},
		"code_verifier": {verifier}, "client_id": {portalID}, "client_secret": {portalSecret}}, nil)
}

// signIn runs the whole code flow for upn and returns the tokens.
func (e *env) signIn(upn string, extra url.Values) tokenReply {
	e.t.Helper()
	v, ch := pkcePair(upn)
	params := authParams(ch)
	for k, vs := range extra {
		params[k] = vs
	}
	r := e.redeem(e.code(params, upn), v)
	if r.status != http.StatusOK {
		e.t.Fatalf("redeem for %s = %d %s %s, want 200", upn, r.status, r.Error, r.ErrorDescription)
	}
	return r
}

func (e *env) obo(assertion, scope string) tokenReply {
	e.t.Helper()
	return e.token(url.Values{"grant_type": {grantJWTBearer}, "requested_token_use": {"on_behalf_of"},
		"assertion": {assertion}, "scope": {scope}, "client_id": {portalID}, "client_secret": {portalSecret}}, nil)
}

func (e *env) refresh(rt, scope string) tokenReply {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {portalID}, "client_secret": {portalSecret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return e.token(form, nil)
}

// wantError checks an Entra-shaped error answer.
func wantError(t *testing.T, what string, r tokenReply, status int, code string, aadsts int) {
	t.Helper()
	if r.status != status || r.Error != code || len(r.ErrorCodes) != 1 || r.ErrorCodes[0] != aadsts {
		t.Fatalf("%s = %d %q %v (%s), want %d %q [%d]", what, r.status, r.Error, r.ErrorCodes, r.ErrorDescription, status, code, aadsts)
	}
	if !strings.HasPrefix(r.ErrorDescription, "AADSTS") || !isGUID(r.TraceID) || !isGUID(r.CorrelationID) || r.Timestamp == "" {
		t.Fatalf("%s error body lacks Entra fields: %+v", what, r)
	}
	if r.AccessToken != "" {
		t.Fatalf("%s error carries an access token", what)
	}
}
