package ppapi

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testUnified = "https://unified.example"
	testBAP     = "https://bap.example"

	envGUID    = "0f0e0d0c-0b0a-4909-8807-060504030201"
	defaultEnv = "Default-11111111-2222-4333-8444-555555555555"
	opGUID     = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
	policyGUID = "12345678-90ab-4cde-8f01-234567890abc"
	flowGUID   = "99999999-8888-4777-8666-555555555555"
)

// roundTripperFunc is a fake transport.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// reply is one scripted answer of a fake transport.
type reply struct {
	status int
	header map[string]string
	body   string
	err    error
}

// recorded is one request the fake transport saw.
type recorded struct {
	method string
	url    string
	header http.Header
	body   string
}

// fake scripts answers in order and records requests.
type fake struct {
	t       *testing.T
	mu      sync.Mutex
	replies []reply
	reqs    []recorded
	tokens  []Endpoint
	sleeps  []time.Duration
	// onRequest, if set, runs before each answer.
	onRequest func(n int, r *http.Request)
}

func (f *fake) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body string
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}
	f.reqs = append(f.reqs, recorded{method: r.Method, url: r.URL.String(), header: r.Header.Clone(), body: body})
	n := len(f.reqs)
	if f.onRequest != nil {
		f.onRequest(n, r)
	}
	if n > len(f.replies) {
		f.t.Errorf("unexpected request %d: %s %s", n, r.Method, r.URL)
		return nil, io.ErrClosedPipe
	}
	rep := f.replies[n-1]
	if rep.err != nil {
		return nil, rep.err
	}
	h := http.Header{}
	for k, v := range rep.header {
		h.Set(k, v)
	}
	return &http.Response{
		StatusCode: rep.status,
		Header:     h,
		Body:       io.NopCloser(strings.NewReader(rep.body)),
		Request:    r,
	}, nil
}

func (f *fake) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// newFake returns a client whose transport answers with replies, whose
// tokens are "tok-<endpoint>" and whose sleeps are recorded, not slept.
func newFake(t *testing.T, replies []reply, opts ...Option) (*Client, *fake) {
	t.Helper()
	f := &fake{t: t, replies: replies}
	all := append([]Option{
		WithUnifiedURL(testUnified),
		WithBAPURL(testBAP),
		WithHTTPClient(&http.Client{Transport: f}),
		WithTokenSource(TokenSourceFunc(func(_ context.Context, ep Endpoint) (string, error) {
			f.mu.Lock()
			f.tokens = append(f.tokens, ep)
			f.mu.Unlock()
			return "tok-" + string(ep), nil
		})),
	}, opts...)
	c, err := New(all...)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.sleeps = append(f.sleeps, d)
		f.mu.Unlock()
		return ctx.Err()
	}
	c.jitter = func(n int64) int64 { return n - 1 } // the top of the range
	return c, f
}

func ok(body string) reply { return reply{status: 200, body: body} }

func asError(err error, e **Error) bool { return errors.As(err, e) }

func base64RawURL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
