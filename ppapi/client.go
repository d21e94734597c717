// Package ppapi is a typed client for the 13 operations of the Power
// Platform admin API contract (shared/spec/power-platform-api-openapi.json):
// environments on the BAP endpoint; application packages, flow runs and
// billing policies on the unified endpoint.
//
// It is strict in what it sends (ids validated and path-escaped before any
// request, an api-version per operation, a bearer token only to the
// endpoint's own host or an allow-listed one) and lenient in what it
// accepts (unknown fields and enum values, three spellings of nextLink,
// four error body shapes). Idempotent GETs are retried on throttling and
// transient failures; POST, PATCH and DELETE never are.
package ppapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TokenSource returns the bearer token for one request to an endpoint. It
// is called before every attempt, so it may refresh.
type TokenSource interface {
	Token(ctx context.Context, ep Endpoint) (string, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context, ep Endpoint) (string, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context, ep Endpoint) (string, error) {
	return f(ctx, ep)
}

// Option configures a Client in New.
type Option func(*Client)

// Defaults of a new Client.
const (
	// DefaultMaxPages is the page cap of list operations.
	DefaultMaxPages = 100
	// DefaultMaxAttempts is how many times a GET is tried in all.
	DefaultMaxAttempts = 3
	// DefaultBackoffBase is the first backoff ceiling between attempts.
	DefaultBackoffBase = 500 * time.Millisecond
	// DefaultBackoffMax caps the backoff between attempts.
	DefaultBackoffMax = 8 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After the client waits
	// out by itself; a longer one is returned to the caller at once.
	DefaultMaxRetryAfter = 30 * time.Second
	// DefaultMaxBodyBytes bounds every response body read.
	DefaultMaxBodyBytes = 8 << 20
	// DefaultUserAgent is sent when WithUserAgent is not used.
	DefaultUserAgent = "ppportal-ppapi/1"
)

// Client calls the Power Platform admin APIs. It is safe for concurrent
// use. Build one with New.
type Client struct {
	unifiedRaw, bapRaw string
	unified, bap       *url.URL
	hc                 *http.Client
	tokens             TokenSource
	userAgent          string
	versions           map[string]string
	maxPages           int
	maxAttempts        int
	backoffBase        time.Duration
	backoffMax         time.Duration
	maxRetryAfter      time.Duration
	allowed            []hostPattern
	allowedRaw         []string
	maxBody            int64
	observer           func(CallInfo)
	errs               []error

	// Seams for tests.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(n int64) int64 // uniform in [0, n)
	newID  func() string
}

// WithUnifiedURL sets the unified endpoint, e.g. https://api.powerplatform.com.
func WithUnifiedURL(u string) Option { return func(c *Client) { c.unifiedRaw = u } }

// WithBAPURL sets the BAP endpoint, e.g. https://api.bap.microsoft.com.
func WithBAPURL(u string) Option { return func(c *Client) { c.bapRaw = u } }

// WithHTTPClient sets the HTTP client. The Client uses a copy that does not
// follow redirects.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc == nil {
			c.errs = append(c.errs, errors.New("nil HTTP client"))
			return
		}
		c.hc = hc
	}
}

// WithTokenSource sets where bearer tokens come from. Required.
func WithTokenSource(ts TokenSource) Option { return func(c *Client) { c.tokens = ts } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			c.errs = append(c.errs, errors.New("invalid user agent"))
			return
		}
		c.userAgent = ua
	}
}

// WithAPIVersion sets the api-version of one operation, named by its spec
// operationId (e.g. "listEnvironments").
func WithAPIVersion(op string, v string) Option {
	return func(c *Client) {
		if _, ok := lookupOperation(op); !ok {
			c.errs = append(c.errs, fmt.Errorf("unknown operation %q", op))
			return
		}
		if v == "" || len(v) > 64 || strings.ContainsAny(v, "&#?= \t\r\n") {
			c.errs = append(c.errs, fmt.Errorf("invalid api-version %q for %s", v, op))
			return
		}
		c.versions[op] = v
	}
}

// WithMaxPages caps the pages a list operation follows (default 100).
func WithMaxPages(n int) Option {
	return func(c *Client) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("max pages %d < 1", n))
			return
		}
		c.maxPages = n
	}
}

// WithRetryPolicy sets how GETs are retried: at most maxAttempts attempts
// in all, waiting a full-jitter backoff between base and max (doubling), or
// Retry-After when the service sends one.
func WithRetryPolicy(maxAttempts int, base, max time.Duration) Option {
	return func(c *Client) {
		if maxAttempts < 1 || base <= 0 || max < base {
			c.errs = append(c.errs, fmt.Errorf("invalid retry policy (%d, %s, %s)", maxAttempts, base, max))
			return
		}
		c.maxAttempts, c.backoffBase, c.backoffMax = maxAttempts, base, max
	}
}

// WithAllowedHosts allows further hosts in nextLink, Location and
// Operation-Location, besides the operation's own endpoint host. A pattern
// is a host name ("europe.api.bap.microsoft.com") or a suffix pattern
// ("*.api.bap.microsoft.com", which matches any subdomain but not the name
// itself), optionally with ":port"; without a port only the scheme's
// default port matches.
func WithAllowedHosts(hosts ...string) Option {
	return func(c *Client) { c.allowedRaw = append(c.allowedRaw, hosts...) }
}

// CallInfo describes one attempt of one call, for logs and metrics. It
// holds no token and no query string.
type CallInfo struct {
	Op              string // spec operationId
	Method          string
	Host            string
	Path            string // escaped path, no query
	Attempt         int    // 1 for the first attempt
	Status          int    // 0 when no answer arrived
	Duration        time.Duration
	CorrelationID   string
	ClientRequestID string
	Err             error // nil on success
}

// WithObserver calls f after every attempt (from the calling goroutine).
// Use it to log method, host, path, status, duration, attempt and
// correlation ids (REAL-API.md §13 point 18).
func WithObserver(f func(CallInfo)) Option { return func(c *Client) { c.observer = f } }

// New returns a Client. Both endpoint URLs and a token source are required.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		userAgent:     DefaultUserAgent,
		versions:      map[string]string{},
		maxPages:      DefaultMaxPages,
		maxAttempts:   DefaultMaxAttempts,
		backoffBase:   DefaultBackoffBase,
		backoffMax:    DefaultBackoffMax,
		maxRetryAfter: DefaultMaxRetryAfter,
		maxBody:       DefaultMaxBodyBytes,
		now:           time.Now,
		sleep:         sleepContext,
		jitter:        mrand.Int64N,
		newID:         newUUID,
	}
	for _, op := range operations {
		c.versions[op.id] = op.version
	}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	var err error
	if c.unified, err = parseEndpoint("unified", c.unifiedRaw); err != nil {
		c.errs = append(c.errs, err)
	}
	if c.bap, err = parseEndpoint("BAP", c.bapRaw); err != nil {
		c.errs = append(c.errs, err)
	}
	if f, isFunc := c.tokens.(TokenSourceFunc); c.tokens == nil || (isFunc && f == nil) {
		c.errs = append(c.errs, errors.New("no token source"))
	}
	for _, h := range c.allowedRaw {
		p, err := parseHostPattern(h)
		if err != nil {
			c.errs = append(c.errs, err)
			continue
		}
		c.allowed = append(c.allowed, p)
	}
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("ppapi: %w", errors.Join(c.errs...))
	}
	hc := http.DefaultClient
	if c.hc != nil {
		hc = c.hc
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &cp
	return c, nil
}

// parseEndpoint checks an endpoint base URL: absolute, https (or http on
// a loopback host), no user info, query or fragment.
func parseEndpoint(name, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s endpoint URL missing", name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s endpoint URL: %w", name, err)
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%s endpoint URL %q has no host", name, raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return nil, fmt.Errorf("%s endpoint URL %q must be scheme://host[:port][/path] only", name, raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("%s endpoint URL %q must use https (http only on loopback)", name, raw)
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostPattern is one WithAllowedHosts entry.
type hostPattern struct {
	suffix bool   // "*.x": name is ".x"
	name   string // lower case
	port   string // "" = the scheme's default
}

func parseHostPattern(s string) (hostPattern, error) {
	var p hostPattern
	h := strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(h, "*.") {
		p.suffix = true
		h = h[1:]
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i+1:], "]") {
		port := h[i+1:]
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("allowed host %q: bad port", s)
		}
		p.port, h = port, h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	name := strings.TrimPrefix(h, ".")
	if name == "" || strings.ContainsAny(name, "/?#@*[] ") || (p.suffix && !strings.Contains(name, ".")) {
		return p, fmt.Errorf("allowed host %q is not a host name or *.suffix pattern", s)
	}
	p.name = h
	return p, nil
}

func (p hostPattern) match(host, port string) bool {
	if port != p.port {
		return false
	}
	if p.suffix {
		return strings.HasSuffix(host, p.name) && len(host) > len(p.name)
	}
	return host == p.name
}

// hostPort returns u's lower-case host name and port, "" for the scheme's
// default port.
func hostPort(u *url.URL) (string, string) {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	return host, port
}

func (c *Client) base(ep Endpoint) *url.URL {
	if ep == EndpointBAP {
		return c.bap
	}
	return c.unified
}

// checkHost reports whether a bearer token for ep may be sent to u: the
// scheme is https (or the endpoint's own), there is no user info, and the
// host is the endpoint's own or allow-listed.
func (c *Client) checkHost(ep Endpoint, u *url.URL) error {
	base := c.base(ep)
	if u.User != nil || u.Opaque != "" || u.Host == "" {
		return ErrForeignHost
	}
	if u.Scheme != "https" && u.Scheme != base.Scheme {
		return ErrForeignHost
	}
	host, port := hostPort(u)
	bh, bp := hostPort(base)
	if host == bh && port == bp {
		return nil
	}
	for _, p := range c.allowed {
		if p.match(host, port) {
			return nil
		}
	}
	return ErrForeignHost
}

// resolveLink turns a nextLink, Location or Operation-Location into an
// absolute URL that may be requested with op's token, or an error wrapping
// ErrForeignHost (or ErrBadResponse when it is not a URL).
func (c *Client) resolveLink(op operation, from *url.URL, link, what string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || link == "" {
		return nil, &kindError{op: op.id, msg: what + " is not a URL", kinds: []error{ErrBadResponse, ErrUnavailable}}
	}
	if !u.IsAbs() {
		u = from.ResolveReference(u)
	}
	u.Fragment, u.RawFragment = "", ""
	if err := c.checkHost(op.endpoint, u); err != nil {
		return nil, &kindError{op: op.id, msg: fmt.Sprintf("%s refused: host %q is not allowed", what, sanitize(u.Host, 100)), kinds: []error{ErrForeignHost}}
	}
	return u, nil
}

// endpointURL builds the URL of op: the endpoint base, the escaped path
// and the query with api-version.
func (c *Client) endpointURL(op operation, escapedPath string, q url.Values) (*url.URL, error) {
	if q == nil {
		q = url.Values{}
	}
	q.Set("api-version", c.versions[op.id])
	u, err := url.Parse(c.base(op.endpoint).String() + escapedPath)
	if err != nil {
		return nil, &kindError{op: op.id, msg: "cannot build URL", kinds: []error{ErrInvalidID}, cause: err}
	}
	u.RawQuery = encodeQuery(q)
	return u, nil
}

// encodeQuery is url.Values.Encode, except that a leading '$' of an OData
// key ($expand, $top) is written as is, as the services document it.
func encodeQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		ek := url.QueryEscape(k)
		if strings.HasPrefix(k, "$") {
			ek = "$" + url.QueryEscape(k[1:])
		}
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(ek)
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String()
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[x>>4], hex[x&0x0f])
	}
	return string(out)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
