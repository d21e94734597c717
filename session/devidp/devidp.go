// Package devidp is a small OpenID provider that behaves like the Microsoft
// Entra ID v2 endpoints the portal uses: discovery, signing keys, an
// authorize page that lets the developer pick an account, and a token
// endpoint for the authorization-code (with PKCE), refresh-token and
// on-behalf-of grants. `portal demo` runs it in-process and tests drive it
// over httptest, so the portal's production sign-in and token-broker code
// runs unchanged against it (DESIGN.md, "Two ways to run").
//
// It is deliberately strict where Entra is strict (exact redirect URIs,
// single-use codes, rotated refresh tokens, OBO audience checks) and answers
// errors in Entra's JSON shape, so tests against it catch what production
// would. It keeps every state in memory and is safe for concurrent use.
package devidp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// PowerPlatformAdminRoleID is the Entra directory-role template id of the
// Power Platform Administrator role. Tokens of admin users carry it in the
// `wids` claim, and AuthorizeAPI requires it.
const PowerPlatformAdminRoleID = "11648597-926c-4cf3-9c36-bcebb0ba8dcc"

// graphAppID is Microsoft Graph's application id: Entra issues a Graph
// access token when a sign-in asks for no API scope of its own.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// Default lifetimes; Entra's access and ID tokens live about an hour and
// authorization codes ten minutes.
const (
	defaultTokenTTL   = time.Hour
	defaultRefreshTTL = 24 * time.Hour
	codeTTL           = 10 * time.Minute
)

// Options configures a Provider. The zero value is usable: it gives a
// deterministic tenant, the DefaultUsers and no clients.
type Options struct {
	// Issuer overrides the issuer; by default it is derived from the base
	// URL the handler is mounted at: <base>/<tenant>/v2.0, as Entra's is.
	Issuer string
	// TenantID is the tenant GUID; by default a fixed, derived GUID.
	TenantID string
	// Clients are the registered confidential clients.
	Clients []Client
	// Now is the clock; by default time.Now. Tests inject one to expire tokens.
	Now func() time.Time
	// AccessTokenTTL and IDTokenTTL default to one hour.
	AccessTokenTTL, IDTokenTTL time.Duration
	// RefreshTokenTTL defaults to 24 hours.
	RefreshTokenTTL time.Duration
	// Users are the accounts offered on the authorize page; by default
	// DefaultUsers(TenantID).
	Users []User
}

// Client is a registered confidential client (an Entra app registration).
type Client struct {
	// ID is the application (client) id; Secret its client secret.
	ID, Secret string
	// RedirectURIs are matched exactly, as Entra does.
	RedirectURIs []string
	// AppIDURI is the application id URI that names the app's own API
	// scopes ("api://<ID>/access_as_user"); by default "api://<ID>".
	AppIDURI string
	// Name is shown on the account picker; by default the ID.
	Name string
	// PostLogoutRedirectURIs are the exact URIs logout may return to. When
	// empty, any URI on the origin of a redirect URI is allowed.
	PostLogoutRedirectURIs []string
}

// User is an account of the tenant.
type User struct {
	// OID is the object id (a GUID), UPN the user principal name and Name
	// the display name.
	OID, UPN, Name string
	// Admin marks a Power Platform administrator: its tokens carry the
	// PowerPlatformAdminRoleID in `wids`.
	Admin bool
	// Behavior makes the account fail the way real accounts do.
	Behavior Behavior
}

// Behavior selects how an account fails token requests for downstream APIs
// (OBO, or a refresh token redeemed for another resource).
type Behavior int

const (
	// Normal accounts get every token they ask for.
	Normal Behavior = iota
	// InteractionRequired accounts fail with interaction_required and a
	// claims challenge (MFA, AADSTS50079) until they sign in again through
	// an authorize request that carries a `claims` parameter; tokens from
	// that sign-in carry amr "mfa" and then succeed.
	InteractionRequired
	// ConsentRequired accounts fail with invalid_grant, AADSTS65001 and
	// suberror consent_required.
	ConsentRequired
	// NoServicePrincipal accounts fail with invalid_resource and
	// AADSTS500011 for the unified Power Platform API audience only, as a
	// tenant without the Power Platform API service principal does.
	NoServicePrincipal
)

// String names the behavior for pages and messages.
func (b Behavior) String() string {
	switch b {
	case Normal:
		return "normal"
	case InteractionRequired:
		return "interaction required"
	case ConsentRequired:
		return "consent required"
	case NoServicePrincipal:
		return "no service principal"
	default:
		return fmt.Sprintf("behavior(%d)", int(b))
	}
}

// Fault makes the token endpoint answer an error instead of serving a
// request (SetFault).
type Fault struct {
	// Status is the HTTP status; by default 400, or 503 for
	// temporarily_unavailable and 500 for server_error.
	Status int
	// Error is the OAuth error code, e.g. invalid_grant,
	// temporarily_unavailable, interaction_required (which also carries a
	// claims challenge). By default it follows from Status.
	Error string
	// Count is how many requests get the fault; 0 means every request until
	// SetFault replaces or clears it.
	Count int
	// RetryAfter, when positive, is sent as a Retry-After header in seconds.
	RetryAfter time.Duration
}

// Provider is the identity provider. Create it with New; it is safe for
// concurrent use.
type Provider struct {
	tenant         string
	issuerOverride string
	clients        map[string]Client
	clientOrder    []string
	users          []User
	now            func() time.Time
	atTTL, idTTL   time.Duration
	rtTTL          time.Duration
	policyID       string // the conditional-access policy named in claims challenges

	mu       sync.Mutex
	key      *rsa.PrivateKey
	kid      string
	issuers  map[string]bool
	codes    map[string]*authCode
	redeemed map[string]time.Time // redeemed code -> when it would have expired
	refresh  map[string]*refreshGrant
	counts   map[string]int
	faults   map[string]*Fault
}

// signIn is what one completed sign-in grants; codes and refresh tokens
// carry it forward.
type signIn struct {
	clientID string
	userOID  string
	mfa      bool      // the sign-in answered a claims challenge
	authTime time.Time // when the user picked the account
	oidc     []string  // granted OpenID scopes (openid, profile, email, offline_access)
	apiScope string    // the app's own API scope name, "" for a Graph token
}

type authCode struct {
	signIn
	redirectURI string
	challenge   string
	nonce       string
	expires     time.Time
}

type refreshGrant struct {
	signIn
	expires time.Time
}

// ErrNotAdmin is returned by AuthorizeAPI for a valid token of a user who
// is not a Power Platform administrator (the API answers 403).
var ErrNotAdmin = errors.New("devidp: token lacks the Power Platform administrator role")

// ErrInvalidToken is wrapped by every ValidateAccessToken failure (bad
// signature or shape, wrong issuer or audience, expired): the API answers 401.
var ErrInvalidToken = errors.New("devidp: invalid access token")

// New checks opts, fills in defaults and generates a fresh RSA 2048 signing
// key.
func New(opts Options) (*Provider, error) {
	p := &Provider{
		issuerOverride: strings.TrimRight(opts.Issuer, "/"),
		clients:        make(map[string]Client),
		now:            opts.Now,
		atTTL:          opts.AccessTokenTTL,
		idTTL:          opts.IDTokenTTL,
		rtTTL:          opts.RefreshTokenTTL,
		issuers:        make(map[string]bool),
		codes:          make(map[string]*authCode),
		redeemed:       make(map[string]time.Time),
		refresh:        make(map[string]*refreshGrant),
		counts:         make(map[string]int),
		faults:         make(map[string]*Fault),
	}
	var problems []string
	p.tenant = strings.ToLower(opts.TenantID)
	if p.tenant == "" {
		p.tenant = derivedGUID("tenant")
	} else if !isGUID(p.tenant) {
		problems = append(problems, fmt.Sprintf("TenantID %q is not a GUID", opts.TenantID))
	}
	if p.issuerOverride != "" {
		if u, err := url.Parse(p.issuerOverride); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			problems = append(problems, fmt.Sprintf("Issuer %q is not an absolute http(s) URL", opts.Issuer))
		}
		p.issuers[p.issuerOverride] = true
	}
	if p.now == nil {
		p.now = time.Now
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"AccessTokenTTL", &p.atTTL, defaultTokenTTL}, {"IDTokenTTL", &p.idTTL, defaultTokenTTL}, {"RefreshTokenTTL", &p.rtTTL, defaultRefreshTTL}} {
		switch {
		case *d.v < 0:
			problems = append(problems, d.name+" is negative")
		case *d.v == 0:
			*d.v = d.def
		}
	}
	for i, c := range opts.Clients {
		problems = append(problems, checkClient(i, &c)...)
		if _, dup := p.clients[c.ID]; dup {
			problems = append(problems, fmt.Sprintf("client %q is registered twice", c.ID))
			continue
		}
		p.clients[c.ID] = c
		p.clientOrder = append(p.clientOrder, c.ID)
	}
	p.users = append([]User(nil), opts.Users...)
	if opts.Users == nil {
		p.users = DefaultUsers(p.tenant)
	}
	seenOID, seenUPN := map[string]bool{}, map[string]bool{}
	for i, u := range p.users {
		u.OID = strings.ToLower(u.OID)
		p.users[i] = u
		if !isGUID(u.OID) {
			problems = append(problems, fmt.Sprintf("user %d: OID %q is not a GUID", i, u.OID))
		}
		if u.UPN == "" || !strings.Contains(u.UPN, "@") {
			problems = append(problems, fmt.Sprintf("user %d: UPN %q is not name@domain", i, u.UPN))
		}
		if u.Behavior < Normal || u.Behavior > NoServicePrincipal {
			problems = append(problems, fmt.Sprintf("user %d: unknown %v", i, u.Behavior))
		}
		if seenOID[u.OID] || seenUPN[strings.ToLower(u.UPN)] {
			problems = append(problems, fmt.Sprintf("user %d: OID or UPN registered twice", i))
		}
		seenOID[u.OID], seenUPN[strings.ToLower(u.UPN)] = true, true
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("devidp: invalid options: %s", strings.Join(problems, "; "))
	}
	p.policyID = derivedGUID("conditional-access-policy", p.tenant)
	key, kid, err := newKey()
	if err != nil {
		return nil, err
	}
	p.key, p.kid = key, kid
	return p, nil
}

// checkClient fills the client's defaults and lists what is wrong with it.
func checkClient(i int, c *Client) []string {
	var problems []string
	if c.ID == "" || strings.ContainsAny(c.ID, " /\t\r\n") {
		problems = append(problems, fmt.Sprintf("client %d: ID %q is empty or has spaces or slashes", i, c.ID))
	}
	if c.Secret == "" {
		problems = append(problems, fmt.Sprintf("client %q: Secret is empty", c.ID))
	}
	if c.AppIDURI == "" {
		c.AppIDURI = "api://" + c.ID
	}
	c.AppIDURI = strings.TrimRight(c.AppIDURI, "/")
	if c.Name == "" {
		c.Name = c.ID
	}
	for _, list := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs} {
		for _, ru := range list {
			if _, ok := originOf(ru); !ok {
				problems = append(problems, fmt.Sprintf("client %q: URI %q must be an absolute http(s) URL without fragment, user info or spaces", c.ID, ru))
			}
		}
	}
	if len(c.RedirectURIs) == 0 {
		problems = append(problems, fmt.Sprintf("client %q: no RedirectURIs", c.ID))
	}
	return problems
}

// originOf returns scheme://host[:port] of an absolute http(s) URL fit to
// register, and whether it is one.
func originOf(raw string) (string, bool) {
	if raw == "" || strings.ContainsAny(raw, " \t\r\n;,'\"") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), true
}

// DefaultUsers returns the demo tenant's accounts: an administrator, a
// reader (not an admin), an administrator who must pass MFA before OBO
// succeeds, and an administrator whose tenant has not consented. Object ids
// are derived from tenantID, so they are stable across runs.
func DefaultUsers(tenantID string) []User {
	mk := func(upn, name string, admin bool, b Behavior) User {
		return User{OID: derivedGUID("user", strings.ToLower(tenantID), upn), UPN: upn, Name: name, Admin: admin, Behavior: b}
	}
	return []User{
		mk("admin@contoso.example", "Avery Admin", true, Normal),
		mk("reader@contoso.example", "Riley Reader", false, Normal),
		mk("mfa@contoso.example", "Morgan MFA", true, InteractionRequired),
		mk("noconsent@contoso.example", "Noel NoConsent", true, ConsentRequired),
	}
}

// TenantID returns the tenant GUID.
func (p *Provider) TenantID() string { return p.tenant }

// Issuer returns the issuer for a handler mounted at base:
// base + "/" + tenant + "/v2.0", or the Options.Issuer override.
func (p *Provider) Issuer(base string) string {
	if p.issuerOverride != "" {
		return p.issuerOverride
	}
	return strings.TrimRight(base, "/") + "/" + p.tenant + "/v2.0"
}

// Count returns how many requests of a kind were served so far. Kinds:
// "authorize" (authorize page loads, GET), "authorize:claims" (those
// carrying a claims parameter), "authorize:post" (account choices and
// cancels), "token" (every token request), "token:authorization_code",
// "token:refresh_token", "token:obo", "token:obo:<audience>" (e.g.
// "token:obo:https://api.powerplatform.com"),
// "token:refresh_token:<audience>" (refresh tokens redeemed for a
// downstream API), "discovery", "keys" and "logout". Every request counts, failed ones too.
func (p *Provider) Count(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[kind]
}

func (p *Provider) count(kinds ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range kinds {
		p.counts[k]++
	}
}

// SetFault makes the token endpoint answer f for a grant type:
// "authorization_code", "refresh_token", "obo" (or its grant-type URN
// urn:ietf:params:oauth:grant-type:jwt-bearer), or "" for every grant.
// A zero Fault clears it. Faulted requests are counted but consume nothing
// (codes and refresh tokens stay valid).
func (p *Provider) SetFault(grant string, f Fault) {
	key := faultKey(grant)
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Status == 0 && f.Error == "" {
		delete(p.faults, key)
		return
	}
	p.faults[key] = &f
}

func faultKey(grant string) string {
	switch grant {
	case "":
		return "*"
	case grantJWTBearer, "obo":
		return "obo"
	default:
		return grant
	}
}

// takeFault returns the fault to answer for a grant, if any, and uses one
// of its counts.
func (p *Provider) takeFault(grant string) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, key := range []string{faultKey(grant), "*"} {
		f, ok := p.faults[key]
		if !ok {
			continue
		}
		out := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				delete(p.faults, key)
			}
		}
		return out, true
	}
	return Fault{}, false
}

// RotateKey replaces the signing key. Only the new key is published, so
// tokens signed before fail verification, as after an unannounced rollover.
func (p *Provider) RotateKey() {
	key, kid, err := newKey()
	if err != nil {
		// crypto/rand does not fail on supported platforms; keep the old key.
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.key, p.kid = key, kid
}

// newKey generates an RSA 2048 key and names it by its JWK thumbprint.
func newKey() (*rsa.PrivateKey, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", fmt.Errorf("devidp: generate key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, "", fmt.Errorf("devidp: key thumbprint: %w", err)
	}
	return key, base64.RawURLEncoding.EncodeToString(tp)[:27], nil
}

// signingKey returns the current key and its id.
func (p *Provider) signingKey() (*rsa.PrivateKey, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.key, p.kid
}

func (p *Provider) userByOID(oid string) (User, bool) {
	for _, u := range p.users {
		if u.OID == oid {
			return u, true
		}
	}
	return User{}, false
}

// derivedGUID formats a SHA-256 of parts as a version-4-shaped GUID, for
// ids that must be stable across runs.
func derivedGUID(parts ...string) string {
	sum := sha256.Sum256([]byte("ppportal/devidp\x00" + strings.Join(parts, "\x00")))
	return formatGUID(sum[:16])
}

// randomGUID returns a random version-4 GUID (trace and correlation ids).
func randomGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return formatGUID(b)
}

func formatGUID(b []byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

// randomToken returns an opaque token: prefix plus 32 random bytes in
// base64url. Entra's codes and refresh tokens look alike ("1.A…", "0.A…")
// and are never JWT-shaped.
func randomToken(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}
