package ppapi

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var sentinels = map[string]error{
	"ErrBadRequest":     ErrBadRequest,
	"ErrUnauthorized":   ErrUnauthorized,
	"ErrForbidden":      ErrForbidden,
	"ErrNotFound":       ErrNotFound,
	"ErrConflict":       ErrConflict,
	"ErrThrottled":      ErrThrottled,
	"ErrUnavailable":    ErrUnavailable,
	"ErrOutcomeUnknown": ErrOutcomeUnknown,
	"ErrBadResponse":    ErrBadResponse,
	"ErrForeignHost":    ErrForeignHost,
	"ErrInvalidID":      ErrInvalidID,
}

func TestTypedErrors(t *testing.T) {
	tests := []struct {
		name     string
		reply    reply
		sentinel string
		code     string
		message  string
		corr     string
	}{
		{"enveloped 400", reply{status: 400, body: `{"error":{"code":"InvalidApiVersion","message":"Supported: 2020-10-01","detailUrlType":"x"}}`, header: map[string]string{"x-ms-correlation-id": "c-1"}},
			"ErrBadRequest", "InvalidApiVersion", "Supported: 2020-10-01", "c-1"},
		{"flat 401", reply{status: 401, body: `{"code":"ApiVersionInvalid","message":"nope","innererror":{"code":"x"}}`, header: map[string]string{"x-ms-request-id": "r-2"}},
			"ErrUnauthorized", "ApiVersionInvalid", "nope", "r-2"},
		{"errorDetail 403", reply{status: 403, body: `{"errorDetail":{"code":"Forbidden","fieldErrors":{}}}`, header: map[string]string{"request-id": "r-3"}},
			"ErrForbidden", "Forbidden", "", "r-3"},
		{"empty 404", reply{status: 404}, "ErrNotFound", "", "", ""},
		{"empty 409", reply{status: 409, body: "  "}, "ErrConflict", "", "", ""},
		{"text 500", reply{status: 500, body: "upstream\nexploded\x1b[31m"}, "ErrUnavailable", "", "upstream exploded [31m", ""},
		{"html 502", reply{status: 502, body: "<html><body>Bad gateway</body></html>"}, "ErrUnavailable", "", "", ""},
		{"numeric code", reply{status: 400, body: `{"error":{"code":42,"message":"m"}}`}, "ErrBadRequest", "42", "m", ""},
		{"oauth style", reply{status: 401, body: `{"error":"invalid_token","error_description":"expired"}`}, "ErrUnauthorized", "invalid_token", "expired", ""},
		{"error string in envelope", reply{status: 429, body: `{"error":null,"code":"Throttled","message":"slow down"}`}, "ErrThrottled", "Throttled", "slow down", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newFake(t, []reply{tt.reply}, WithRetryPolicy(1, time.Second, time.Second))
			_, err := c.GetEnvironment(context.Background(), envGUID, "")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("GetEnvironment() error = %v, want *Error", err)
			}
			if e.Status != tt.reply.status || e.Code != tt.code || e.Message != tt.message || e.CorrelationID != tt.corr {
				t.Errorf("GetEnvironment() error = {%d %q %q %q}, want {%d %q %q %q}", e.Status, e.Code, e.Message, e.CorrelationID, tt.reply.status, tt.code, tt.message, tt.corr)
			}
			if e.Op != OpGetEnvironment || e.Method != "GET" || !uuidV4.MatchString(e.ClientRequestID) {
				t.Errorf("GetEnvironment() error Op/Method/ClientRequestID = %q %q %q", e.Op, e.Method, e.ClientRequestID)
			}
			for name, s := range sentinels {
				if got, want := errors.Is(err, s), name == tt.sentinel; got != want {
					t.Errorf("errors.Is(%v, %s) = %v, want %v", err, name, got, want)
				}
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "ppapi: getEnvironment: GET ") || strings.ContainsAny(msg, "\n\r\x1b") {
				t.Errorf("Error() = %q, want a single line starting ppapi: getEnvironment: GET", msg)
			}
		})
	}
}

func TestWWWAuthenticate(t *testing.T) {
	c, _ := newFake(t, []reply{{status: 401, header: map[string]string{"WWW-Authenticate": `Bearer error="insufficient_claims", claims="e30="`}}})
	_, err := c.ListBillingPolicies(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.WWWAuthenticate != `Bearer error="insufficient_claims", claims="e30="` {
		t.Errorf("ListBillingPolicies() error = %#v, want WWWAuthenticate kept", err)
	}
}

func TestErrorMessageBounded(t *testing.T) {
	long := strings.Repeat("line one\r\nline two\u202e ", 2000)
	c, _ := newFake(t, []reply{{status: 400, body: `{"error":{"code":"` + strings.Repeat("C", 500) + `","message":"` + strings.ReplaceAll(long, "\r\n", `\r\n`) + `"}}`}})
	_, err := c.GetBillingPolicy(context.Background(), policyGUID)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("GetBillingPolicy() error = %v, want *Error", err)
	}
	msg := err.Error()
	if n := utf8.RuneCountInString(msg); n > 700 {
		t.Errorf("len(Error()) = %d runes, want at most 700", n)
	}
	if strings.ContainsAny(msg, "\r\n\u202e") {
		t.Errorf("Error() = %q, want one line without control or bidi characters", msg)
	}
	if n := utf8.RuneCountInString(e.Message); n > maxMessageLen+1 {
		t.Errorf("len(Message) = %d runes, want at most %d", n, maxMessageLen+1)
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"  a \n\t b  ", 10, "a b"},
		{"abcdefghij", 5, "abcde…"},
		{"ab cd", 3, "ab…"},
		{"bad\xffutf8", 20, "bad\uFFFDutf8"},
		{"x\u202ey", 10, "x y"},
	}
	for _, tt := range tests {
		if got := sanitize(tt.in, tt.max); got != tt.want {
			t.Errorf("sanitize(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestOversizedBody(t *testing.T) {
	body := `{"value":[{"uniqueName":"` + strings.Repeat("x", 2000) + `"}]}`
	c, f := newFake(t, []reply{ok(body)})
	c.maxBody = 1024
	pkgs, err := c.ListTenantApplicationPackages(context.Background())
	if !errors.Is(err, ErrBadResponse) || !errors.Is(err, ErrUnavailable) || pkgs != nil {
		t.Errorf("ListTenantApplicationPackages() = %v, %v; want nil, ErrBadResponse", pkgs, err)
	}
	if len(f.requests()) != 1 {
		t.Errorf("%d requests, want 1 (not retried)", len(f.requests()))
	}

	// At the limit it decodes.
	c, _ = newFake(t, []reply{ok(body)})
	c.maxBody = int64(len(body))
	if pkgs, err := c.ListTenantApplicationPackages(context.Background()); err != nil || len(pkgs) != 1 {
		t.Errorf("ListTenantApplicationPackages() at the limit = %d, %v; want 1, nil", len(pkgs), err)
	}
}

func TestBadBodies(t *testing.T) {
	for _, body := range []string{"", "not json", `{"value":`} {
		c, _ := newFake(t, []reply{ok(body)})
		if _, err := c.GetBillingPolicy(context.Background(), policyGUID); !errors.Is(err, ErrBadResponse) || errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("GetBillingPolicy() with body %q: error = %v, want ErrBadResponse only", body, err)
		}
	}
	// After a create, an unreadable 201 leaves the outcome to reconcile.
	c, _ := newFake(t, []reply{{status: 201, body: "garbage"}})
	_, err := c.CreateBillingPolicy(context.Background(), BillingPolicyCreateRequest{Name: "n", Location: "l"})
	if !errors.Is(err, ErrBadResponse) || !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("CreateBillingPolicy() with a garbage 201: error = %v, want ErrBadResponse and ErrOutcomeUnknown", err)
	}
}

func TestLenientDecode(t *testing.T) {
	c, _ := newFake(t, []reply{ok(`{"name":"` + envGUID + `","brandNew":{"x":1},"properties":{"environmentSku":"FutureSku","states":{"management":{"id":"Running"}},"ongoingOperation":{"id":"o"}}}`)})
	env, err := c.GetEnvironment(context.Background(), envGUID, "")
	if err != nil {
		t.Fatalf("GetEnvironment() error = %v", err)
	}
	if env.Properties.EnvironmentSKU != "FutureSku" || env.Properties.States.Management.ID != "Running" {
		t.Errorf("GetEnvironment() = %+v, want FutureSku / Running kept", env.Properties)
	}
}
