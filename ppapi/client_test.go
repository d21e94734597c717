package ppapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewValidates(t *testing.T) {
	ts := WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "t", nil }))
	good := []Option{WithUnifiedURL(testUnified), WithBAPURL(testBAP), ts}
	tests := []struct {
		name string
		opts []Option
		want string // substring of the error, "" for success
	}{
		{"ok", good, ""},
		{"ok loopback http", []Option{WithUnifiedURL("http://127.0.0.1:8081/sim"), WithBAPURL("http://localhost:8081"), ts}, ""},
		{"no unified", []Option{WithBAPURL(testBAP), ts}, "unified endpoint URL missing"},
		{"no bap", []Option{WithUnifiedURL(testUnified), ts}, "BAP endpoint URL missing"},
		{"no token source", []Option{WithUnifiedURL(testUnified), WithBAPURL(testBAP)}, "no token source"},
		{"http off loopback", append(good, WithUnifiedURL("http://api.example")), "must use https"},
		{"relative", append(good, WithBAPURL("/bap")), "no host"},
		{"query", append(good, WithBAPURL("https://bap.example?x=1")), "scheme://host"},
		{"userinfo", append(good, WithBAPURL("https://u:p@bap.example")), "scheme://host"},
		{"unknown op", append(good, WithAPIVersion("listThings", "1")), `unknown operation "listThings"`},
		{"bad version", append(good, WithAPIVersion(OpGetEnvironment, "1&x=2")), "invalid api-version"},
		{"bad pages", append(good, WithMaxPages(0)), "max pages"},
		{"bad retry", append(good, WithRetryPolicy(0, time.Second, time.Second)), "invalid retry policy"},
		{"bad retry order", append(good, WithRetryPolicy(3, 2*time.Second, time.Second)), "invalid retry policy"},
		{"bad host pattern", append(good, WithAllowedHosts("https://x.example/")), "allowed host"},
		{"bare star", append(good, WithAllowedHosts("*.com")), "allowed host"},
		{"bad user agent", append(good, WithUserAgent("a\r\nb")), "invalid user agent"},
		{"nil http client", append(good, WithHTTPClient(nil)), "nil HTTP client"},
	}
	for _, tt := range tests {
		c, err := New(tt.opts...)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: New() error = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "ppapi: ")):
			t.Errorf("%s: New() error = %v, want one containing %q", tt.name, err, tt.want)
		case tt.want != "" && c != nil:
			t.Errorf("%s: New() client = %v, want nil", tt.name, c)
		}
	}
}

func TestNewDoesNotMutateHTTPClient(t *testing.T) {
	hc := &http.Client{}
	if _, err := New(WithUnifiedURL(testUnified), WithBAPURL(testBAP), WithHTTPClient(hc),
		WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "t", nil }))); err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if hc.CheckRedirect != nil {
		t.Errorf("New() set CheckRedirect on the caller's client; want a copy")
	}
}

func TestBasePathKept(t *testing.T) {
	c, f := newFake(t, []reply{ok(`{"value":[]}`)}, WithUnifiedURL("https://unified.example/prefix/"))
	if _, err := c.ListBillingPolicies(context.Background()); err != nil {
		t.Fatalf("ListBillingPolicies() error = %v", err)
	}
	if got, want := f.requests()[0].url, "https://unified.example/prefix/licensing/billingPolicies?api-version=2022-03-01-preview"; got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}
}

func TestHostPattern(t *testing.T) {
	tests := []struct {
		pattern, host, port string
		want                bool
	}{
		{"*.api.bap.microsoft.com", "europe.api.bap.microsoft.com", "", true},
		{"*.api.bap.microsoft.com", "api.bap.microsoft.com", "", false},
		{"*.api.bap.microsoft.com", "evilapi.bap.microsoft.com", "", false},
		{"*.api.bap.microsoft.com", "europe.api.bap.microsoft.com", "8443", false},
		{"EUROPE.api.bap.microsoft.com", "europe.api.bap.microsoft.com", "", true},
		{"127.0.0.1:9000", "127.0.0.1", "9000", true},
		{"127.0.0.1:9000", "127.0.0.1", "9001", false},
		{"[::1]:9000", "::1", "9000", true},
	}
	for _, tt := range tests {
		p, err := parseHostPattern(tt.pattern)
		if err != nil {
			t.Errorf("parseHostPattern(%q) error = %v", tt.pattern, err)
			continue
		}
		if got := p.match(tt.host, tt.port); got != tt.want {
			t.Errorf("parseHostPattern(%q).match(%q, %q) = %v, want %v", tt.pattern, tt.host, tt.port, got, tt.want)
		}
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newUUID()
		if !uuidV4.MatchString(id) || seen[id] {
			t.Fatalf("newUUID() = %q, want a fresh UUID v4", id)
		}
		seen[id] = true
	}
}

func TestObserver(t *testing.T) {
	var infos []CallInfo
	c, _ := newFake(t, []reply{
		{status: 503, header: map[string]string{"x-ms-correlation-id": "c1"}},
		{status: 200, header: map[string]string{"x-ms-correlation-id": "c2"}, body: `{"value":[]}`},
	}, WithObserver(func(i CallInfo) { infos = append(infos, i) }))
	c.newID = func() string { return "req" }
	if _, err := c.ListBillingPolicies(context.Background()); err != nil {
		t.Fatalf("ListBillingPolicies() error = %v", err)
	}
	for i := range infos {
		infos[i].Duration, infos[i].Err = 0, nil
	}
	want := []CallInfo{
		{Op: OpListBillingPolicies, Method: "GET", Host: "unified.example", Path: "/licensing/billingPolicies", Attempt: 1, Status: 503, CorrelationID: "c1", ClientRequestID: "req"},
		{Op: OpListBillingPolicies, Method: "GET", Host: "unified.example", Path: "/licensing/billingPolicies", Attempt: 2, Status: 200, CorrelationID: "c2", ClientRequestID: "req"},
	}
	if diff := cmp.Diff(want, infos); diff != "" {
		t.Errorf("observed calls mismatch (-want +got):\n%s", diff)
	}
}

func TestNilTokenSourceFunc(t *testing.T) {
	_, err := New(WithUnifiedURL(testUnified), WithBAPURL(testBAP), WithTokenSource(TokenSourceFunc(nil)))
	if err == nil || !strings.Contains(err.Error(), "no token source") {
		t.Errorf("New() with a nil TokenSourceFunc: error = %v, want no token source", err)
	}
}

func TestCancelledBeforeSend(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, f := newFake(t, nil)
	err := c.DeleteBillingPolicy(ctx, policyGUID)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("DeleteBillingPolicy() with a cancelled context: error = %v, want context.Canceled, not ErrOutcomeUnknown", err)
	}
	if len(f.requests()) != 0 {
		t.Errorf("%d requests, want 0", len(f.requests()))
	}
}
