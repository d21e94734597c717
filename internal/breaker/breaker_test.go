package breaker_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ppportal/internal/breaker"
)

// upstream is a loopback server whose answer a test switches, counting the
// requests that reach it.
type upstream struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	serve func(w http.ResponseWriter, r *http.Request)
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.set(status(http.StatusOK))
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		u.mu.Lock()
		f := u.serve
		u.mu.Unlock()
		f(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) set(f func(w http.ResponseWriter, r *http.Request)) {
	u.mu.Lock()
	u.serve = f
	u.mu.Unlock()
}

func (u *upstream) host() string { return strings.TrimPrefix(u.URL, "http://") }

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, `{"ok":true}`)
	}
}

// reset closes the connection with a TCP reset instead of answering.
func reset(w http.ResponseWriter, _ *http.Request) {
	c, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// truncated promises more body than it sends.
func truncated(w http.ResponseWriter, _ *http.Request) {
	c, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"value\":")
	rw.Flush()
}

func newClient(o breaker.Options) (*http.Client, *breaker.Transport) {
	// A fresh transport per test: no connection reuse across tests.
	return breaker.Wrap(&http.Client{Transport: &http.Transport{}}, o)
}

// get sends one GET and reads the whole body; it returns the status (0
// without an answer) and the error.
func get(ctx context.Context, c *http.Client, url string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return resp.StatusCode, err
}

func TestOpensAfterFiveConsecutiveFailures(t *testing.T) {
	u := newUpstream(t)
	c, tr := newClient(breaker.Options{CoolDown: time.Hour})
	u.set(status(http.StatusServiceUnavailable))
	for i := 1; i <= breaker.DefaultFailures; i++ {
		if st := tr.State(u.host()); st != "closed" {
			t.Fatalf("State before failure %d = %q, want closed", i, st)
		}
		if code, err := get(context.Background(), c, u.URL); code != http.StatusServiceUnavailable || err != nil {
			t.Fatalf("GET %d = %d, %v, want 503 passed through", i, code, err)
		}
	}
	if st := tr.State(u.host()); st != "open" {
		t.Fatalf("State after %d failures = %q, want open", breaker.DefaultFailures, st)
	}
	before := u.calls.Load()
	start := time.Now()
	code, err := get(context.Background(), c, u.URL)
	took := time.Since(start)
	if code != 0 || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("GET while open = %d, %v, want an error matching ErrOpen", code, err)
	}
	var oe *breaker.OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("GET while open: error %T is not an *OpenError", err)
	}
	if oe.Host != u.host() || !oe.NotSent() || oe.RetryIn <= 50*time.Minute || oe.PausedFor() != time.Hour {
		t.Errorf("OpenError = %+v (PausedFor %v), want host %s, not sent, about an hour to go", oe, oe.PausedFor(), u.host())
	}
	if !strings.Contains(oe.Error(), "paused for 3600 s") {
		t.Errorf("OpenError.Error() = %q, want it to say paused for 3600 s", oe.Error())
	}
	if n := u.calls.Load() - before; n != 0 {
		t.Errorf("upstream calls while open = %d, want 0", n)
	}
	// Refusing is a map lookup, not a network wait; a generous bound.
	if took > time.Second {
		t.Errorf("refusal took %v, want at once", took)
	}
}

func TestWhatCountsAsFailure(t *testing.T) {
	tests := []struct {
		name     string
		serve    func(http.ResponseWriter, *http.Request)
		timeout  time.Duration
		wantOpen bool
	}{
		{"500", status(http.StatusInternalServerError), 0, true},
		{"502", status(http.StatusBadGateway), 0, true},
		{"504", status(http.StatusGatewayTimeout), 0, true},
		{"reset", reset, 0, true},
		{"truncated body", truncated, 0, true},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, 20 * time.Millisecond, true},
		{"429", status(http.StatusTooManyRequests), 0, false},
		{"404", status(http.StatusNotFound), 0, false},
		{"400", status(http.StatusBadRequest), 0, false},
		{"200", status(http.StatusOK), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			u.set(tt.serve)
			c, tr := newClient(breaker.Options{CoolDown: time.Hour})
			for i := 0; i < breaker.DefaultFailures; i++ {
				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				get(ctx, c, u.URL)
			}
			if got := tr.State(u.host()) == "open"; got != tt.wantOpen {
				t.Errorf("open after %d × %s = %v, want %v", breaker.DefaultFailures, tt.name, got, tt.wantOpen)
			}
		})
	}
}

func TestCancelledRequestsDoNotCount(t *testing.T) {
	u := newUpstream(t)
	u.set(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c, tr := newClient(breaker.Options{Failures: 2, CoolDown: time.Hour})
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// Cancel once the request is at the server.
			for u.calls.Load() <= int64(i) {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		if _, err := get(ctx, c, u.URL); !errors.Is(err, context.Canceled) {
			t.Fatalf("GET %d = %v, want context.Canceled", i, err)
		}
	}
	if st := tr.State(u.host()); st != "closed" {
		t.Errorf("State after 5 cancelled requests = %q, want closed", st)
	}
}

func TestSuccessResetsTheCount(t *testing.T) {
	u := newUpstream(t)
	c, tr := newClient(breaker.Options{CoolDown: time.Hour})
	for round := 0; round < 3; round++ {
		u.set(status(http.StatusInternalServerError))
		for i := 0; i < breaker.DefaultFailures-1; i++ {
			get(context.Background(), c, u.URL)
		}
		u.set(status(http.StatusOK))
		get(context.Background(), c, u.URL)
	}
	if st := tr.State(u.host()); st != "closed" {
		t.Errorf("State after rounds of 4 failures and a success = %q, want closed", st)
	}
}

// TestThrottlingCountsNeitherWay: a 429 between failures neither opens
// the breaker nor resets the run of failures; a 404 does reset it.
func TestThrottlingCountsNeitherWay(t *testing.T) {
	for _, tt := range []struct {
		between  int
		wantOpen bool
	}{
		{http.StatusTooManyRequests, true},
		{http.StatusNotFound, false},
	} {
		u := newUpstream(t)
		c, tr := newClient(breaker.Options{CoolDown: time.Hour})
		u.set(status(http.StatusInternalServerError))
		for i := 0; i < breaker.DefaultFailures-1; i++ {
			get(context.Background(), c, u.URL)
		}
		u.set(status(tt.between))
		for i := 0; i < 3; i++ {
			get(context.Background(), c, u.URL)
		}
		if st := tr.State(u.host()); st != "closed" {
			t.Fatalf("State after 4 failures and 3 × %d = %q, want closed", tt.between, st)
		}
		u.set(status(http.StatusInternalServerError))
		get(context.Background(), c, u.URL)
		if got := tr.State(u.host()) == "open"; got != tt.wantOpen {
			t.Errorf("open after 4 failures, 3 × %d and a failure = %v, want %v", tt.between, got, tt.wantOpen)
		}
	}
}

func TestOneHostOpenOthersServed(t *testing.T) {
	bad, good := newUpstream(t), newUpstream(t)
	bad.set(status(http.StatusInternalServerError))
	c, tr := newClient(breaker.Options{CoolDown: time.Hour})
	for i := 0; i < breaker.DefaultFailures; i++ {
		get(context.Background(), c, bad.URL)
	}
	if tr.State(bad.host()) != "open" {
		t.Fatalf("State(%s) = %q, want open", bad.host(), tr.State(bad.host()))
	}
	if code, err := get(context.Background(), c, good.URL); code != http.StatusOK || err != nil {
		t.Errorf("GET of another host while the first is open = %d, %v, want 200", code, err)
	}
}

// waitState polls until the host's breaker reports want; gobreaker moves
// from open to half-open when asked after its timeout.
func waitState(t *testing.T, tr *breaker.Transport, host, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for tr.State(host) != want {
		if time.Now().After(deadline) {
			t.Fatalf("State(%s) = %q after 5 s, want %q", host, tr.State(host), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestHalfOpenLetsOneProbeThrough(t *testing.T) {
	u := newUpstream(t)
	c, tr := newClient(breaker.Options{CoolDown: 50 * time.Millisecond})
	u.set(status(http.StatusInternalServerError))
	for i := 0; i < breaker.DefaultFailures; i++ {
		get(context.Background(), c, u.URL)
	}
	waitState(t, tr, u.host(), "half-open")

	// The probe hangs at the server; meanwhile every other request is
	// refused without reaching it.
	release := make(chan struct{})
	u.set(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK)
	})
	before := u.calls.Load()
	probe := make(chan error, 1)
	go func() {
		_, err := get(context.Background(), c, u.URL)
		probe <- err
	}()
	for u.calls.Load() == before {
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < 10; i++ {
		_, err := get(context.Background(), c, u.URL)
		var oe *breaker.OpenError
		if !errors.As(err, &oe) {
			t.Fatalf("GET %d during the probe = %v, want an *OpenError", i, err)
		}
	}
	if n := u.calls.Load() - before; n != 1 {
		t.Errorf("requests reaching the upstream while half-open = %d, want 1 (the probe)", n)
	}
	close(release)
	if err := <-probe; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if st := tr.State(u.host()); st != "closed" {
		t.Errorf("State after a successful probe = %q, want closed", st)
	}
}

func TestFailedProbeOpensAgain(t *testing.T) {
	u := newUpstream(t)
	c, tr := newClient(breaker.Options{Failures: 1, CoolDown: 50 * time.Millisecond})
	u.set(status(http.StatusBadGateway))
	get(context.Background(), c, u.URL)
	waitState(t, tr, u.host(), "half-open")
	before := u.calls.Load()
	if code, _ := get(context.Background(), c, u.URL); code != http.StatusBadGateway {
		t.Fatalf("probe = %d, want the upstream's 502", code)
	}
	if st := tr.State(u.host()); st != "open" {
		t.Errorf("State after a failed probe = %q, want open", st)
	}
	if _, err := get(context.Background(), c, u.URL); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("GET after a failed probe = %v, want ErrOpen", err)
	}
	if n := u.calls.Load() - before; n != 1 {
		t.Errorf("upstream calls = %d, want 1 (the probe)", n)
	}
}

// closeCounter records whether a request body was closed.
type closeCounter struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeCounter) Close() error { c.closed.Store(true); return nil }

func TestRefusalClosesTheRequestBody(t *testing.T) {
	u := newUpstream(t)
	u.set(status(http.StatusInternalServerError))
	c, _ := newClient(breaker.Options{Failures: 1, CoolDown: time.Hour})
	get(context.Background(), c, u.URL)
	b := &closeCounter{Reader: strings.NewReader(`{"name":"x"}`)}
	req, _ := http.NewRequest(http.MethodPost, u.URL, b)
	if _, err := c.Do(req); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("POST while open = %v, want ErrOpen", err)
	}
	if !b.closed.Load() {
		t.Error("the refused request's body was not closed")
	}
}

func TestMaxHostsPassesFurtherHostsThrough(t *testing.T) {
	first, second := newUpstream(t), newUpstream(t)
	first.set(status(http.StatusOK))
	second.set(status(http.StatusInternalServerError))
	c, tr := newClient(breaker.Options{Failures: 1, MaxHosts: 1, CoolDown: time.Hour})
	get(context.Background(), c, first.URL)
	for i := 0; i < 3; i++ {
		if code, err := get(context.Background(), c, second.URL); code != http.StatusInternalServerError {
			t.Fatalf("GET %d of an unguarded host = %d, %v, want its 500", i, code, err)
		}
	}
	if n := second.calls.Load(); n != 3 {
		t.Errorf("calls to the unguarded host = %d, want 3", n)
	}
	if st := tr.State(second.host()); st != "closed" {
		t.Errorf("State of an unguarded host = %q, want closed", st)
	}
}

func TestResetClosesEveryBreaker(t *testing.T) {
	u := newUpstream(t)
	u.set(status(http.StatusInternalServerError))
	var changes []string
	var mu sync.Mutex
	c, tr := newClient(breaker.Options{Failures: 1, CoolDown: time.Hour, OnStateChange: func(host, from, to string) {
		mu.Lock()
		changes = append(changes, from+">"+to)
		mu.Unlock()
	}})
	get(context.Background(), c, u.URL)
	if tr.State(u.host()) != "open" {
		t.Fatalf("State = %q, want open", tr.State(u.host()))
	}
	tr.Reset()
	u.set(status(http.StatusOK))
	if code, err := get(context.Background(), c, u.URL); code != http.StatusOK || err != nil {
		t.Errorf("GET after Reset = %d, %v, want 200", code, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 1 || changes[0] != "closed>open" {
		t.Errorf("OnStateChange calls = %q, want [closed>open]", changes)
	}
}
