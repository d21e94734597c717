package devidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// grantJWTBearer is the grant type of the on-behalf-of flow.
const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// tokenResponse is Entra's successful token response.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// token serves the token endpoint. Every request is counted first; an
// injected fault is answered before anything is consumed.
func (s *server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	parseErr := r.ParseForm()
	form := r.PostForm
	grant, _ := single(form, "grant_type")
	kinds := []string{"token"}
	switch grant {
	case "authorization_code":
		kinds = append(kinds, "token:authorization_code")
	case "refresh_token":
		kinds = append(kinds, "token:refresh_token")
		if aud, ok := downstreamAudience(form.Get("scope")); ok {
			kinds = append(kinds, "token:refresh_token:"+aud)
		}
	case grantJWTBearer:
		kinds = append(kinds, "token:obo")
		if aud, ok := downstreamAudience(form.Get("scope")); ok {
			kinds = append(kinds, "token:obo:"+aud)
		}
	case "":
	default:
		kinds = append(kinds, "token:unsupported")
	}
	s.p.count(kinds...)

	if !s.tenantOK(r) {
		s.tenantError(w, r)
		return
	}
	if f, ok := s.p.takeFault(grant); ok {
		s.writeError(w, r, s.p.faultError(f))
		return
	}
	if parseErr != nil {
		s.writeError(w, r, *malformed("The request body must be a form of at most 64 KiB."))
		return
	}
	for name := range form {
		if _, e := single(form, name); e != nil {
			s.writeError(w, r, *e)
			return
		}
	}
	c, e := s.p.authenticateClient(r, form)
	if e != nil {
		s.writeError(w, r, *e)
		return
	}
	switch grant {
	case "authorization_code":
		s.codeGrant(w, r, c, form)
	case "refresh_token":
		s.refreshGrant(w, r, c, form)
	case grantJWTBearer:
		s.oboGrant(w, r, c, form)
	case "":
		s.writeError(w, r, *missing("grant_type"))
	default:
		s.writeError(w, r, oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", aadsts: 70003,
			desc: "The app requested an unsupported grant type '" + grant + "'."})
	}
}

// authenticateClient checks client_id and client_secret, from the form or
// from HTTP Basic (form-urlencoded inside, RFC 6749 §2.3.1).
func (p *Provider) authenticateClient(r *http.Request, form url.Values) (Client, *oauthError) {
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		uid, err1 := url.QueryUnescape(bid)
		usecret, err2 := url.QueryUnescape(bsecret)
		if err1 != nil || err2 != nil {
			return Client{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", aadsts: 7000215,
				desc: "The client credentials in the Authorization header are not form-encoded."}
		}
		if secret != "" || (id != "" && id != uid) {
			return Client{}, malformed("Client credentials were sent both in the Authorization header and in the body.")
		}
		id, secret = uid, usecret
	}
	if id == "" {
		return Client{}, missing("client_id")
	}
	c, ok := p.clients[id]
	if !ok {
		return Client{}, &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", aadsts: 700016,
			desc: "Application with identifier '" + id + "' was not found in the directory '" + p.tenant + "'."}
	}
	if secret == "" {
		return Client{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", aadsts: 7000218,
			desc: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	got, want := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(c.Secret))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return Client{}, &oauthError{status: http.StatusUnauthorized, code: "invalid_client", aadsts: 7000215,
			desc: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + c.ID + "'."}
	}
	return c, nil
}

func invalidGrant(aadsts int, desc string) oauthError {
	return oauthError{status: http.StatusBadRequest, code: "invalid_grant", aadsts: aadsts, desc: desc}
}

// codeGrant redeems an authorization code: once, by the client it was
// issued to, with the same redirect URI, within ten minutes and with the
// PKCE verifier. A replayed code is refused; tokens already issued from it
// stay valid, as in Entra.
func (s *server) codeGrant(w http.ResponseWriter, r *http.Request, c Client, form url.Values) {
	code, redirectURI, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	for name, v := range map[string]string{"code": code, "redirect_uri": redirectURI} {
		if v == "" {
			s.writeError(w, r, *missing(name))
			return
		}
	}
	ac, replayed := s.p.redeemCode(code)
	switch {
	case replayed:
		s.writeError(w, r, invalidGrant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."))
		return
	case ac == nil:
		s.writeError(w, r, invalidGrant(70000, "The provided value for the 'code' parameter is not valid."))
		return
	case !s.p.now().Before(ac.expires):
		s.writeError(w, r, invalidGrant(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."))
		return
	case ac.clientID != c.ID:
		s.writeError(w, r, invalidGrant(70000, "The provided authorization code was issued to another client."))
		return
	case ac.redirectURI != redirectURI:
		s.writeError(w, r, invalidGrant(500112, "The reply address '"+redirectURI+"' does not match the reply address provided when requesting the authorization code."))
		return
	case verifier == "":
		s.writeError(w, r, invalidGrant(501481, "The code_verifier is missing; the authorization request carried a code_challenge."))
		return
	case !pkceMatches(verifier, ac.challenge):
		s.writeError(w, r, invalidGrant(50148, "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE."))
		return
	}
	u, ok := s.p.userByOID(ac.userOID)
	if !ok {
		s.writeError(w, r, invalidGrant(50034, "The user account does not exist in the directory."))
		return
	}
	s.signInTokens(w, r, c, u, ac.signIn, ac.nonce, "")
}

// pkceMatches checks an RFC 7636 S256 verifier against the challenge.
func pkceMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 || strings.ContainsFunc(verifier, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r))
	}) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// refreshGrant redeems a refresh token once and rotates it. Without scope
// it renews the sign-in's own access token; with a scope of the app's API
// likewise; with one downstream "<https URL>/.default" it gets a token for
// that resource, subject to the user's Behavior as in OBO.
func (s *server) refreshGrant(w http.ResponseWriter, r *http.Request, c Client, form url.Values) {
	rt := form.Get("refresh_token")
	if rt == "" {
		s.writeError(w, r, *missing("refresh_token"))
		return
	}
	g, ok := s.p.peekRefresh(rt)
	switch {
	case !ok:
		s.writeError(w, r, invalidGrant(70000, "The provided refresh token is not valid: it was already redeemed (refresh tokens rotate on use) or never issued."))
		return
	case !s.p.now().Before(g.expires):
		s.writeError(w, r, invalidGrant(700082, "The refresh token has expired due to inactivity."))
		return
	case g.clientID != c.ID:
		s.writeError(w, r, invalidGrant(70000, "The provided refresh token was issued to another client."))
		return
	}
	u, ok := s.p.userByOID(g.userOID)
	if !ok {
		s.writeError(w, r, invalidGrant(50034, "The user account does not exist in the directory."))
		return
	}
	downstream := ""
	if scope := form.Get("scope"); scope != "" {
		if _, api, e := c.parseSignInScope(scope); e == nil {
			if api == "" {
				api = g.apiScope
			}
			g.apiScope = api
		} else if aud, ok := downstreamAudience(scope); ok {
			downstream = aud
		} else {
			s.writeError(w, r, *e)
			return
		}
	}
	if downstream != "" {
		if e := s.p.downstreamCheck(c, u, g.mfa, downstream); e != nil {
			s.writeError(w, r, *e)
			return
		}
	}
	if !s.p.consumeRefresh(rt) {
		s.writeError(w, r, invalidGrant(70000, "The provided refresh token is not valid: it was already redeemed (refresh tokens rotate on use)."))
		return
	}
	s.signInTokens(w, r, c, u, g.signIn, "", downstream)
}

// signInTokens answers a code or refresh grant: an access token (for
// downstream if set, else the app's own API, else Graph), an ID token when
// openid was granted and a new refresh token when offline_access was, as
// Entra does.
func (s *server) signInTokens(w http.ResponseWriter, r *http.Request, c Client, u User, si signIn, nonce, downstream string) {
	var aud, scp, scope string
	switch {
	case downstream != "":
		aud, scp, scope = downstream, "user_impersonation", downstream+"/user_impersonation"
	case si.apiScope != "":
		aud, scp, scope = c.ID, si.apiScope, c.AppIDURI+"/"+si.apiScope
	default:
		aud, scp, scope = graphAppID, "User.Read", "User.Read"
	}
	at, err := s.p.issueAccess(s.issuer, c, u, aud, scp, si.mfa)
	if err != nil {
		s.writeError(w, r, oauthError{status: http.StatusInternalServerError, code: "server_error", aadsts: 50000, desc: "There was an error issuing a token."})
		return
	}
	resp := tokenResponse{TokenType: "Bearer", AccessToken: at, Scope: strings.Join(append([]string{scope}, si.oidc...), " ")}
	resp.ExpiresIn = int(s.p.atTTL / time.Second)
	resp.ExtExpiresIn = resp.ExpiresIn
	if slices.Contains(si.oidc, "openid") {
		if resp.IDToken, err = s.p.issueID(s.issuer, c, u, si, nonce); err != nil {
			s.writeError(w, r, oauthError{status: http.StatusInternalServerError, code: "server_error", aadsts: 50000, desc: "There was an error issuing a token."})
			return
		}
	}
	if slices.Contains(si.oidc, "offline_access") {
		resp.RefreshToken = s.p.newRefresh(si)
	}
	writeJSON(w, http.StatusOK, resp)
}

// oboGrant exchanges the app's own access token (the assertion) for a
// token of a downstream resource, for the same user.
func (s *server) oboGrant(w http.ResponseWriter, r *http.Request, c Client, form url.Values) {
	use, assertion, scope := form.Get("requested_token_use"), form.Get("assertion"), form.Get("scope")
	for _, p := range [][2]string{{"requested_token_use", use}, {"assertion", assertion}, {"scope", scope}} {
		if p[1] == "" {
			s.writeError(w, r, *missing(p[0]))
			return
		}
	}
	if use != "on_behalf_of" {
		s.writeError(w, r, *malformed("requested_token_use must be 'on_behalf_of'."))
		return
	}
	aud, ok := downstreamAudience(scope)
	if !ok {
		s.writeError(w, r, *invalidScope(scope))
		return
	}
	pc, err := s.p.verify(assertion, func(iss string) bool { return iss == s.issuer })
	if err != nil {
		ve, _ := errorsAsVerify(err)
		switch {
		case ve != nil && ve.kind == faultTime:
			s.writeError(w, r, invalidGrant(500133, "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token."))
		case ve != nil && ve.kind == faultMalformed:
			s.writeError(w, r, invalidGrant(50027, "JWT token is invalid or malformed."))
		default:
			s.writeError(w, r, invalidGrant(50013, "Assertion failed signature validation. [Reason - "+err.Error()+"]"))
		}
		return
	}
	if len(pc.Aud) != 1 || (pc.Aud[0] != c.ID && pc.Aud[0] != c.AppIDURI) {
		s.writeError(w, r, invalidGrant(50013, "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '"+
			strings.Join(pc.Aud, ",")+"' and the expected audience is '"+c.ID+"' or one of the Application Id URIs of this application."))
		return
	}
	u, ok := s.p.userByOID(pc.OID)
	if !ok {
		s.writeError(w, r, invalidGrant(50034, "The user account does not exist in the directory."))
		return
	}
	mfa := pc.hasMFA()
	if e := s.p.downstreamCheck(c, u, mfa, aud); e != nil {
		s.writeError(w, r, *e)
		return
	}
	at, err := s.p.issueAccess(s.issuer, c, u, aud, "user_impersonation", mfa)
	if err != nil {
		s.writeError(w, r, oauthError{status: http.StatusInternalServerError, code: "server_error", aadsts: 50000, desc: "There was an error issuing a token."})
		return
	}
	n := int(s.p.atTTL / time.Second)
	writeJSON(w, http.StatusOK, tokenResponse{TokenType: "Bearer", Scope: aud + "/user_impersonation", ExpiresIn: n, ExtExpiresIn: n, AccessToken: at})
}

// downstreamAudience reads a downstream scope: exactly one
// "<https URL>/.default" (OpenID scopes aside, which Microsoft's libraries
// add); the audience is the URL.
func downstreamAudience(scope string) (string, bool) {
	var res []string
	for _, sc := range strings.Fields(scope) {
		if !slices.Contains([]string{"openid", "profile", "email", "offline_access"}, sc) {
			res = append(res, sc)
		}
	}
	if len(res) != 1 {
		return "", false
	}
	aud, ok := strings.CutSuffix(res[0], "/.default")
	if !ok {
		return "", false
	}
	u, err := url.Parse(aud)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(aud, "/") {
		return "", false
	}
	return aud, true
}

// isUnifiedAudience reports whether aud is the unified Power Platform API
// (api.powerplatform.com and its sovereign hosts), as opposed to BAP's
// service.powerapps.* audiences.
func isUnifiedAudience(aud string) bool {
	u, err := url.Parse(aud)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return strings.Contains(h, "powerplatform") || h == "api.appsplatform.us"
}

// claimsChallenge is the claims value of an interaction_required answer.
func (p *Provider) claimsChallenge() string {
	return `{"access_token":{"capolids":{"essential":true,"values":["` + p.policyID + `"]}}}`
}

// downstreamCheck applies the user's Behavior to a token request for a
// downstream resource.
func (p *Provider) downstreamCheck(c Client, u User, mfa bool, aud string) *oauthError {
	switch {
	case u.Behavior == InteractionRequired && !mfa:
		return &oauthError{status: http.StatusBadRequest, code: "interaction_required", aadsts: 50079, claims: p.claimsChallenge(),
			desc: "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '" + aud + "'."}
	case u.Behavior == ConsentRequired:
		return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", aadsts: 65001, suberror: "consent_required",
			desc: "The user or administrator has not consented to use the application with ID '" + c.ID + "' named '" + c.Name + "'. Send an interactive authorization request for this user and resource."}
	case u.Behavior == NoServicePrincipal && isUnifiedAudience(aud):
		return &oauthError{status: http.StatusBadRequest, code: "invalid_resource", aadsts: 500011,
			desc: "The resource principal named " + aud + " was not found in the tenant named " + p.tenant + ". This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."}
	}
	return nil
}

// faultError turns an injected Fault into an Entra-shaped error.
func (p *Provider) faultError(f Fault) oauthError {
	code, status := f.Error, f.Status
	if code == "" {
		switch {
		case status == http.StatusInternalServerError:
			code = "server_error"
		case status == http.StatusTooManyRequests || status >= 500:
			code = "temporarily_unavailable"
		case status == http.StatusUnauthorized:
			code = "invalid_client"
		default:
			code = "invalid_request"
		}
	}
	if status == 0 {
		switch code {
		case "temporarily_unavailable":
			status = http.StatusServiceUnavailable
		case "server_error":
			status = http.StatusInternalServerError
		case "invalid_client":
			status = http.StatusUnauthorized
		default:
			status = http.StatusBadRequest
		}
	}
	e := oauthError{status: status, code: code, retry: f.RetryAfter}
	switch code {
	case "temporarily_unavailable", "server_error":
		e.aadsts, e.desc = 90033, "A transient error has occurred. Please try again."
	case "invalid_grant":
		e.aadsts, e.desc = 70000, "Provided grant is invalid or malformed."
	case "interaction_required":
		e.aadsts, e.desc, e.claims = 50079, "Due to a configuration change made by your administrator, you must use multi-factor authentication.", p.claimsChallenge()
	case "invalid_client":
		e.aadsts, e.desc = 7000215, "Invalid client secret provided."
	default:
		e.aadsts, e.desc = 50000, "There was an error issuing a token."
	}
	e.desc += " (Fault injected by the dev identity provider.)"
	return e
}

// newRefresh stores a refresh token for the sign-in.
func (p *Provider) newRefresh(si signIn) string {
	rt := randomToken("0.A")
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.pruneLocked(now)
	p.refresh[rt] = &refreshGrant{signIn: si, expires: now.Add(p.rtTTL)}
	return rt
}

// peekRefresh returns a copy of a refresh token's grant without using it.
func (p *Provider) peekRefresh(rt string) (refreshGrant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.refresh[rt]
	if !ok {
		return refreshGrant{}, false
	}
	cp := *g
	cp.oidc = slices.Clone(g.oidc)
	return cp, true
}

// consumeRefresh deletes a refresh token; false when another request used
// it first.
func (p *Provider) consumeRefresh(rt string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.refresh[rt]; !ok {
		return false
	}
	delete(p.refresh, rt)
	return true
}
