package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Router returns the portal's whole route table on a new Echo. Every route
// is listed here, one line each (STYLE.md §9 point 4).
func (h *Handlers) Router() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = h.handleError

	// For every request: id, security headers, panic safety, access log.
	e.Use(h.requestID, h.securityHeaders, h.accessLog, h.recoverPanics)
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{
		// Static assets are stored gzipped already; compressing them again
		// would hand the browser a doubly encoded file.
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return p == "/metrics" || strings.HasPrefix(p, "/static/")
		},
		MinLength: 1024,
		// Fastest level: pages are small and this is per request; the
		// default level cost about 2 ms more per overview page.
		Level: 1,
	}))
	// Cross-origin proof for every state-changing request (Sec-Fetch-Site,
	// then Origin against Host); same-site requests are refused too.
	e.Use(h.crossOrigin(http.NewCrossOriginProtection()))
	e.Use(middleware.BodyLimit("64K"))

	// Operations: no session.
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/static/*", echo.WrapHandler(h.assets))

	// Public pages: a session is read when present.
	pub := e.Group("", h.loadSession)
	pub.GET("/", h.home)
	pub.GET("/signin", h.showSignIn)
	pub.GET("/auth/callback", h.completeSignIn)
	pub.GET("/signedout", h.showSignedOut)
	pub.POST("/signout", h.signOut, h.checkCSRF)

	// Signed-in pages. Every state-changing route here passes checkCSRF.
	in := e.Group("", h.loadSession, h.requireSignIn, h.checkCSRF, h.deadline)
	if h.metrics != nil {
		// Signed-in admins may read the metrics here; scrapers use the
		// separate PORTAL_METRICS_ADDR listener.
		in.GET("/metrics", echo.WrapHandler(h.metrics.Handler()))
	}

	// Environments, applications, installs.
	in.GET("/environments", h.listEnvironments)
	in.GET("/environments.csv", h.exportEnvironments)
	in.GET("/environments/:id", h.showEnvironment)
	in.GET("/environments/:id/delete", h.confirmDeleteEnvironment)
	in.POST("/environments/:id/delete", h.deleteEnvironment)
	in.GET("/environments/:id/deletion", h.showEnvironmentDeletion)
	in.GET("/environments/:id/applications", h.listEnvironmentApplications)
	in.POST("/environments/:id/applications/:pkg/install", h.installApplication)
	in.GET("/environments/:id/operations/:opId", h.showOperation)
	in.GET("/applications", h.listApplications)
	in.GET("/bulk/installs/new", h.newBulkInstall)
	in.POST("/bulk/installs", h.startBulkInstall)
	in.GET("/bulk/installs", h.showBulkInstall)

	// Flow runs and billing policies.
	in.GET("/environments/:id/flows", h.openFlowRuns)
	in.GET("/environments/:id/flows/:workflowId/runs", h.listFlowRuns)
	in.GET("/billing/policies", h.listBillingPolicies)
	in.POST("/billing/policies", h.createBillingPolicy)
	in.GET("/billing/policies/new", h.newBillingPolicy)
	in.GET("/billing/policies/:id", h.showBillingPolicy)
	in.GET("/billing/policies/:id/edit", h.editBillingPolicy)
	in.POST("/billing/policies/:id/edit", h.updateBillingPolicy)
	in.GET("/billing/policies/:id/delete", h.confirmDeleteBillingPolicy)
	in.POST("/billing/policies/:id/delete", h.deleteBillingPolicy)

	return e
}

// home sends the bare origin to the overview.
func (h *Handlers) home(c echo.Context) error {
	return c.Redirect(http.StatusFound, "/environments")
}
