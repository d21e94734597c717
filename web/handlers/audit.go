package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"ppportal/ppapi"
)

// beginAudit starts the audit record of one admin action (SECURITY.md G12):
// the returned context records the upstream ids of the action's mutating
// calls, and done writes exactly one structured record with the outcome:
// when, who (tenant, object id, UPN), what, on what, the result, the
// portal's request id and Power Platform's correlation and request ids.
// Tokens never appear in it.
func (h *Handlers) beginAudit(c echo.Context, action, target string) (context.Context, func(err error)) {
	var (
		mu    sync.Mutex
		calls []ppapi.CallInfo
	)
	ctx := ppapi.WithCallRecorder(c.Request().Context(), func(ci ppapi.CallInfo) {
		if ci.Method == http.MethodGet {
			return
		}
		mu.Lock()
		calls = append(calls, ci)
		mu.Unlock()
	})
	var once sync.Once
	return ctx, func(err error) {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			var correlation, upstreamReq []string
			for _, ci := range calls {
				if ci.CorrelationID != "" {
					correlation = append(correlation, ci.CorrelationID)
				}
				if ci.ClientRequestID != "" {
					upstreamReq = append(upstreamReq, ci.ClientRequestID)
				}
			}
			attrs := []slog.Attr{
				slog.Bool("audit", true),
				slog.String("at", time.Now().UTC().Format(time.RFC3339Nano)),
				slog.String("action", action),
				slog.String("target", target),
				slog.String("result", auditResult(err)),
				slog.String("request_id", requestIDOf(c)),
				slog.String("upstream_correlation_ids", strings.Join(correlation, ",")),
				slog.String("upstream_request_ids", strings.Join(upstreamReq, ",")),
			}
			if s := sessionOf(c); s != nil {
				u := s.User()
				attrs = append(attrs, slog.String("tid", u.TenantID), slog.String("oid", u.OID), slog.String("upn", u.UPN))
			}
			h.logger(c).LogAttrs(c.Request().Context(), slog.LevelInfo, "admin action", attrs...)
		})
	}
}

// auditResult names an action's outcome for the audit record.
func auditResult(err error) string {
	var re *reconciledError
	switch {
	case err == nil:
		return "succeeded"
	case errors.As(err, &re):
		return auditReconciled(re.found)
	case errors.Is(err, ppapi.ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, ppapi.ErrNotFound):
		return "failed: not found"
	case errors.Is(err, ppapi.ErrConflict):
		return "failed: conflict"
	case errors.Is(err, ppapi.ErrThrottled):
		return "failed: throttled"
	case errors.Is(err, ppapi.ErrForbidden):
		return "failed: forbidden"
	case errors.Is(err, ppapi.ErrBadRequest), errors.Is(err, ppapi.ErrInvalidID):
		return "failed: refused"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "failed: timed out"
	}
	return "failed: unavailable"
}
