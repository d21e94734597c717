package handlers

import (
	"net/http"

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
		Skipper:   func(c echo.Context) bool { return c.Request().URL.Path == "/metrics" },
		MinLength: 1024,
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
	in := e.Group("", h.loadSession, h.requireSignIn, h.checkCSRF)

	// Environments, applications, installs (issue 4).
	in.GET("/environments", h.listEnvironments)
	in.GET("/environments/:id", h.showEnvironment)
	// -- end of environments section

	// Flow runs and billing policies (issue 5).
	// -- end of flows and billing section

	return e
}

// home sends the bare origin to the overview.
func (h *Handlers) home(c echo.Context) error {
	return c.Redirect(http.StatusFound, "/environments")
}
