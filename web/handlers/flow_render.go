package handlers

import (
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// pageOrPart is h.page with a status and a lazily built page, so an htmx
// poll does not build the page's view model at all.
func (h *Handlers) pageOrPart(c echo.Context, status int, part templ.Component, full func() templ.Component) error {
	c.Response().Header().Add("Vary", hxRequest)
	if part != nil && isPartial(c.Request()) {
		return h.render(c, status, part)
	}
	return h.render(c, status, full())
}
