package handlers

import (
	"context"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// render writes comp with status, buffered: nothing reaches the client
// unless the whole component rendered (STYLE.md §9 point 7).
func (h *Handlers) render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	// Rendering does no I/O; it must still work for an error page after the
	// request's upstream deadline has cancelled its context.
	ctx := templ.WithNonce(context.WithoutCancel(c.Request().Context()), nonceOf(c))
	if err := comp.Render(ctx, buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// page answers a URL that has a full page and a fragment: the fragment for
// htmx swaps, the page otherwise. Both shapes share one URL, so caches must
// key on HX-Request.
func (h *Handlers) page(c echo.Context, full, part templ.Component) error {
	c.Response().Header().Add("Vary", hxRequest)
	if part != nil && isPartial(c.Request()) {
		return h.render(c, http.StatusOK, part)
	}
	return h.render(c, http.StatusOK, full)
}

// redirect sends the browser on after a POST: 303 for plain requests, or
// HX-Redirect for htmx, which would otherwise follow a 3xx itself and swap
// the target page into a fragment.
func (h *Handlers) redirect(c echo.Context, to string) error {
	if isHTMX(c.Request()) {
		c.Response().Header().Set(hxRedirect, to)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, to)
}
