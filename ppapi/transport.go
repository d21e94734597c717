package ppapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is a 2xx answer, its body read in full (bounded).
type result struct {
	status          int
	header          http.Header
	body            []byte
	clientRequestID string
}

// do sends op to u with body (JSON-encoded when not nil) and returns the
// 2xx answer. A GET is retried on 408, 429, 5xx answers of the retryable
// kind and on connection failures; other methods are sent exactly once.
func (c *Client) do(ctx context.Context, op operation, u *url.URL, body any) (*result, error) {
	if err := c.checkHost(op.endpoint, u); err != nil {
		return nil, &kindError{op: op.id, msg: fmt.Sprintf("refused to send to host %q", sanitize(u.Host, 100)), kinds: []error{ErrForeignHost}}
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, &kindError{op: op.id, msg: "cannot encode request", kinds: []error{ErrInvalidID}, cause: err}
		}
	}
	attempts := 1
	if op.method == http.MethodGet {
		attempts = c.maxAttempts
	}
	for i := 1; ; i++ {
		if i == 1 && ctx.Err() != nil {
			return nil, &kindError{op: op.id, msg: "not sent", cause: ctx.Err()}
		}
		start := time.Now()
		res, err := c.attempt(ctx, op, u, payload)
		c.observe(ctx, op, u, i, start, res, err)
		if err == nil {
			return res, nil
		}
		var e *Error
		if !errors.As(err, &e) || !e.retryable || i >= attempts || ctx.Err() != nil {
			return nil, err
		}
		d, ok := c.retryDelay(ctx, i, e.RetryAfter)
		if !ok {
			return nil, e
		}
		if c.sleep(ctx, d) != nil {
			return nil, e
		}
	}
}

// observe reports one attempt to the observer and to the context's call
// recorder, if any.
func (c *Client) observe(ctx context.Context, op operation, u *url.URL, attempt int, start time.Time, res *result, err error) {
	rec, _ := ctx.Value(recorderKey{}).(func(CallInfo))
	if c.observer == nil && rec == nil {
		return
	}
	info := CallInfo{Op: op.id, Method: op.method, Host: u.Host, Path: u.EscapedPath(), Attempt: attempt, Duration: time.Since(start), Err: err}
	if res != nil {
		info.Status = res.status
		info.CorrelationID = correlationID(res.header)
		info.ClientRequestID = res.clientRequestID
	}
	var e *Error
	if errors.As(err, &e) {
		info.Status = e.Status
		info.CorrelationID = e.CorrelationID
		info.ClientRequestID = e.ClientRequestID
	}
	if c.observer != nil {
		c.observer(info)
	}
	if rec != nil {
		rec(info)
	}
}

type recorderKey struct{}

// WithCallRecorder returns a context whose API calls are reported to f,
// attempt by attempt, as WithObserver reports all calls: a handler uses it
// to learn the upstream request ids of the one admin action it audits.
func WithCallRecorder(ctx context.Context, f func(CallInfo)) context.Context {
	return context.WithValue(ctx, recorderKey{}, f)
}

// retryDelay returns how long to wait before retry number n (1-based), and
// false when the wait would pass the context's deadline or the Retry-After
// is longer than the client waits out by itself.
func (c *Client) retryDelay(ctx context.Context, n int, retryAfter time.Duration) (time.Duration, bool) {
	d := retryAfter
	if d > c.maxRetryAfter {
		return 0, false
	}
	if d <= 0 {
		ceiling := c.backoffBase
		for k := 1; k < n && ceiling < c.backoffMax; k++ {
			ceiling *= 2
		}
		ceiling = min(ceiling, c.backoffMax)
		d = time.Duration(c.jitter(int64(ceiling) + 1))
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return 0, false
	}
	return d, true
}

// attempt sends one request.
func (c *Client) attempt(ctx context.Context, op operation, u *url.URL, payload []byte) (*result, error) {
	tok, err := c.tokens.Token(ctx, op.endpoint)
	if err != nil {
		return nil, &kindError{op: op.id, msg: "token for the " + string(op.endpoint) + " endpoint", cause: err}
	}
	if !validToken(tok) {
		return nil, &kindError{op: op.id, msg: "token source returned an unusable token for the " + string(op.endpoint) + " endpoint", kinds: []error{ErrUnauthorized}}
	}
	var rb io.Reader
	if payload != nil {
		rb = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, op.method, u.String(), rb)
	if err != nil {
		return nil, &kindError{op: op.id, msg: "cannot build request", kinds: []error{ErrInvalidID}, cause: err}
	}
	reqID := c.newID()
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(headerClientID, reqID)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	mutation := op.method != http.MethodGet

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, op, reqID, err, mutation && !notSent(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if !ok {
		// An error body, possibly cut short: parse what arrived.
		return nil, c.statusError(op, resp, body, reqID)
	}
	if readErr != nil {
		return nil, c.transportError(ctx, op, reqID, readErr, mutation)
	}
	if int64(len(body)) > c.maxBody {
		e := c.badResponse(op, resp.StatusCode, resp.Header, reqID, fmt.Sprintf("response body exceeds %d bytes", c.maxBody))
		return nil, e
	}
	return &result{status: resp.StatusCode, header: resp.Header, body: body, clientRequestID: reqID}, nil
}

// validToken reports whether tok can go into an Authorization header.
func validToken(tok string) bool {
	if tok == "" || len(tok) > 64<<10 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] >= 0x7f {
			return false
		}
	}
	return true
}

// statusError builds the *Error of a non-2xx answer.
func (c *Client) statusError(op operation, resp *http.Response, body []byte, reqID string) *Error {
	code, msg := parseErrorBody(body)
	e := &Error{
		Op:              op.id,
		Method:          op.method,
		Status:          resp.StatusCode,
		Code:            code,
		Message:         msg,
		RetryAfter:      c.parseRetryAfter(resp.Header.Get("Retry-After")),
		CorrelationID:   correlationID(resp.Header),
		ClientRequestID: reqID,
	}
	if resp.StatusCode == http.StatusUnauthorized {
		e.WWWAuthenticate = sanitize(resp.Header.Get("WWW-Authenticate"), maxHeaderLen)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.retryable = true
	}
	return e
}

// badResponse builds the *Error of a 2xx answer that cannot be used. After
// a mutation the change may have happened: the caller reconciles.
func (c *Client) badResponse(op operation, status int, h http.Header, reqID, msg string) *Error {
	return &Error{
		Op:              op.id,
		Method:          op.method,
		Status:          status,
		Message:         msg,
		CorrelationID:   correlationID(h),
		ClientRequestID: reqID,
		unavailable:     true,
		badResponse:     true,
		outcomeUnknown:  op.method != http.MethodGet,
	}
}

// transportError builds the *Error of a request without an answer.
// sent says whether a mutation may have reached the service.
func (c *Client) transportError(ctx context.Context, op operation, reqID string, err error, sent bool) *Error {
	e := &Error{
		Op:              op.id,
		Method:          op.method,
		Message:         "no response: " + sanitize(transportCause(err), 200),
		ClientRequestID: reqID,
		err:             err,
		outcomeUnknown:  sent,
	}
	if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e.unavailable = true
	}
	e.retryable = ctx.Err() == nil && retryableTransport(err)
	return e
}

// transportCause describes err without the URL that *url.Error repeats.
func transportCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// retryableTransport reports whether a GET that failed with err is worth
// another attempt: reset, refused, cut-short connections.
func retryableTransport(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF)
}

// notSent reports whether err proves the request never left: the
// connection could not be made (dial failure, DNS), or a layer of the
// transport refused to send it and says so with a NotSent method (a circuit
// breaker that is open).
func notSent(err error) bool {
	var ns interface{ NotSent() bool }
	if errors.As(err, &ns) && ns.NotSent() {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// parseRetryAfter reads Retry-After as delta seconds or an HTTP date; 0
// when absent or unreadable.
func (c *Client) parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	const ceiling = 24 * time.Hour
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(ceiling/time.Second) {
			return ceiling
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(c.now())
	if d <= 0 {
		return 0
	}
	if d >= ceiling {
		return ceiling // also keeps the rounding below from overflowing
	}
	// An HTTP date has whole seconds: round up so we never come early.
	d = (d + time.Second - 1).Truncate(time.Second)
	return min(d, ceiling)
}

// correlationID picks the service's request id header.
func correlationID(h http.Header) string {
	for _, k := range []string{"x-ms-correlation-id", "x-ms-request-id", "request-id"} {
		if v := h.Get(k); v != "" {
			return sanitize(v, maxIDLen)
		}
	}
	return ""
}

// decode unmarshals a 2xx body into v.
func (c *Client) decode(op operation, res *result, v any) error {
	if len(bytes.TrimSpace(res.body)) == 0 {
		return c.badResponse(op, res.status, res.header, res.clientRequestID, "empty response body")
	}
	if err := json.Unmarshal(res.body, v); err != nil {
		return c.badResponse(op, res.status, res.header, res.clientRequestID, "undecodable response body: "+sanitize(err.Error(), 120))
	}
	return nil
}
