package devidp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// maxParamLen bounds free-form authorize parameters (state, nonce,
// login_hint, claims).
const maxParamLen = 4096

// authRequest is a validated authorize request.
type authRequest struct {
	client      Client
	redirectURI string
	scope       string
	oidc        []string
	apiScope    string
	state       string
	nonce       string
	challenge   string
	prompt      string
	loginHint   string
	claims      string
	mode        string
}

// hidden lists the parameters the account picker posts back.
func (a authRequest) hidden() []nameValue {
	all := []nameValue{
		{"client_id", a.client.ID}, {"redirect_uri", a.redirectURI}, {"response_type", "code"},
		{"response_mode", a.mode}, {"scope", a.scope}, {"state", a.state}, {"nonce", a.nonce},
		{"code_challenge", a.challenge}, {"code_challenge_method", "S256"}, {"prompt", a.prompt},
		{"login_hint", a.loginHint}, {"claims", a.claims},
	}
	out := all[:0]
	for _, nv := range all {
		if nv.Value != "" {
			out = append(out, nv)
		}
	}
	return out
}

type nameValue struct{ Name, Value string }

// single returns the one value of a parameter; a repeated parameter is an
// error, as RFC 6749 §3.1 requires.
func single(v url.Values, name string) (string, *oauthError) {
	switch vs := v[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	default:
		return "", &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 90015,
			desc: "Parameter '" + name + "' is repeated."}
	}
}

func missing(name string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 900144,
		desc: "The request body must contain the following parameter: '" + name + "'."}
}

func malformed(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 9002313,
		desc: "Invalid request. Request is malformed or invalid. " + desc}
}

// parseAuthRequest validates an authorize request. The client and its
// redirect URI are checked first, so a later error never depends on an
// unvalidated redirect URI; every error is shown as a page.
func (p *Provider) parseAuthRequest(v url.Values) (authRequest, *oauthError) {
	var a authRequest
	get := func(name string) string {
		s, _ := single(v, name)
		return s
	}
	for name := range v {
		if _, e := single(v, name); e != nil {
			return a, e
		}
		if len(get(name)) > maxParamLen {
			return a, malformed("Parameter '" + name + "' is too long.")
		}
	}
	id := get("client_id")
	if id == "" {
		return a, missing("client_id")
	}
	c, ok := p.clients[id]
	if !ok {
		return a, &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", aadsts: 700016,
			desc: "Application with identifier '" + id + "' was not found in the directory '" + p.tenant + "'."}
	}
	a.client = c
	a.redirectURI = get("redirect_uri")
	if a.redirectURI == "" {
		return a, missing("redirect_uri")
	}
	if !slices.Contains(c.RedirectURIs, a.redirectURI) {
		return a, &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 50011,
			desc: "The redirect URI '" + a.redirectURI + "' specified in the request does not match the redirect URIs configured for the application '" + c.ID + "'."}
	}
	switch rt := get("response_type"); rt {
	case "code":
	case "":
		return a, missing("response_type")
	default:
		return a, &oauthError{status: http.StatusBadRequest, code: "unsupported_response_type", aadsts: 700054,
			desc: "response_type '" + rt + "' is not enabled for the application."}
	}
	a.mode = get("response_mode")
	if a.mode != "" && a.mode != "query" {
		return a, malformed("response_mode '" + a.mode + "' is not supported by this provider; use query.")
	}
	a.scope = get("scope")
	if a.scope == "" {
		return a, missing("scope")
	}
	oidc, api, e := c.parseSignInScope(a.scope)
	if e != nil {
		return a, e
	}
	if !slices.Contains(oidc, "openid") {
		return a, malformed("The scope must contain 'openid'.")
	}
	a.oidc, a.apiScope = oidc, api
	a.challenge = get("code_challenge")
	if a.challenge == "" {
		return a, missing("code_challenge")
	}
	if !isBase64URL(a.challenge) || len(a.challenge) != 43 {
		return a, malformed("code_challenge must be the base64url SHA-256 of the code_verifier (43 characters).")
	}
	switch m := get("code_challenge_method"); m {
	case "S256":
	case "":
		return a, missing("code_challenge_method")
	default:
		return a, malformed("code_challenge_method '" + m + "' is not supported; use S256.")
	}
	a.prompt = get("prompt")
	if !slices.Contains([]string{"", "login", "consent", "select_account", "none"}, a.prompt) {
		return a, malformed("prompt '" + a.prompt + "' is not valid.")
	}
	a.claims = get("claims")
	if a.claims != "" {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(a.claims), &obj) != nil {
			return a, &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 90014,
				desc: "The claims parameter is not a valid JSON object."}
		}
	}
	a.state, a.nonce, a.loginHint = get("state"), get("nonce"), get("login_hint")
	return a, nil
}

// parseSignInScope splits an authorize scope into OpenID scopes and at most
// one scope of the client's own API (<AppIDURI or ID>/access_as_user or
// /.default). The name is kept; ".default" grants access_as_user.
func (c Client) parseSignInScope(scope string) (oidc []string, api string, e *oauthError) {
	for _, sc := range strings.Fields(scope) {
		switch {
		case slices.Contains([]string{"openid", "profile", "email", "offline_access"}, sc):
			if !slices.Contains(oidc, sc) {
				oidc = append(oidc, sc)
			}
		case c.ownScope(sc) != "":
			if api != "" && api != c.ownScope(sc) {
				return nil, "", invalidScope(sc)
			}
			api = c.ownScope(sc)
		default:
			return nil, "", invalidScope(sc)
		}
	}
	return oidc, api, nil
}

// ownScope returns "access_as_user" when sc names the client's own API
// scope, else "".
func (c Client) ownScope(sc string) string {
	for _, prefix := range []string{c.AppIDURI + "/", c.ID + "/"} {
		if name, ok := strings.CutPrefix(sc, prefix); ok && (name == "access_as_user" || name == ".default") {
			return "access_as_user"
		}
	}
	return ""
}

func invalidScope(sc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", aadsts: 70011,
		desc: "The provided value for the input parameter 'scope' is not valid. The scope '" + sc + "' is not valid."}
}

func isBase64URL(s string) bool {
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// authorizePage shows the account picker.
func (s *server) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("claims") != "" {
		s.p.count("authorize", "authorize:claims")
	} else {
		s.p.count("authorize")
	}
	if !s.tenantOK(r) {
		s.tenantError(w, r)
		return
	}
	a, e := s.p.parseAuthRequest(q)
	if e != nil {
		s.errorPage(w, r, *e)
		return
	}
	if a.prompt == "none" {
		// No sign-in session is kept, so a silent request cannot succeed.
		s.redirectBack(w, r, a, url.Values{"error": {"login_required"},
			"error_description": {"AADSTS50058: A silent sign-in request was sent but no user is signed in."}})
		return
	}
	data := pickerData{Action: s.prefix + "/" + s.p.tenant + "/oauth2/v2.0/authorize", ClientName: a.client.Name,
		Hidden: a.hidden(), Claims: a.claims != ""}
	for _, u := range s.p.users {
		pu := pickerUser{OID: u.OID, Name: u.Name, UPN: u.UPN, Note: userNote(u),
			Hinted: a.loginHint != "" && strings.EqualFold(a.loginHint, u.UPN)}
		if pu.Hinted {
			data.Users = append([]pickerUser{pu}, data.Users...)
		} else {
			data.Users = append(data.Users, pu)
		}
	}
	origin, _ := originOf(a.redirectURI)
	s.renderPage(w, http.StatusOK, "'self' "+origin, pickerTmpl, data)
}

func userNote(u User) string {
	var parts []string
	if u.Admin {
		parts = append(parts, "Power Platform administrator")
	} else {
		parts = append(parts, "not an administrator")
	}
	switch u.Behavior {
	case InteractionRequired:
		parts = append(parts, "needs MFA (claims challenge) for Power Platform APIs")
	case ConsentRequired:
		parts = append(parts, "tenant has not consented to Power Platform APIs")
	case NoServicePrincipal:
		parts = append(parts, "tenant lacks the Power Platform API service principal")
	}
	return strings.Join(parts, "; ")
}

// authorizeSubmit handles the account picker: a chosen account gets a code,
// Cancel gets access_denied, both sent to the validated redirect URI.
func (s *server) authorizeSubmit(w http.ResponseWriter, r *http.Request) {
	s.p.count("authorize:post")
	if !s.tenantOK(r) {
		s.tenantError(w, r)
		return
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		s.errorPage(w, r, oauthError{status: http.StatusForbidden, code: "access_denied", aadsts: 90023,
			desc: "The account choice must be posted from this provider's own page."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, *malformed("The form could not be read."))
		return
	}
	form := r.PostForm
	choice := url.Values{}
	for _, k := range []string{"user", "cancel"} {
		choice[k] = form[k]
		delete(form, k)
	}
	a, e := s.p.parseAuthRequest(form)
	if e != nil {
		s.errorPage(w, r, *e)
		return
	}
	if choice.Get("cancel") != "" {
		s.redirectBack(w, r, a, url.Values{"error": {"access_denied"},
			"error_description": {"AADSTS65004: User declined to consent to access the app."}})
		return
	}
	u, ok := s.p.userByOID(strings.ToLower(choice.Get("user")))
	if !ok || len(choice["user"]) != 1 {
		s.errorPage(w, r, oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 50034,
			desc: "The user account does not exist in the '" + s.p.tenant + "' directory."})
		return
	}
	code := s.p.newCode(&authCode{
		signIn: signIn{clientID: a.client.ID, userOID: u.OID, mfa: a.claims != "", authTime: s.p.now(),
			oidc: a.oidc, apiScope: a.apiScope},
		redirectURI: a.redirectURI, challenge: a.challenge, nonce: a.nonce,
	})
	s.redirectBack(w, r, a, url.Values{"code": {code}, "session_state": {randomGUID()}})
}

// redirectBack sends the browser to the request's validated redirect URI
// with params and the state.
func (s *server) redirectBack(w http.ResponseWriter, r *http.Request, a authRequest, params url.Values) {
	u, err := url.Parse(a.redirectURI)
	if err != nil { // registered URIs were parsed in New
		s.errorPage(w, r, *malformed("The redirect URI cannot be parsed."))
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if a.state != "" {
		q.Set("state", a.state)
	}
	u.RawQuery = q.Encode()
	setPageHeaders(w, "")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// newCode stores an authorization code for ten minutes.
func (p *Provider) newCode(ac *authCode) string {
	code := randomToken("1.A")
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	ac.expires = now.Add(codeTTL)
	p.pruneLocked(now)
	p.codes[code] = ac
	return code
}

// redeemCode takes a code out of the store: it can be redeemed once. A
// second attempt reports replayed.
func (p *Provider) redeemCode(code string) (ac *authCode, replayed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ac, ok := p.codes[code]; ok {
		delete(p.codes, code)
		p.redeemed[code] = ac.expires
		return ac, false
	}
	_, replayed = p.redeemed[code]
	return nil, replayed
}

// pruneLocked drops expired codes, replay records and refresh tokens.
func (p *Provider) pruneLocked(now time.Time) {
	for k, ac := range p.codes {
		if !now.Before(ac.expires) {
			delete(p.codes, k)
		}
	}
	for k, exp := range p.redeemed {
		if !now.Before(exp) {
			delete(p.redeemed, k)
		}
	}
	for k, g := range p.refresh {
		if !now.Before(g.expires) {
			delete(p.refresh, k)
		}
	}
}
