package devidp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxFormBytes bounds request bodies of the authorize and token endpoints.
const maxFormBytes = 64 << 10

// server serves the endpoints for one base URL.
type server struct {
	p      *Provider
	base   string // external root, no trailing slash
	prefix string // path part of base, "" or "/x"
	issuer string
}

// Handler serves the provider's endpoints for an external root URL base
// (e.g. an httptest server's URL): discovery and keys at
// {tenant}/v2.0/.well-known/openid-configuration and
// {tenant}/discovery/v2.0/keys, and authorize, token and logout under
// {tenant}/oauth2/v2.0/. A base with a path (https://host/idp) expects
// requests to keep that path. Tokens it issues name Issuer(base), which
// ValidateAccessToken then accepts.
func (p *Provider) Handler(base string) http.Handler {
	base = strings.TrimRight(base, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "devidp: Handler needs an absolute http(s) base URL", http.StatusInternalServerError)
		})
	}
	s := &server{p: p, base: base, prefix: u.Path, issuer: p.Issuer(base)}
	p.mu.Lock()
	p.issuers[s.issuer] = true
	p.mu.Unlock()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.discovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.keys)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.authorizePage)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/authorize", s.authorizeSubmit)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", s.logout)
	var h http.Handler = mux
	if s.prefix != "" {
		h = http.StripPrefix(s.prefix, mux)
	}
	return h
}

func (s *server) endpoint(path string) string {
	return s.base + "/" + s.p.tenant + path
}

// tenantOK checks the {tenant} path segment. Entra accepts the tenant id
// in any case; this provider knows no domain names and no "common".
func (s *server) tenantOK(r *http.Request) bool {
	return strings.EqualFold(r.PathValue("tenant"), s.p.tenant)
}

func (s *server) discovery(w http.ResponseWriter, r *http.Request) {
	s.p.count("discovery")
	if !s.tenantOK(r) {
		s.tenantError(w, r)
		return
	}
	doc := map[string]any{
		"issuer":                                s.issuer,
		"authorization_endpoint":                s.endpoint("/oauth2/v2.0/authorize"),
		"token_endpoint":                        s.endpoint("/oauth2/v2.0/token"),
		"jwks_uri":                              s.endpoint("/discovery/v2.0/keys"),
		"end_session_endpoint":                  s.endpoint("/oauth2/v2.0/logout"),
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", grantJWTBearer},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "amr", "nonce",
			"name", "preferred_username", "email", "oid", "tid", "upn", "ver"},
		"request_uri_parameter_supported": false,
		"http_logout_supported":           true,
		"frontchannel_logout_supported":   false,
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *server) keys(w http.ResponseWriter, r *http.Request) {
	s.p.count("keys")
	if !s.tenantOK(r) {
		s.tenantError(w, r)
		return
	}
	key, kid := s.p.signingKey()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}}}
	writeJSON(w, http.StatusOK, set)
}

// tenantError answers a request for another tenant as Entra does
// (AADSTS90002): JSON for the machine endpoints, a page for the browser ones.
func (s *server) tenantError(w http.ResponseWriter, r *http.Request) {
	e := oauthError{status: http.StatusBadRequest, code: "invalid_tenant", aadsts: 90002,
		desc: "Tenant '" + r.PathValue("tenant") + "' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."}
	if strings.HasSuffix(r.URL.Path, "/authorize") || strings.HasSuffix(r.URL.Path, "/logout") {
		s.errorPage(w, r, e)
		return
	}
	s.writeError(w, r, e)
}

// logout ends the (stateless) session and returns to a post-logout URI
// only when it is registered: an exact PostLogoutRedirectURIs entry, or,
// for a client without any, a URI on the origin of one of its redirect
// URIs. Anything else gets the signed-out page, never a redirect.
func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	s.p.count("logout")
	if !s.tenantOK(r) {
		s.tenantError(w, r)
		return
	}
	q := r.URL.Query()
	if target := q.Get("post_logout_redirect_uri"); target != "" && s.p.postLogoutAllowed(q.Get("client_id"), target) {
		u, _ := url.Parse(target) // parsed by postLogoutAllowed
		if st := q.Get("state"); st != "" {
			v := u.Query()
			v.Set("state", st)
			u.RawQuery = v.Encode()
		}
		setPageHeaders(w, "")
		http.Redirect(w, r, u.String(), http.StatusFound) // #nosec G710 -- target passed postLogoutAllowed: an exact registered post-logout URI, or on the origin of a registered redirect URI
		return
	}
	s.renderPage(w, http.StatusOK, "", signedOutTmpl, nil)
}

func (p *Provider) postLogoutAllowed(clientID, target string) bool {
	origin, ok := originOf(target)
	if !ok {
		return false
	}
	for _, id := range p.clientOrder {
		c := p.clients[id]
		if clientID != "" && clientID != id {
			continue
		}
		if len(c.PostLogoutRedirectURIs) > 0 {
			for _, pl := range c.PostLogoutRedirectURIs {
				if pl == target {
					return true
				}
			}
			continue
		}
		for _, ru := range c.RedirectURIs {
			if o, _ := originOf(ru); o == origin {
				return true
			}
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "devidp: encode response", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// oauthError is an error the token endpoint (or a page) reports, with its
// AADSTS number.
type oauthError struct {
	status   int
	code     string // OAuth error code
	aadsts   int
	desc     string // description without the AADSTS prefix
	suberror string
	claims   string
	retry    time.Duration
}

// entraError is Entra's token-endpoint error body.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	Suberror         string `json:"suberror,omitempty"`
	Claims           string `json:"claims,omitempty"`
}

// correlationID echoes the client-request-id header when it is a GUID, as
// Entra does, and makes one up otherwise.
func correlationID(r *http.Request) string {
	if id := r.Header.Get("client-request-id"); isGUID(id) {
		return strings.ToLower(id)
	}
	return randomGUID()
}

func (s *server) writeError(w http.ResponseWriter, r *http.Request, e oauthError) {
	trace, corr := randomGUID(), correlationID(r)
	ts := s.p.now().UTC().Format("2006-01-02 15:04:05Z")
	body := entraError{
		Error:            e.code,
		ErrorDescription: aadstsText(e) + "\r\nTrace ID: " + trace + "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + ts,
		ErrorCodes:       []int{e.aadsts},
		Timestamp:        ts,
		TraceID:          trace,
		CorrelationID:    corr,
		Suberror:         e.suberror,
		Claims:           e.claims,
	}
	w.Header().Set("x-ms-request-id", trace)
	w.Header().Set("client-request-id", corr)
	if e.retry > 0 {
		w.Header().Set("Retry-After", itoa(int((e.retry+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.status, body)
}

func aadstsText(e oauthError) string { return "AADSTS" + itoa(e.aadsts) + ": " + e.desc }

func itoa(n int) string { return strconv.Itoa(n) }
