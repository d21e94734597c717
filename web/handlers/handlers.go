// Package handlers is the portal's HTTP layer: it parses and validates
// input, calls the Power Platform API through ppapi, chooses a view and maps
// errors. All routes are in routes.go.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/session"
	"ppportal/web/views/layout"
)

// EnvironmentAPI is what the environment pages need from ppapi.
type EnvironmentAPI interface {
	ListEnvironments(ctx context.Context, expand string) ([]ppapi.Environment, error)
	GetEnvironment(ctx context.Context, id, expand string) (*ppapi.Environment, error)
	DeleteEnvironment(ctx context.Context, id string) (*ppapi.Accepted, error)
}

// PackageAPI is what the application pages need from ppapi.
type PackageAPI interface {
	ListTenantApplicationPackages(ctx context.Context) ([]ppapi.ApplicationPackage, error)
	ListEnvironmentApplicationPackages(ctx context.Context, envID string) ([]ppapi.ApplicationPackage, error)
	InstallApplicationPackage(ctx context.Context, envID, pkg string) (*ppapi.Accepted, error)
	GetInstallStatus(ctx context.Context, envID, operationID string) (*ppapi.OperationStatus, error)
}

// FlowRunAPI is what the flow-run pages need from ppapi.
type FlowRunAPI interface {
	ListFlowRuns(ctx context.Context, envID, workflowID, cursor string) (*ppapi.FlowRunPage, error)
}

// BillingAPI is what the billing pages need from ppapi.
type BillingAPI interface {
	ListBillingPolicies(ctx context.Context) ([]ppapi.BillingPolicy, error)
	CreateBillingPolicy(ctx context.Context, req ppapi.BillingPolicyCreateRequest) (*ppapi.BillingPolicy, error)
	GetBillingPolicy(ctx context.Context, id string) (*ppapi.BillingPolicy, error)
	UpdateBillingPolicy(ctx context.Context, id string, req ppapi.BillingPolicyUpdateRequest) (*ppapi.BillingPolicy, error)
	DeleteBillingPolicy(ctx context.Context, id string) error
}

// API is the whole upstream, as *ppapi.Client provides it. Slices it
// returns may be shared with other requests (the per-user read cache):
// handlers and views treat them as read-only.
type API interface {
	EnvironmentAPI
	PackageAPI
	FlowRunAPI
	BillingAPI
}

// Sessions is the server-side session manager (*session.Manager).
type Sessions interface {
	Load(r *http.Request) (*session.Session, error)
	Start(w http.ResponseWriter, r *http.Request, in *session.SignIn) (*session.Session, error)
	Save(w http.ResponseWriter, r *http.Request, s *session.Session) error
	Destroy(w http.ResponseWriter, r *http.Request, s *session.Session) error
}

// SignIn runs the OpenID Connect flow (*session.Authenticator).
type SignIn interface {
	Begin(w http.ResponseWriter, returnTo, claims string) (string, error)
	Complete(w http.ResponseWriter, r *http.Request) (*session.SignIn, error)
	EndSessionURL(postLogoutRedirect, idTokenHint string) string
}

// TokenForgetter drops a user's cached downstream tokens at sign-out
// (*session.Broker).
type TokenForgetter interface {
	Forget(u session.User)
}

// Metrics records request durations and serves /metrics
// (*metrics.Metrics).
type Metrics interface {
	ObserveRequest(route, method string, status int, d time.Duration)
	Handler() http.Handler
}

// Assets serves the embedded static files and names their hashed URLs
// (*static.Assets).
type Assets interface {
	http.Handler
	Path(name string) string
}

// Deps are the Handlers' dependencies, built by cmd/portal.
type Deps struct {
	API      API
	Sessions Sessions
	SignIn   SignIn
	Tokens   TokenForgetter
	Assets   Assets
	Metrics  Metrics
	Log      *slog.Logger
	// BaseURL is the portal's external URL (PORTAL_BASE_URL).
	BaseURL *url.URL
	// Authority is the identity provider's origin, allowed as a form
	// target because sign-out redirects there.
	Authority *url.URL
	// Demo marks pages with the demo banner.
	Demo bool
	// Ready reports whether the identity provider and the API answer.
	Ready func(ctx context.Context) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handlers holds the dependencies every handler shares.
type Handlers struct {
	api             API
	sessions        Sessions
	signIn          SignIn
	tokens          TokenForgetter
	assets          Assets
	metrics         Metrics
	log             *slog.Logger
	base            *url.URL
	secure          bool
	formActionExtra string
	demo            bool
	ready           func(ctx context.Context) error
	now             func() time.Time
	envIndexes      envIndexMemo
}

// New checks d and returns the Handlers.
func New(d Deps) (*Handlers, error) {
	if d.API == nil || d.Sessions == nil || d.SignIn == nil || d.Assets == nil || d.BaseURL == nil {
		return nil, errors.New("handlers: API, Sessions, SignIn, Assets and BaseURL are required")
	}
	h := &Handlers{
		api: d.API, sessions: d.Sessions, signIn: d.SignIn, tokens: d.Tokens, assets: d.Assets, metrics: d.Metrics,
		log: d.Log, base: d.BaseURL, secure: d.BaseURL.Scheme == "https", demo: d.Demo,
		ready: d.Ready, now: d.Now,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if d.Authority != nil {
		h.formActionExtra = d.Authority.Scheme + "://" + d.Authority.Host
	}
	return h, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// meta builds the layout data for a full page.
func (h *Handlers) meta(c echo.Context, title, section string, crumbs ...layout.Crumb) layout.Meta {
	m := layout.Meta{
		Title:        title,
		Section:      section,
		Crumbs:       crumbs,
		CanonicalURL: c.Request().URL.RequestURI(),
		Nonce:        nonceOf(c),
		Demo:         h.demo,
		RequestID:    requestIDOf(c),
		Assets: layout.Assets{
			CSS:  h.assets.Path("app.css"),
			HTMX: h.assets.Path("htmx.min.js"),
			JS:   h.assets.Path("app.js"),
			Icon: h.assets.Path("icon.svg"),
		},
	}
	if s := sessionOf(c); s != nil {
		u := s.User()
		m.User = &layout.User{Name: u.Name, UPN: u.UPN, TenantID: u.TenantID}
		m.CSRFToken = s.CSRFToken()
		m.Flash = s.TakeFlash
	}
	return m
}
