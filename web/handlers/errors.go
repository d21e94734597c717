package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
	"ppportal/session"
	"ppportal/web/views/pages"
)

// inputError is a malformed id, query or form value: 400, with what was
// wrong, and no upstream call made.
type inputError struct{ msg string }

func (e *inputError) Error() string { return "handlers: bad input: " + e.msg }

func badInput(msg string) error { return &inputError{msg: msg} }

var (
	errInternal    = errors.New("handlers: internal error")
	errCSRF        = errors.New("handlers: cross-site request refused")
	errSignInFirst = errors.New("handlers: not signed in")
)

// circuitOpen is an upstream call refused, unsent, because the portal's
// circuit breaker for that host is open (internal/breaker.OpenError):
// PausedFor says for how long.
type circuitOpen interface {
	error
	NotSent() bool
	PausedFor() time.Duration
}

// signInError is a sign-in callback that was refused, with a reason safe to
// show.
type signInError struct{ reason, desc string }

func (e *signInError) Error() string { return "handlers: sign-in failed: " + e.reason }

// handleError is the single place where errors become responses (STYLE.md
// §9 point 6). It maps each kind to DESIGN.md's "Errors a user sees", logs
// 5xx at error and 4xx at warn, never shows err.Error(), and answers htmx
// requests with a fragment for the toast region.
func (h *Handlers) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	r := c.Request()

	// Cases that send the user somewhere rather than showing an error.
	var ir *session.InteractionRequiredError
	switch {
	case errors.As(err, &ir):
		h.logger(c).Info("claims challenge: sending the user through sign-in again")
		h.toSignIn(c, ir.Claims)
		return
	case errors.Is(err, errSignInFirst), errors.Is(err, session.ErrSignInRequired), errors.Is(err, ppapi.ErrUnauthorized):
		h.toSignIn(c, "")
		return
	}

	vm := h.errorVM(err)
	vm.RequestID = requestIDOf(c)
	level := slog.LevelWarn
	if vm.Status >= 500 {
		level = slog.LevelError
	}
	h.logger(c).Log(r.Context(), level, "request failed", "status", vm.Status, "err", err.Error())

	if vm.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", itoa(vm.RetrySeconds()))
	}
	var rerr error
	if isHTMX(r) {
		c.Response().Header().Set(hxRetarget, "#toast")
		c.Response().Header().Set(hxReswap, "outerHTML")
		rerr = h.render(c, vm.Status, pages.ErrorToast(vm))
	} else {
		m := h.meta(c, vm.Heading, "")
		rerr = h.render(c, vm.Status, pages.ErrorPage(m, vm))
	}
	if rerr != nil {
		h.logger(c).Error("rendering the error page failed", "err", rerr.Error())
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
		c.String(vm.Status, vm.Heading+"\n")
	}
}

// errorVM maps an error to what the page says.
func (h *Handlers) errorVM(err error) pages.ErrorVM {
	var (
		in  *inputError
		he  *echo.HTTPError
		pe  *ppapi.Error
		sie *signInError
		co  circuitOpen
	)
	vm := pages.ErrorVM{}
	if errors.As(err, &pe) {
		vm.CorrelationID = pe.CorrelationID
	}
	switch {
	case errors.As(err, &in):
		vm.Status, vm.Heading, vm.Detail = http.StatusBadRequest, "That request is not valid", in.msg+". Nothing was sent to Power Platform."
	case errors.Is(err, ppapi.ErrInvalidID):
		vm.Status, vm.Heading, vm.Detail = http.StatusBadRequest, "That request is not valid", "The id or link in the address is malformed. Nothing was sent to Power Platform."
	case errors.As(err, &sie):
		vm.Status, vm.Heading, vm.Detail = http.StatusBadRequest, "Sign-in did not complete", sie.desc
		vm.ActionLabel, vm.ActionHref = "Sign in again", "/signin"
	case errors.Is(err, errCSRF):
		vm.Status, vm.Heading, vm.Detail = http.StatusForbidden, "Request refused", "This form came from another site or an expired page, so it was not carried out. Reload the page and try again."
	case errors.Is(err, session.ErrStoreUnavailable):
		vm.Status, vm.Heading, vm.Detail = http.StatusServiceUnavailable, "Session store unavailable", "The portal cannot reach its session store right now. Nothing was changed. Try again in a few seconds."
	case errors.Is(err, session.ErrConsentRequired):
		vm.Status, vm.Heading = http.StatusForbidden, "Admin consent needed"
		vm.Detail = "The portal has not been granted permission to call the Power Platform APIs for your tenant (AADSTS65001). A Global Administrator must grant admin consent to the portal's app registration: in Entra ID, open App registrations, the portal's app, API permissions, and choose \"Grant admin consent\". Then sign in again."
		vm.ActionLabel, vm.ActionHref = "Sign in again", "/signin"
	case errors.Is(err, session.ErrNoServicePrincipal):
		vm.Status, vm.Heading = http.StatusForbidden, "Power Platform API is not registered in your tenant"
		vm.Detail = "Entra ID does not know the Power Platform API in this tenant (AADSTS500011). A Global Administrator must create its service principal once, for example with: az ad sp create --id 8578e004-a5c6-46e7-913e-12f58912df43. Then sign in again."
	case errors.Is(err, session.ErrTokenService):
		vm.Status, vm.Heading, vm.Detail = http.StatusServiceUnavailable, "Sign-in service did not answer", "Entra ID did not answer the portal's token request. Nothing was changed. Try again in a minute."
	case errors.Is(err, ppapi.ErrOutcomeUnknown):
		vm.Status, vm.Heading = http.StatusBadGateway, "Outcome unknown"
		vm.Detail = "The connection to Power Platform broke after the request was sent, so the portal cannot tell whether it was carried out. It was not sent again. Reload the page to see the current state before trying again."
	case errors.As(err, &co) && co.NotSent():
		secs := itoa(int(co.PausedFor() / time.Second))
		vm.Status, vm.Heading = http.StatusServiceUnavailable, "Power Platform is unavailable"
		vm.Detail = "Power Platform failed several times in a row, so the portal paused calls for " + secs + " s. This request was not sent, so nothing was changed. Try again after the pause."
		vm.RetryAfter = co.PausedFor()
	case errors.Is(err, context.DeadlineExceeded):
		vm.Status, vm.Heading = http.StatusGatewayTimeout, "Power Platform did not answer in time"
		vm.Detail = "The Power Platform API did not answer within the portal's time limit. Nothing was changed twice. Reload the page to try again; quote the ids below if it persists."
	case errors.Is(err, ppapi.ErrThrottled):
		vm.Status, vm.Heading = http.StatusTooManyRequests, "Power Platform is throttling requests"
		vm.Detail = "Power Platform asked the portal to slow down."
		if pe != nil {
			vm.RetryAfter = pe.RetryAfter
		}
		if vm.RetryAfter <= 0 {
			vm.RetryAfter = 10 * time.Second
		}
	case errors.Is(err, ppapi.ErrForbidden):
		vm.Status, vm.Heading = http.StatusForbidden, "You do not have access"
		vm.Detail = "Your account lacks the Power Platform administrator role this page needs. If the role is assigned through Privileged Identity Management, activate it and reload the page."
	case errors.Is(err, ppapi.ErrNotFound):
		vm.Status, vm.Heading, vm.Detail = http.StatusNotFound, "Not found", "That environment, policy or operation does not exist, or no longer does."
	case errors.Is(err, ppapi.ErrConflict):
		vm.Status, vm.Heading, vm.Detail = http.StatusConflict, "Another operation is running", "Power Platform is busy with another operation on this item. Nothing was changed. Wait for it to finish and try again."
	case errors.Is(err, ppapi.ErrBadRequest):
		vm.Status, vm.Heading, vm.Detail = http.StatusBadRequest, "Power Platform refused the request", "Nothing was changed."
		if pe != nil {
			vm.UpstreamCode, vm.UpstreamMessage = pe.Code, pe.Message
		}
	case errors.Is(err, ppapi.ErrUnavailable):
		vm.Status, vm.Heading = http.StatusBadGateway, "Power Platform did not answer"
		vm.Detail = "The Power Platform API failed or timed out. Nothing was changed twice. Quote the ids below if it persists."
	case errors.As(err, &he):
		vm.Status = he.Code
		switch he.Code {
		case http.StatusNotFound:
			vm.Heading, vm.Detail = "Page not found", "There is no page at this address."
		case http.StatusMethodNotAllowed:
			vm.Heading, vm.Detail = "Method not allowed", "This address does not accept that kind of request."
		case http.StatusRequestEntityTooLarge:
			vm.Heading, vm.Detail = "Request too large", "The request was larger than the portal accepts."
		default:
			vm.Heading, vm.Detail = http.StatusText(he.Code), "The request could not be handled."
		}
	default:
		vm.Status, vm.Heading, vm.Detail = http.StatusInternalServerError, "Something went wrong", "The portal failed to handle this request. Nothing was changed twice. Quote the request id if it persists."
	}
	if vm.Status == 0 {
		vm.Status = http.StatusInternalServerError
	}
	return vm
}

// toSignIn sends the user through sign-in and back to the page they were
// on: a redirect for a page, HX-Redirect with the page taken from
// HX-Current-URL for htmx. A plain form POST returns to the page the form
// was on, taken from Referer when it is of this origin (its host equals
// the request's Host); the form itself is not resubmitted.
func (h *Handlers) toSignIn(c echo.Context, claims string) {
	r := c.Request()
	ret := r.URL.RequestURI()
	switch {
	case isHTMX(r):
		ret = currentPage(r)
	case r.Method != http.MethodGet:
		ret = ""
		if u, err := url.Parse(r.Referer()); err == nil && (u.Scheme == "http" || u.Scheme == "https") &&
			u.Host != "" && strings.EqualFold(u.Host, r.Host) && u.User == nil {
			ret = u.EscapedPath()
			if u.RawQuery != "" {
				ret += "?" + u.RawQuery
			}
		}
	}
	if safe, ok := session.SafeReturn(ret); ok {
		ret = safe
	} else {
		ret = "/environments"
	}
	q := url.Values{"return": {ret}}
	if claims != "" {
		q.Set("claims", claims)
	}
	to := "/signin?" + q.Encode()
	if isHTMX(r) {
		c.Response().Header().Set(hxRedirect, to)
		c.NoContent(http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		c.Redirect(http.StatusSeeOther, to)
		return
	}
	c.Redirect(http.StatusFound, to)
}
