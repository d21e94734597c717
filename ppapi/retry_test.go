package ppapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetryAfterSeconds(t *testing.T) {
	c, f := newFake(t, []reply{
		{status: 429, header: map[string]string{"Retry-After": "2"}, body: `{"error":{"code":"TooManyRequests"}}`},
		ok(`{"id":"` + policyGUID + `"}`),
	})
	p, err := c.GetBillingPolicy(context.Background(), policyGUID)
	if err != nil || p.ID != policyGUID {
		t.Fatalf("GetBillingPolicy() = %v, %v; want policy, nil", p, err)
	}
	if diff := cmp.Diff([]time.Duration{2 * time.Second}, f.sleeps); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c, f := newFake(t, []reply{
		{status: 503, header: map[string]string{"Retry-After": now.Add(5 * time.Second).Format(http.TimeFormat)}},
		ok(`{"value":[]}`),
	})
	c.now = func() time.Time { return now }
	if _, err := c.ListTenantApplicationPackages(context.Background()); err != nil {
		t.Fatalf("ListTenantApplicationPackages() error = %v", err)
	}
	if diff := cmp.Diff([]time.Duration{5 * time.Second}, f.sleeps); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
}

func TestBackoffAndAttemptCap(t *testing.T) {
	c, f := newFake(t, []reply{{status: 500}, {status: 502}, {status: 504, header: map[string]string{"x-ms-correlation-id": "corr-3"}}})
	_, err := c.GetEnvironment(context.Background(), envGUID, "")
	var e *Error
	if !errors.As(err, &e) || e.Status != 504 || e.CorrelationID != "corr-3" || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("GetEnvironment() error = %v, want the last (504) *Error matching ErrUnavailable", err)
	}
	if got := len(f.requests()); got != 3 {
		t.Errorf("%d requests, want 3 (the attempt cap)", got)
	}
	// Full jitter drawn at the top of [0, base], then [0, 2*base].
	if diff := cmp.Diff([]time.Duration{DefaultBackoffBase, 2 * DefaultBackoffBase}, f.sleeps); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
}

func TestBackoffCapped(t *testing.T) {
	c, f := newFake(t, []reply{{status: 503}, {status: 503}, {status: 503}, {status: 503}, ok(`{"value":[]}`)},
		WithRetryPolicy(5, time.Second, 3*time.Second))
	if _, err := c.ListBillingPolicies(context.Background()); err != nil {
		t.Fatalf("ListBillingPolicies() error = %v", err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	if diff := cmp.Diff(want, f.sleeps); diff != "" {
		t.Errorf("sleeps mismatch (-want +got):\n%s", diff)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	c, f := newFake(t, []reply{{status: 404}})
	if _, err := c.GetBillingPolicy(context.Background(), policyGUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetBillingPolicy() error = %v, want ErrNotFound", err)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestRetryOnConnectionErrors(t *testing.T) {
	for _, cause := range []error{syscall.ECONNRESET, syscall.ECONNREFUSED, fmt.Errorf("read: %w", io.ErrUnexpectedEOF)} {
		c, f := newFake(t, []reply{{err: cause}, ok(`{"value":[]}`)})
		if _, err := c.ListEnvironments(context.Background(), ""); err != nil {
			t.Errorf("ListEnvironments() after %v: error = %v, want nil", cause, err)
		}
		if got := len(f.requests()); got != 2 {
			t.Errorf("after %v: %d requests, want 2", cause, got)
		}
	}
}

func TestNoRetryOfMutations(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(c *Client) error{
		"install": func(c *Client) error { _, err := c.InstallApplicationPackage(ctx, envGUID, "Pkg"); return err },
		"create": func(c *Client) error {
			_, err := c.CreateBillingPolicy(ctx, BillingPolicyCreateRequest{Name: "n", Location: "europe"})
			return err
		},
		"update": func(c *Client) error {
			_, err := c.UpdateBillingPolicy(ctx, policyGUID, BillingPolicyUpdateRequest{Name: "n"})
			return err
		},
		"deletePolicy": func(c *Client) error { return c.DeleteBillingPolicy(ctx, policyGUID) },
		"deleteEnv":    func(c *Client) error { _, err := c.DeleteEnvironment(ctx, envGUID); return err },
	}
	for name, call := range calls {
		c, f := newFake(t, []reply{{status: 503, header: map[string]string{"Retry-After": "1"}}, ok(`{}`)})
		err := call(c)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("%s on 503: error = %v, want ErrUnavailable and not ErrOutcomeUnknown", name, err)
		}
		if got := len(f.requests()); got != 1 {
			t.Errorf("%s on 503: %d requests, want 1", name, got)
		}

		c, f = newFake(t, []reply{{err: syscall.ECONNRESET}, ok(`{}`)})
		err = call(c)
		if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s on reset: error = %v, want ErrOutcomeUnknown and ErrUnavailable", name, err)
		}
		if got := len(f.requests()); got != 1 {
			t.Errorf("%s on reset: %d requests, want 1", name, got)
		}
	}
}

// TestOutcomeUnknownAfterWrite resets the connection after the server has
// read a whole POST.
func TestOutcomeUnknownAfterWrite(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack() error = %v", err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // send RST
		}
		conn.Close()
	}))
	defer srv.Close()
	c, err := New(WithUnifiedURL(srv.URL), WithBAPURL(srv.URL), WithHTTPClient(srv.Client()),
		WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "t", nil })))
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	_, err = c.CreateBillingPolicy(context.Background(), BillingPolicyCreateRequest{Name: "n", Location: "europe"})
	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("CreateBillingPolicy() error = %v, want ErrOutcomeUnknown and ErrUnavailable", err)
	}
	var e *Error
	if !errors.As(err, &e) || !uuidV4.MatchString(e.ClientRequestID) {
		t.Errorf("CreateBillingPolicy() error = %#v, want *Error with the client request id", err)
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("server saw %d requests, want 1", got)
	}
}

// TestNotSentIsNotUnknown: a refused connection proves the mutation never
// left.
func TestNotSentIsNotUnknown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := New(WithUnifiedURL("http://"+addr), WithBAPURL("http://"+addr),
		WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "t", nil })))
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	err = c.DeleteBillingPolicy(context.Background(), policyGUID)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("DeleteBillingPolicy() to a closed port: error = %v, want ErrUnavailable, not ErrOutcomeUnknown", err)
	}
}

func TestRetryAfterBeyondDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, f := newFake(t, []reply{{status: 429, header: map[string]string{"Retry-After": "10"}}, ok(`{}`)})
	start := time.Now()
	_, err := c.GetBillingPolicy(ctx, policyGUID)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrThrottled) || e.RetryAfter != 10*time.Second {
		t.Fatalf("GetBillingPolicy() error = %v, want ErrThrottled with RetryAfter 10s", err)
	}
	if len(f.sleeps) != 0 || len(f.requests()) != 1 {
		t.Errorf("sleeps %v, requests %d; want none, 1", f.sleeps, len(f.requests()))
	}
	if ctx.Err() != nil {
		t.Errorf("returned after the deadline (%s); want at once", time.Since(start))
	}
}

func TestRetryAfterBeyondCeiling(t *testing.T) {
	c, f := newFake(t, []reply{{status: 429, header: map[string]string{"Retry-After": "3600"}}, ok(`{}`)})
	_, err := c.GetBillingPolicy(context.Background(), policyGUID)
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter != time.Hour {
		t.Fatalf("GetBillingPolicy() error = %v, want RetryAfter 1h", err)
	}
	if len(f.sleeps) != 0 || len(f.requests()) != 1 {
		t.Errorf("sleeps %v, requests %d; want none, 1", f.sleeps, len(f.requests()))
	}
}

func TestBackoffBeyondDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	c, f := newFake(t, []reply{{status: 503}, ok(`{}`)}, WithRetryPolicy(3, 2*time.Hour, 2*time.Hour))
	if _, err := c.GetBillingPolicy(ctx, policyGUID); !errors.Is(err, ErrUnavailable) {
		t.Errorf("GetBillingPolicy() error = %v, want ErrUnavailable at once", err)
	}
	if len(f.sleeps) != 0 || len(f.requests()) != 1 {
		t.Errorf("sleeps %v, requests %d; want none, 1", f.sleeps, len(f.requests()))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &Client{now: func() time.Time { return now }}
	tests := map[string]time.Duration{
		"":               0,
		"0":              0,
		"-5":             0,
		"7":              7 * time.Second,
		" 7 ":            7 * time.Second,
		"1e3":            0,
		"soon":           0,
		"99999999999999": 24 * time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat):  90 * time.Second,
		now.Add(-90 * time.Second).Format(http.TimeFormat): 0,
		"Sunday, 01-Mar-26 12:00:30 GMT":                   30 * time.Second, // RFC 850
	}
	for in, want := range tests {
		if got := c.parseRetryAfter(in); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestTokenSourceError(t *testing.T) {
	boom := errors.New("interaction required")
	var n atomic.Int32
	c, err := New(WithUnifiedURL(testUnified), WithBAPURL(testBAP),
		WithHTTPClient(&http.Client{Transport: roundTripperFunc(func(*http.Request) (*http.Response, error) {
			n.Add(1)
			return nil, errors.New("must not be called")
		})}),
		WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "", boom })))
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if _, err := c.ListBillingPolicies(context.Background()); !errors.Is(err, boom) {
		t.Errorf("ListBillingPolicies() error = %v, want the token source's error", err)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests, want 0", n.Load())
	}
}

func TestUnusableToken(t *testing.T) {
	c, f := newFake(t, nil, WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) {
		return "abc\r\nX-Injected: 1", nil
	})))
	_, err := c.ListBillingPolicies(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("ListBillingPolicies() error = %v, want ErrUnauthorized", err)
	}
	if len(f.requests()) != 0 {
		t.Errorf("%d requests, want 0", len(f.requests()))
	}
}
