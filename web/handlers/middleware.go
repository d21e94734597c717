package handlers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

const (
	ctxRequestID = "portal.requestID"
	ctxNonce     = "portal.nonce"
	ctxLogger    = "portal.logger"
)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// requestID gives every request an id, in the response header, in every log
// line (through the request's logger) and on error pages.
func (h *Handlers) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := randomHex(8)
		c.Set(ctxRequestID, id)
		c.Set(ctxLogger, h.log.With("request_id", id))
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

func (h *Handlers) logger(c echo.Context) *slog.Logger {
	if l, ok := c.Get(ctxLogger).(*slog.Logger); ok {
		return l
	}
	return h.log
}

// accessLog writes one line per request after it is answered.
func (h *Handlers) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		r := c.Request()
		if h.metrics != nil {
			h.metrics.ObserveRequest(c.Path(), r.Method, c.Response().Status, time.Since(start))
		}
		h.logger(c).LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", c.Response().Status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", time.Since(start)),
			slog.Bool("htmx", isHTMX(r)),
		)
		return nil
	}
}

// recoverPanics turns a panic into a 500 error page and a logged stack, so
// one bad request never takes the process down.
func (h *Handlers) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.logger(c).Error("panic", "value", fmt.Sprint(v), "stack", string(debug.Stack()))
				err = errInternal
			}
		}()
		return next(c)
	}
}

// securityHeaders sets the CSP with a fresh nonce, and the other headers of
// SECURITY.md §3.1 items 20-23, on every response, error pages included.
func (h *Handlers) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		nb := make([]byte, 18)
		rand.Read(nb)
		nonce := base64.RawStdEncoding.EncodeToString(nb)
		c.Set(ctxNonce, nonce)
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", strings.Join([]string{
			"default-src 'none'",
			"script-src 'nonce-" + nonce + "' 'strict-dynamic'",
			"style-src 'self'",
			"img-src 'self' data:",
			"connect-src 'self'",
			"form-action 'self' " + h.formActionExtra,
			"base-uri 'none'",
			"frame-ancestors 'none'",
			"object-src 'none'",
		}, "; "))
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if h.secure {
			hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// upstreamDeadline bounds how long one signed-in request may wait on Power
// Platform, retries included, so a stalled upstream costs the admin a
// bounded wait and a clear page (SECURITY.md G7: full pages within 10 s).
const upstreamDeadline = 8 * time.Second

// deadline gives the request's context the upstream deadline.
func (h *Handlers) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), upstreamDeadline)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func nonceOf(c echo.Context) string {
	n, _ := c.Get(ctxNonce).(string)
	return n
}
