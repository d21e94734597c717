package handlers

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"ppportal/session"
	"ppportal/web/views/pages"
)

// maxClaims bounds a claims challenge carried through /signin.
const maxClaims = 2048

// showSignIn starts the OpenID Connect flow and remembers where to come
// back to: only a local path is accepted.
func (h *Handlers) showSignIn(c echo.Context) error {
	ret := "/environments"
	if raw := c.QueryParam("return"); raw != "" {
		safe, ok := session.SafeReturn(raw)
		if !ok {
			return badInput("the return address must be a page of this portal")
		}
		ret = safe
	}
	claims := c.QueryParam("claims")
	if claims != "" && (len(claims) > maxClaims || !json.Valid([]byte(claims))) {
		return badInput("the claims challenge is malformed")
	}
	if sessionOf(c) != nil && claims == "" {
		return c.Redirect(http.StatusFound, ret)
	}
	to, err := h.signIn.Begin(c.Response().Writer, ret, claims)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, to)
}

// completeSignIn is the redirect URI: it checks the callback, starts a new
// session (a new id, whatever the browser had) and returns the user to the
// page they asked for.
func (h *Handlers) completeSignIn(c echo.Context) error {
	in, err := h.signIn.Complete(c.Response().Writer, c.Request())
	if err != nil {
		var ce *session.CallbackError
		if errors.As(err, &ce) {
			desc := ce.Description
			if desc == "" {
				desc = "The sign-in response could not be verified. Start again from the sign-in link."
			}
			return &signInError{reason: ce.Reason, desc: desc}
		}
		return err
	}
	if _, err := h.sessions.Start(c.Response().Writer, c.Request(), in); err != nil {
		return err
	}
	ret, ok := session.SafeReturn(in.ReturnTo)
	if !ok {
		ret = "/environments"
	}
	h.logger(c).Info("signed in", "tid", in.User.TenantID, "oid", in.User.OID)
	return c.Redirect(http.StatusSeeOther, ret)
}

// signOut ends the session server-side, forgets the user's downstream
// tokens and ends the identity provider's session too. No id_token_hint:
// it would put a token in a Location header (SECURITY.md G1).
func (h *Handlers) signOut(c echo.Context) error {
	s := sessionOf(c)
	after := h.base.JoinPath("/signedout").String()
	to := "/signedout"
	if s != nil {
		u := s.User()
		if err := h.sessions.Destroy(c.Response().Writer, c.Request(), s); err != nil {
			return err
		}
		c.Set(ctxSession, nil)
		if h.tokens != nil {
			h.tokens.Forget(u)
		}
		if end := h.signIn.EndSessionURL(after, ""); end != "" {
			to = end
		}
		h.logger(c).Info("signed out", "tid", u.TenantID, "oid", u.OID)
	}
	c.Response().Header().Set("Clear-Site-Data", `"cache", "storage"`)
	return h.redirect(c, to)
}

// showSignedOut is where the identity provider sends the browser after
// sign-out.
func (h *Handlers) showSignedOut(c echo.Context) error {
	return h.render(c, http.StatusOK, pages.SignedOutPage(h.meta(c, "Signed out", "")))
}
