// Package portal assembles the running portal from its parts: the sign-in,
// the session store, the token broker, the API client and the handlers. The
// command and the tests build the portal through it, so both run the same
// wiring; and it starts the demo's dev identity provider and simulator.
package portal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"ppportal/internal/apicache"
	"ppportal/internal/breaker"
	"ppportal/internal/metrics"
	"ppportal/ppapi"
	"ppportal/ppapi/simulator"
	"ppportal/session"
	"ppportal/session/devidp"
	"ppportal/web/handlers"
	"ppportal/web/static"
)

// Settings is what Build needs, already validated by the caller.
type Settings struct {
	BaseURL                      string
	Authority, TenantID          string
	ClientID, ClientSecret       string
	AppScope                     string
	PPAPIURL, BAPURL             string
	PPAPIScope, BAPScope         string
	SessionKeyPairs              [][]byte
	EncryptionKey                []byte
	Redis                        redis.UniversalClient // nil: in-memory sessions
	IdleTimeout, AbsoluteTimeout time.Duration
	Demo                         bool
	Log                          *slog.Logger
	HTTPClient                   *http.Client // nil: UpstreamClient()
	APIOptions                   []ppapi.Option
	Metrics                      *metrics.Metrics // nil: a new registry
	CacheTTL                     time.Duration    // per-user read cache; 0: 5 s
	// Breaker guards every upstream host (the API endpoints and the
	// identity provider) with a circuit breaker; nil: none. The command
	// sets it (zero Options: 5 failures, 30 s cool-down); tests that
	// inject runs of failures on purpose leave it nil.
	Breaker *breaker.Options
	// Now is the clock of sign-in and the token broker (token expiry);
	// nil: time.Now. Tests move it forward to expire users' tokens.
	Now func() time.Time
}

// Portal is the assembled portal.
type Portal struct {
	Handler  http.Handler
	Metrics  *metrics.Metrics
	API      *apicache.Cache
	Sessions *session.Manager
	Broker   *session.Broker
	Client   *ppapi.Client
	// Breaker is the circuit breaker around the upstream transport; nil
	// when Settings.Breaker is nil.
	Breaker *breaker.Transport
}

// Build wires the parts. It performs the identity provider's discovery once.
func Build(ctx context.Context, s Settings) (*Portal, error) {
	base, err := url.Parse(s.BaseURL)
	if err != nil || base.Host == "" {
		return nil, errors.New("portal: base URL is not absolute")
	}
	authority, err := url.Parse(s.Authority)
	if err != nil || authority.Host == "" {
		return nil, errors.New("portal: authority is not absolute")
	}
	hc := s.HTTPClient
	if hc == nil {
		hc = UpstreamClient()
	}
	// Readiness probes go around the breaker: their answers say nothing
	// about the operations, and must not close it.
	probe := hc
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var bt *breaker.Transport
	if s.Breaker != nil {
		bo := *s.Breaker
		if bo.OnStateChange == nil {
			bo.OnStateChange = func(host, from, to string) {
				log.Warn("upstream circuit breaker", "host", host, "from", from, "to", to)
			}
		}
		hc, bt = breaker.Wrap(hc, bo)
	}
	secure := base.Scheme == "https"
	m := s.Metrics
	if m == nil {
		m = metrics.New()
	}
	auth, err := session.NewAuthenticator(ctx, session.Config{
		Authority: s.Authority, TenantID: s.TenantID, ClientID: s.ClientID, ClientSecret: s.ClientSecret,
		RedirectURL: base.JoinPath("/auth/callback").String(), AppScope: s.AppScope,
		Secure: secure, CookieKeyPairs: s.SessionKeyPairs, HTTPClient: hc, Now: s.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("portal: identity provider: %w", err)
	}
	so := session.StoreOptions{
		KeyPairs: s.SessionKeyPairs, EncryptionKey: s.EncryptionKey, Secure: secure,
		IdleTimeout: s.IdleTimeout, AbsoluteTimeout: s.AbsoluteTimeout,
	}
	var mgr *session.Manager
	if s.Redis != nil {
		rs, err := session.NewRedisStore(s.Redis, so)
		if err != nil {
			return nil, err
		}
		mgr = session.NewManager(rs, so)
	} else {
		ms, err := session.NewMemoryStore(so)
		if err != nil {
			return nil, err
		}
		mgr = session.NewManager(ms, so)
		m.Sessions(ms.Len)
	}
	bo := session.BrokerOptions{HTTPClient: hc, Observe: m.ObserveToken}
	if s.Redis != nil {
		// One token cache for every replica: a user's on-behalf-of tokens
		// are exchanged once, not once per replica (SECURITY.md G9). Its
		// clock is the broker's, which turns expiry times into Redis TTLs.
		co := so
		co.Now = s.Now
		tc, err := session.NewRedisTokenCache(s.Redis, co)
		if err != nil {
			return nil, err
		}
		bo.Cache = tc
	}
	broker := session.NewBroker(auth, bo)
	scopes := map[ppapi.Endpoint]string{ppapi.EndpointUnified: s.PPAPIScope, ppapi.EndpointBAP: s.BAPScope}
	var allowed []string
	if u, err := url.Parse(s.BAPURL); err == nil && !isLoopback(u.Hostname()) {
		// BAP answers long-running operations with regional poll URLs such as
		// europe.api.bap.microsoft.com (REAL-API.md §3a).
		allowed = append(allowed, "*."+u.Hostname())
	}
	opts := append([]ppapi.Option{
		ppapi.WithAllowedHosts(allowed...),
		ppapi.WithUnifiedURL(s.PPAPIURL), ppapi.WithBAPURL(s.BAPURL), ppapi.WithHTTPClient(hc),
		ppapi.WithUserAgent("ppportal/1"),
		ppapi.WithObserver(m.ObserveUpstream),
		ppapi.WithTokenSource(ppapi.TokenSourceFunc(func(ctx context.Context, ep ppapi.Endpoint) (string, error) {
			return broker.Token(ctx, scopes[ep])
		})),
	}, s.APIOptions...)
	client, err := ppapi.New(opts...)
	if err != nil {
		return nil, err
	}
	api := apicache.New(client, apicache.Options{TTL: s.CacheTTL, Observe: m.ObserveCache})
	assets, err := static.Load()
	if err != nil {
		return nil, err
	}
	h, err := handlers.New(handlers.Deps{
		API: api, Sessions: mgr, SignIn: auth, Tokens: broker, Assets: assets, Metrics: m, Log: log,
		BaseURL: base, Authority: authority, Demo: s.Demo,
		Ready: readiness(probe, s, mgr),
	})
	if err != nil {
		return nil, err
	}
	return &Portal{Handler: h.Router(), Metrics: m, API: api, Sessions: mgr, Broker: broker, Client: client, Breaker: bt}, nil
}

// UpstreamClient is the one HTTP client for the identity provider and the
// API: pooled keep-alive connections, HTTP/2 when offered, and timeouts at
// every stage, so a stalled upstream costs a bounded wait.
func UpstreamClient() *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		MaxConnsPerHost:       256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// readiness checks that the identity provider's discovery document and the
// API answer.
func readiness(hc *http.Client, s Settings, sessions *session.Manager) func(ctx context.Context) error {
	discovery := strings.TrimRight(s.Authority, "/") + "/" + url.PathEscape(s.TenantID) + "/v2.0/.well-known/openid-configuration"
	return func(ctx context.Context) error {
		if err := sessions.Ping(ctx); err != nil {
			return errors.New("session store unavailable")
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, discovery, nil)
		resp, err := hc.Do(req)
		if err != nil {
			return errors.New("identity provider unreachable")
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("identity provider discovery answered %d", resp.StatusCode)
		}
		for _, ep := range []struct{ name, url string }{{"Power Platform API", s.PPAPIURL}, {"BAP endpoint", s.BAPURL}} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ep.url, nil)
			resp, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("%s unreachable", ep.name)
			}
			resp.Body.Close()
		}
		return nil
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Demo is the demo's dev identity provider and simulator, each on a
// loopback port of its own.
type Demo struct {
	IDP                    *devidp.Provider
	Sim                    *simulator.Simulator
	IDPURL, SimURL         string
	ClientID, ClientSecret string
	servers                []*http.Server
}

// DemoClientID is the demo app registration's client id.
const DemoClientID = "00000000-0000-4000-8000-00000000d3e0"

// Public-cloud scopes, which the demo uses too.
const (
	PPAPIScope = "https://api.powerplatform.com/.default"
	BAPScope   = "https://service.powerapps.com/.default"
)

// StartDemo starts the dev identity provider (with the portal registered
// for baseURL) and the simulator (seeded by simOpts, tokens checked against
// the identity provider).
func StartDemo(baseURL, clientSecret string, simOpts simulator.Options) (*Demo, error) {
	idpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		idpLn.Close()
		return nil, err
	}
	d := &Demo{
		IDPURL: "http://" + idpLn.Addr().String(), SimURL: "http://" + simLn.Addr().String(),
		ClientID: DemoClientID, ClientSecret: clientSecret,
	}
	d.IDP, err = devidp.New(devidp.Options{Clients: []devidp.Client{{
		ID: d.ClientID, Secret: clientSecret, AppIDURI: "api://" + d.ClientID,
		RedirectURIs: []string{baseURL + "/auth/callback", baseURL + "/signedout"},
	}}})
	if err != nil {
		idpLn.Close()
		simLn.Close()
		return nil, err
	}
	simOpts.TenantID = d.IDP.TenantID()
	simOpts.Auth = apiAuth{idp: d.IDP, audiences: map[ppapi.Endpoint]string{
		ppapi.EndpointUnified: strings.TrimSuffix(PPAPIScope, "/.default"),
		ppapi.EndpointBAP:     strings.TrimSuffix(BAPScope, "/.default"),
	}}
	d.Sim = simulator.New(simOpts)
	d.servers = []*http.Server{
		{Handler: d.IDP.Handler(d.IDPURL), ReadHeaderTimeout: 10 * time.Second},
		{Handler: d.Sim, ReadHeaderTimeout: 10 * time.Second},
	}
	go d.servers[0].Serve(idpLn)
	go d.servers[1].Serve(simLn)
	return d, nil
}

// Settings returns the portal settings that point at this demo.
func (d *Demo) Settings(baseURL string) Settings {
	return Settings{
		BaseURL: baseURL, Authority: d.IDPURL, TenantID: d.IDP.TenantID(),
		ClientID: d.ClientID, ClientSecret: d.ClientSecret, AppScope: "api://" + d.ClientID + "/access_as_user",
		PPAPIURL: d.SimURL, BAPURL: d.SimURL, PPAPIScope: PPAPIScope, BAPScope: BAPScope,
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Demo: true,
	}
}

// Close stops the identity provider and the simulator.
func (d *Demo) Close() {
	for _, s := range d.servers {
		s.Close()
	}
}

// apiAuth lets the simulator check bearer tokens against the dev identity
// provider: signature, issuer, expiry and the audience of the endpoint.
type apiAuth struct {
	idp       *devidp.Provider
	audiences map[ppapi.Endpoint]string
}

func (a apiAuth) Authenticate(token string, ep ppapi.Endpoint) error {
	err := a.idp.AuthorizeAPI(token, a.audiences[ep])
	if errors.Is(err, devidp.ErrNotAdmin) {
		return simulator.ErrForbidden
	}
	return err
}
