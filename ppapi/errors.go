package ppapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Every error the client returns wraps at most a few of
// them; test with errors.Is. Upstream answers are *Error values, which
// match the sentinel of their status.
var (
	// ErrInvalidID means a path id, a cursor or a request field was
	// malformed. Nothing was sent.
	ErrInvalidID = errors.New("ppapi: invalid id")
	// ErrBadRequest is an upstream 400.
	ErrBadRequest = errors.New("ppapi: bad request")
	// ErrUnauthorized is an upstream 401.
	ErrUnauthorized = errors.New("ppapi: unauthorized")
	// ErrForbidden is an upstream 403.
	ErrForbidden = errors.New("ppapi: forbidden")
	// ErrNotFound is an upstream 404.
	ErrNotFound = errors.New("ppapi: not found")
	// ErrConflict is an upstream 409: another operation is running.
	ErrConflict = errors.New("ppapi: conflict")
	// ErrThrottled is an upstream 429; Error.RetryAfter says how long to
	// wait.
	ErrThrottled = errors.New("ppapi: throttled")
	// ErrUnavailable means the service did not answer usefully: a 408 or
	// 5xx, a timeout, a reset or refused connection, or a response that
	// could not be read.
	ErrUnavailable = errors.New("ppapi: service unavailable")
	// ErrForeignHost means a nextLink, Location or Operation-Location
	// pointed at a host outside the allow-list. It was not requested.
	ErrForeignHost = errors.New("ppapi: link to a foreign host")
	// ErrOutcomeUnknown means a POST, PATCH or DELETE may have taken
	// effect but its response was lost or unusable. It is never retried;
	// the caller reconciles by reading the resource.
	ErrOutcomeUnknown = errors.New("ppapi: outcome unknown")
	// ErrBadResponse means a response was oversized, empty where a body
	// was required, or not decodable. Such errors also match
	// ErrUnavailable.
	ErrBadResponse = errors.New("ppapi: bad response")
	// ErrTooManyPages means a list had more pages than the page cap
	// (WithMaxPages) or its nextLinks looped.
	ErrTooManyPages = errors.New("ppapi: too many pages")
)

// Error is an upstream failure: a non-2xx answer, an unusable answer, or no
// answer at all (Status 0). Its fields are bounded, single-line and safe to
// show; the raw body is never kept.
type Error struct {
	Op              string        // spec operationId, e.g. "getEnvironment"
	Method          string        // HTTP method
	Status          int           // HTTP status; 0 when no response arrived
	Code            string        // service error code, if any
	Message         string        // service message, or a short description
	RetryAfter      time.Duration // from Retry-After; 0 if absent
	CorrelationID   string        // x-ms-correlation-id (or x-ms-request-id, request-id)
	ClientRequestID string        // the x-ms-client-request-id we sent
	WWWAuthenticate string        // the WWW-Authenticate header of a 401

	err            error // cause, for transport failures
	unavailable    bool  // no usable answer (transport failure, bad body)
	badResponse    bool
	outcomeUnknown bool
	retryable      bool
}

// Error returns a bounded single-line description.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ppapi: ")
	if e.Op != "" {
		b.WriteString(sanitize(e.Op, 64))
		b.WriteString(": ")
	}
	b.WriteString(sanitize(e.Method, 16))
	if e.Status != 0 {
		fmt.Fprintf(&b, " %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(sanitize(e.Code, maxCodeLen))
	}
	msg := e.Message
	if msg == "" && e.Status != 0 {
		msg = http.StatusText(e.Status)
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(sanitize(msg, maxMessageLen))
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.CorrelationID != "" {
		b.WriteString(" (correlation id ")
		b.WriteString(sanitize(e.CorrelationID, maxIDLen))
		b.WriteString(")")
	}
	if e.ClientRequestID != "" {
		b.WriteString(" (client request id ")
		b.WriteString(sanitize(e.ClientRequestID, maxIDLen))
		b.WriteString(")")
	}
	return b.String()
}

// Is matches the sentinel of the error's status or kind: 400
// ErrBadRequest, 401 ErrUnauthorized, 403 ErrForbidden, 404 ErrNotFound,
// 409 ErrConflict, 429 ErrThrottled, 408 and 5xx ErrUnavailable; an error
// without a usable answer matches ErrUnavailable, and one after which a
// mutation may or may not have happened ErrOutcomeUnknown.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrThrottled:
		return e.Status == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.unavailable || e.Status == http.StatusRequestTimeout || e.Status >= 500
	case ErrBadResponse:
		return e.badResponse
	case ErrOutcomeUnknown:
		return e.outcomeUnknown
	}
	return false
}

// Unwrap returns the transport error behind a failure without an answer.
func (e *Error) Unwrap() error { return e.err }

// kindError is a client-side failure (bad input, refused link, page cap)
// that wraps one or more sentinels and perhaps a cause.
type kindError struct {
	op    string
	msg   string
	kinds []error
	cause error
}

func (e *kindError) Error() string {
	s := "ppapi: " + e.op + ": " + e.msg
	if e.cause != nil {
		s += ": " + sanitize(e.cause.Error(), maxMessageLen)
	}
	return s
}

func (e *kindError) Unwrap() []error {
	errs := append([]error(nil), e.kinds...)
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func invalidID(op, what, value string) error {
	return &kindError{op: op, msg: fmt.Sprintf("invalid %s %q", what, sanitize(value, 80)), kinds: []error{ErrInvalidID}}
}

func invalidRequest(op, msg string) error {
	return &kindError{op: op, msg: "invalid request: " + msg, kinds: []error{ErrInvalidID}}
}

const (
	maxCodeLen    = 100
	maxMessageLen = 300
	maxIDLen      = 100
	maxHeaderLen  = 512
)

// sanitize makes s safe to show and log: valid UTF-8, control and bidi
// characters turned to spaces, runs of spaces collapsed, at most max runes.
func sanitize(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	pending := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Bidi_Control, r) {
			pending = n > 0
			continue
		}
		add := 1
		if pending {
			add = 2
		}
		if n+add > max {
			b.WriteString("…")
			break
		}
		if pending {
			b.WriteByte(' ')
			n++
			pending = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// parseErrorBody fills Code and Message from an error body: enveloped
// {"error":{"code","message"}}, flat {"code","message"},
// {"errorDetail":{...}}, OAuth-style {"error":"...","error_description"},
// or anything else (a short sanitized excerpt, or nothing for HTML).
func parseErrorBody(body []byte) (code, message string) {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return "", ""
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(trimmed), &top); err == nil {
		code, message = codeMessage(top)
		for _, key := range []string{"error", "errorDetail", "errorDetails"} {
			raw, ok := lookup(top, key)
			if !ok {
				continue
			}
			var inner map[string]json.RawMessage
			if json.Unmarshal(raw, &inner) == nil {
				c, m := codeMessage(inner)
				if c != "" || m != "" {
					return sanitize(c, maxCodeLen), sanitize(m, maxMessageLen)
				}
				continue
			}
			if s := jsonString(raw); s != "" && code == "" {
				code = s // OAuth-style "error": "invalid_token"
				if d, ok := lookup(top, "error_description"); ok && message == "" {
					message = jsonString(d)
				}
			}
		}
		return sanitize(code, maxCodeLen), sanitize(message, maxMessageLen)
	}
	if strings.HasPrefix(trimmed, "<") || !utf8.ValidString(trimmed) {
		return "", "" // an HTML page or binary: the status text says more
	}
	return "", sanitize(trimmed, 200)
}

func codeMessage(m map[string]json.RawMessage) (code, message string) {
	if raw, ok := lookup(m, "code"); ok {
		code = jsonString(raw)
	}
	if raw, ok := lookup(m, "message"); ok {
		message = jsonString(raw)
	}
	return code, message
}

// lookup finds key in m, exactly or else case-insensitively, as
// encoding/json would.
func lookup(m map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	// Several spellings of the key: take the greatest, so the same body
	// always gives the same answer (map order is random).
	best, found := "", false
	for k := range m {
		if strings.EqualFold(k, key) && (!found || k > best) {
			best, found = k, true
		}
	}
	if !found {
		return nil, false
	}
	return m[best], true
}

// jsonString returns a JSON string or number as text, else "".
func jsonString(raw json.RawMessage) string {
	var f FlexString
	if err := json.Unmarshal(raw, &f); err != nil {
		return ""
	}
	return string(f)
}
