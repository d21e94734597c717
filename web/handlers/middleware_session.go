package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"ppportal/session"
)

const ctxSession = "portal.session"

func sessionOf(c echo.Context) *session.Session {
	s, _ := c.Get(ctxSession).(*session.Session)
	return s
}

// loadSession reads the server-side session, if any, puts it in the
// request's context for the token broker, and saves it, only when it
// changed, just before the response is written. A store outage fails
// closed: 503, never an anonymous page.
func (h *Handlers) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		s, err := h.sessions.Load(r)
		if err != nil {
			return err
		}
		if s == nil {
			return next(c)
		}
		c.Set(ctxSession, s)
		c.SetRequest(r.WithContext(session.WithHolder(r.Context(), s)))
		c.Response().Before(func() {
			s := sessionOf(c) // nil once sign-out destroyed it
			if s == nil {
				return
			}
			if err := h.sessions.Save(c.Response().Writer, c.Request(), s); err != nil {
				h.logger(c).Error("saving the session failed", "err", err.Error())
			}
		})
		return next(c)
	}
}

// requireSignIn sends anonymous requests through sign-in, back to the same
// URL afterwards.
func (h *Handlers) requireSignIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if sessionOf(c) == nil {
			return errSignInFirst
		}
		return next(c)
	}
}

// checkCSRF is the second layer behind http.CrossOriginProtection on every
// state-changing request: a token bound to the session, from the htmx
// header or the form's hidden field, compared in constant time.
func (h *Handlers) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		s := sessionOf(c)
		if s == nil {
			return errCSRF
		}
		tok := r.Header.Get("X-CSRF-Token")
		if tok == "" {
			tok = c.FormValue("csrf")
		}
		if tok == "" || !s.CheckCSRF(tok) {
			return errCSRF
		}
		return next(c)
	}
}

// crossOrigin refuses state-changing requests that a browser marks as
// cross-site or same-site (Sec-Fetch-Site), or whose Origin does not match
// the Host: Go's http.CrossOriginProtection, mounted for Echo.
func (h *Handlers) crossOrigin(cop *http.CrossOriginProtection) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return errCSRF
			}
			return next(c)
		}
	}
}
