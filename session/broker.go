package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Errors from the token broker and Refresh. They are wrapped: test with
// errors.Is.
var (
	// ErrSignInRequired means the user must sign in again: no session, no
	// refresh token, or the provider refused it (invalid_grant).
	ErrSignInRequired = errors.New("session: sign-in required")
	// ErrConsentRequired means the user or an admin has not consented to the
	// downstream API (AADSTS65001, consent_required).
	ErrConsentRequired = errors.New("session: consent required for the downstream API")
	// ErrNoServicePrincipal means the downstream API has no service
	// principal in the tenant (AADSTS500011, invalid_resource).
	ErrNoServicePrincipal = errors.New("session: the downstream API is not registered in the tenant")
	// ErrTokenService means the token endpoint failed (5xx) or could not be
	// reached; retrying later may help.
	ErrTokenService = errors.New("session: the token service is unavailable")
)

// InteractionRequiredError means the provider wants the user back at the
// authorize endpoint (MFA, Conditional Access): the portal starts a new
// sign-in passing Claims as the claims challenge.
type InteractionRequiredError struct {
	// Claims is the claims challenge JSON from the provider, or "".
	Claims string
	// Description is a fixed sentence safe to show the user.
	Description string
}

// Error implements error.
func (e *InteractionRequiredError) Error() string {
	return "session: interaction required: " + e.Description
}

// TokenCache stores on-behalf-of access tokens. Keys are opaque and
// partitioned per user: every key of one user starts with the same prefix,
// which DeletePrefix removes. Implementations must be safe for concurrent
// use; a shared one (Redis) should encrypt values at rest.
type TokenCache interface {
	// Get returns the token stored under key; ok is false when there is none.
	Get(ctx context.Context, key string) (token string, expiry time.Time, ok bool, err error)
	// Set stores token under key until expiry.
	Set(ctx context.Context, key, token string, expiry time.Time) error
	// DeletePrefix removes every key that starts with prefix.
	DeletePrefix(ctx context.Context, prefix string) error
}

// TokenCacheLocker is an optional extension of a shared TokenCache: a lock
// per cache key across processes. When the cache has it, the broker takes
// the lock around an exchange and looks in the cache again once it holds
// it, so replicas that miss at the same time make one exchange between
// them (singleflight only joins callers within one process).
type TokenCacheLocker interface {
	// Lock waits until it holds key's lock or ctx ends; unlock releases it.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// BrokerOptions configures a Broker. The zero value is usable.
type BrokerOptions struct {
	// HTTPClient reaches the token endpoint for on-behalf-of exchanges; by
	// default the Authenticator's (which also serves refreshes).
	HTTPClient *http.Client
	// Now is the clock; by default the Authenticator's.
	Now func() time.Time
	// Skew is how long before expiry a token counts as expired; default 2 min.
	Skew time.Duration
	// MaxEntries bounds the in-memory cache; default 10000. Ignored when
	// Cache is set.
	MaxEntries int
	// Cache stores the tokens; nil means an in-memory cache in this process.
	Cache TokenCache
	// Observe, when set, is told of every token-cache hit ("cache_hit"),
	// on-behalf-of exchange ("obo") and refresh of the user's own token
	// ("refresh"), with the exchange's error; for metrics.
	Observe func(event string, err error)
}

const (
	defaultSkew       = 2 * time.Minute
	defaultMaxEntries = 10_000
	// flightTimeout bounds one shared exchange, whoever waits for it.
	flightTimeout = 30 * time.Second
	oboGrantType  = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	maxScopeLen   = 512
)

// Broker exchanges the signed-in user's portal access token for access
// tokens to downstream APIs (OAuth 2.0 on-behalf-of), caches them per user,
// assertion and scope, and refreshes the user's own token when it expires.
// It is safe for concurrent use.
type Broker struct {
	a       *Authenticator
	client  *http.Client
	now     func() time.Time
	skew    time.Duration
	cache   TokenCache
	flight  singleflight.Group
	observe func(event string, err error)
}

// NewBroker returns a Broker that uses a's token endpoint and client
// credentials.
func NewBroker(a *Authenticator, o BrokerOptions) *Broker {
	b := &Broker{a: a, client: o.HTTPClient, now: o.Now, skew: o.Skew, cache: o.Cache, observe: o.Observe}
	if b.observe == nil {
		b.observe = func(string, error) {}
	}
	if b.client == nil {
		b.client = a.client
	}
	if b.now == nil {
		b.now = a.now
	}
	if b.skew <= 0 {
		b.skew = defaultSkew
	}
	if b.cache == nil {
		n := o.MaxEntries
		if n <= 0 {
			n = defaultMaxEntries
		}
		b.cache = newMemoryCache(n, b.now)
	}
	return b
}

// Token returns an access token for scope (one resource's ".default", such
// as "https://api.powerplatform.com/.default") on behalf of the user whose
// TokenHolder is in ctx (WithHolder). Without one it returns
// ErrSignInRequired. Tokens are served from the cache until Skew before
// they expire; concurrent callers for the same user and scope share one
// exchange. An expired user token is refreshed first, once per session
// however many requests need it. Errors: ErrSignInRequired,
// *InteractionRequiredError, ErrConsentRequired, ErrNoServicePrincipal,
// ErrTokenService (all wrapped), or the context's error.
func (b *Broker) Token(ctx context.Context, scope string) (string, error) {
	h := HolderFrom(ctx)
	if h == nil {
		return "", fmt.Errorf("session: no signed-in session: %w", ErrSignInRequired)
	}
	if scope == "" || len(scope) > maxScopeLen || strings.ContainsAny(scope, " \t\r\n") {
		return "", errors.New("session: token scope must be one resource scope such as https://api.powerplatform.com/.default")
	}
	user := h.User()
	if user.OID == "" || user.TenantID == "" {
		return "", fmt.Errorf("session: session has no user: %w", ErrSignInRequired)
	}
	toks := h.Tokens()
	if toks.Expired(b.now(), b.skew) {
		var err error
		if toks, err = b.refreshUser(ctx, h, user); err != nil {
			return "", err
		}
	}

	key := oboKey(user, toks.AccessToken, scope)
	if tok, ok := b.cached(ctx, key); ok {
		b.observe("cache_hit", nil)
		return tok, nil
	}
	assertion := toks.AccessToken
	ch := b.flight.DoChan(key, func() (any, error) {
		// The exchange outlives a cancelled first caller: others may wait.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		defer cancel()
		if tok, ok := b.cached(fctx, key); ok {
			return tok, nil
		}
		if l, ok := b.cache.(TokenCacheLocker); ok {
			// A lock that cannot be taken costs at most one more exchange.
			if unlock, err := l.Lock(fctx, key); err == nil {
				defer unlock()
				if tok, ok := b.cached(fctx, key); ok {
					return tok, nil
				}
			}
		}
		tok, expiry, err := b.exchange(fctx, assertion, scope)
		b.observe("obo", err)
		if err != nil {
			return "", err
		}
		// A cache write failure costs one more exchange later, nothing else.
		_ = b.cache.Set(fctx, key, tok, expiry)
		return tok, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("session: waiting for a token: %w", ctx.Err())
	}
}

// cached returns a fresh cached token. A cache read error counts as a miss.
func (b *Broker) cached(ctx context.Context, key string) (string, bool) {
	tok, expiry, ok, err := b.cache.Get(ctx, key)
	if err != nil || !ok || tok == "" || !b.now().Add(b.skew).Before(expiry) {
		return "", false
	}
	return tok, true
}

// refreshUser refreshes the user's own tokens under the session's lock. The
// callback re-checks the freshest stored tokens first, so when many
// requests find the token expired only the first one refreshes.
func (b *Broker) refreshUser(ctx context.Context, h TokenHolder, user User) (Tokens, error) {
	return h.UpdateTokens(ctx, func(cur Tokens) (Tokens, error) {
		if !cur.Expired(b.now(), b.skew) {
			return cur, nil
		}
		next, who, err := b.a.refresh(ctx, cur.RefreshToken)
		b.observe("refresh", err)
		if err != nil {
			return Tokens{}, err
		}
		if who != nil && who.Key() != user.Key() {
			return Tokens{}, fmt.Errorf("session: refreshed tokens belong to another user: %w", ErrSignInRequired)
		}
		if next.RefreshToken == "" {
			next.RefreshToken = cur.RefreshToken
		}
		if next.IDToken == "" {
			next.IDToken = cur.IDToken
		}
		return next, nil
	})
}

// exchange performs one on-behalf-of request.
func (b *Broker) exchange(ctx context.Context, assertion, scope string) (string, time.Time, error) {
	now := b.now()
	tr, err := b.a.tokenRequest(ctx, b.client, url.Values{
		"grant_type":          {oboGrantType},
		"assertion":           {assertion},
		"scope":               {scope},
		"requested_token_use": {"on_behalf_of"},
	})
	if err != nil {
		return "", time.Time{}, classifyTokenError(err)
	}
	if tr.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("session: on-behalf-of answer has no access token: %w", ErrTokenService)
	}
	return tr.AccessToken, expiryFrom(now, int64(tr.ExpiresIn), time.Time{}), nil
}

// Forget drops the cached on-behalf-of tokens of u (at sign-out). Errors
// of a shared cache are ignored: entries are keyed by a hash of an access
// token that dies with the session, and expire on their own.
func (b *Broker) Forget(u User) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.ForgetContext(ctx, u)
}

// ForgetContext is Forget with a context and the cache's error.
func (b *Broker) ForgetContext(ctx context.Context, u User) error {
	if err := b.cache.DeletePrefix(ctx, userPrefix(u)); err != nil {
		return fmt.Errorf("session: forgetting cached tokens: %w", err)
	}
	return nil
}

// userPrefix is the cache partition of one user: a hash of (tenant, oid),
// so that no account names appear in a shared cache.
func userPrefix(u User) string {
	h := sha256.Sum256([]byte(u.TenantID + "\x00" + u.OID))
	return "obo/" + base64.RawURLEncoding.EncodeToString(h[:]) + "/"
}

// oboKey is the cache key of a token for (user, assertion, scope). Like
// MSAL's, it includes a SHA-256 of the assertion, so a new user token gets
// new downstream tokens and two users can never share an entry.
func oboKey(u User, assertion, scope string) string {
	h := sha256.Sum256([]byte(assertion))
	return userPrefix(u) + base64.RawURLEncoding.EncodeToString(h[:]) + "/" + scope
}

// entraError is the JSON error body of Entra's token endpoint.
type entraError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
	Claims      string `json:"claims"`
	Suberror    string `json:"suberror"`
}

// classifyTokenError maps a token endpoint failure to the package's error
// kinds, branching on the OAuth error field (and Entra's error_codes only
// where Entra gives no distinct field). The result never contains a token
// or the response body.
func classifyTokenError(err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("session: token request: %w", err)
		}
		if errors.Is(err, ErrTokenService) {
			return err
		}
		return fmt.Errorf("session: token endpoint unreachable: %w: %w", ErrTokenService, err)
	}
	var body entraError
	_ = json.Unmarshal(re.Body, &body)
	code := re.ErrorCode
	if code == "" {
		code = body.Error
	}
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	detail := fmt.Sprintf("HTTP %d, error %q, codes %v", status, safeCode(code), body.Codes)
	hasCode := func(n int) bool { return slices.Contains(body.Codes, n) }
	switch {
	case status >= 500 || code == "temporarily_unavailable" || code == "server_error":
		return fmt.Errorf("session: token endpoint failed (%s): %w", detail, ErrTokenService)
	case hasCode(65001) || body.Suberror == "consent_required" || code == "consent_required":
		return fmt.Errorf("session: token endpoint (%s): %w", detail, ErrConsentRequired)
	case code == "invalid_resource" || hasCode(500011):
		return fmt.Errorf("session: token endpoint (%s): %w", detail, ErrNoServicePrincipal)
	case code == "interaction_required" || body.Claims != "":
		return &InteractionRequiredError{
			Claims:      body.Claims,
			Description: "Your organization requires you to sign in again (for example with multi-factor authentication) to continue.",
		}
	case code == "invalid_grant":
		return fmt.Errorf("session: token endpoint (%s): %w", detail, ErrSignInRequired)
	default:
		return fmt.Errorf("session: token endpoint refused the request (%s)", detail)
	}
}

// memoryCache is the default TokenCache: a bounded map in this process.
// When full it drops expired entries, then those expiring soonest.
type memoryCache struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]memoryEntry
}

type memoryEntry struct {
	token  string
	expiry time.Time
}

var _ TokenCache = (*memoryCache)(nil)

func newMemoryCache(max int, now func() time.Time) *memoryCache {
	return &memoryCache{max: max, now: now, entries: make(map[string]memoryEntry)}
}

func (c *memoryCache) Get(_ context.Context, key string) (string, time.Time, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return "", time.Time{}, false, nil
	}
	if !c.now().Before(e.expiry) {
		delete(c.entries, key)
		return "", time.Time{}, false, nil
	}
	return e.token, e.expiry, true, nil
}

func (c *memoryCache) Set(_ context.Context, key, token string, expiry time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		now := c.now()
		for k, e := range c.entries {
			if !now.Before(e.expiry) {
				delete(c.entries, k)
			}
		}
		for len(c.entries) >= c.max {
			var oldest string
			var first time.Time
			for k, e := range c.entries {
				if oldest == "" || e.expiry.Before(first) {
					oldest, first = k, e.expiry
				}
			}
			delete(c.entries, oldest)
		}
	}
	c.entries[key] = memoryEntry{token: token, expiry: expiry}
	return nil
}

func (c *memoryCache) DeletePrefix(_ context.Context, prefix string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(c.entries, k)
		}
	}
	return nil
}
