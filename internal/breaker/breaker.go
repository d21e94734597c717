// Package breaker is a circuit breaker per upstream host, as an
// http.RoundTripper around the portal's one upstream transport
// (SECURITY.md §5.3). When a host fails again and again (5xx answers,
// timeouts, resets), its breaker opens: requests to it are refused at once,
// without being sent, so pages answer quickly with a friendly 503 instead
// of waiting on a service that is down and adding to its load. After a
// cool-down one request goes through as a probe; its success closes the
// breaker, its failure opens it again.
//
// 429 answers are back-pressure: they count neither way. Other 4xx
// answers are the request's fault and count as successes (the host
// answered). A request cancelled by its caller (the browser went away)
// counts neither way.
package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Defaults of Options.
const (
	// DefaultFailures is how many consecutive failures open a breaker.
	DefaultFailures = 5
	// DefaultCoolDown is how long a breaker stays open before its probe.
	DefaultCoolDown = 30 * time.Second
	// DefaultMaxHosts bounds how many hosts get a breaker of their own.
	DefaultMaxHosts = 64
)

// Options configure a Transport. The zero value gives the defaults.
type Options struct {
	// Failures is how many consecutive failures of one host open its
	// breaker; 0 means DefaultFailures.
	Failures int
	// CoolDown is how long an open breaker refuses requests before it lets
	// one probe through; 0 means DefaultCoolDown. Tests use a few
	// milliseconds.
	CoolDown time.Duration
	// MaxHosts bounds the breakers kept; requests to further hosts pass
	// through unguarded. 0 means DefaultMaxHosts.
	MaxHosts int
	// OnStateChange, when set, is told of every change of a host's breaker
	// ("closed", "open", "half-open"), for logs and metrics. It must not
	// call back into the Transport.
	OnStateChange func(host, from, to string)
}

// ErrOpen is matched (errors.Is) by every refusal of an open breaker.
var ErrOpen = errors.New("breaker: circuit open")

// OpenError is the error RoundTrip returns for a request it refused
// because the host's breaker is open (or its one probe is in flight). The
// request was not sent.
type OpenError struct {
	// Host is the upstream host (host:port as in the URL).
	Host string
	// RetryIn is how long until the breaker lets a probe through; 0 when
	// the probe is already in flight.
	RetryIn time.Duration
}

// Error says which host is paused and for how long.
func (e *OpenError) Error() string {
	return "breaker: calls to " + e.Host + " paused for " + strconv.Itoa(seconds(e.RetryIn)) + " s: circuit open"
}

// Is matches ErrOpen.
func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// NotSent reports that the request never left the portal, so a POST, PATCH
// or DELETE refused this way certainly did not happen (ppapi honours it).
func (e *OpenError) NotSent() bool { return true }

// PausedFor is how long the portal pauses calls to the host, in whole
// seconds rounded up, at least one; for the page and Retry-After.
func (e *OpenError) PausedFor() time.Duration {
	return time.Duration(seconds(e.RetryIn)) * time.Second
}

func seconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Transport guards an http.RoundTripper with one breaker per request host.
// It is safe for concurrent use.
type Transport struct {
	next http.RoundTripper
	opts Options

	mu    sync.Mutex
	hosts map[string]*host
}

type host struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	openedAt atomic.Int64 // unix nanoseconds of the last opening
}

// New wraps next (http.DefaultTransport when nil).
func New(next http.RoundTripper, o Options) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	if o.Failures <= 0 {
		o.Failures = DefaultFailures
	}
	if o.CoolDown <= 0 {
		o.CoolDown = DefaultCoolDown
	}
	if o.MaxHosts <= 0 {
		o.MaxHosts = DefaultMaxHosts
	}
	return &Transport{next: next, opts: o, hosts: map[string]*host{}}
}

// Wrap returns a copy of c whose transport is guarded by a new Transport,
// and that Transport.
func Wrap(c *http.Client, o Options) (*http.Client, *Transport) {
	if c == nil {
		c = &http.Client{}
	}
	t := New(c.Transport, o)
	cp := *c
	cp.Transport = t
	return &cp, t
}

// host returns the breaker of h, creating it; nil when MaxHosts are
// already guarded.
func (t *Transport) host(h string) *host {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.hosts[h]; ok {
		return b
	}
	if len(t.hosts) >= t.opts.MaxHosts {
		return nil
	}
	b := &host{}
	failures := uint32(min(max(t.opts.Failures, 1), 1<<16)) // #nosec G115 -- clamped to [1, 65536] first
	notify := t.opts.OnStateChange
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        h,
		MaxRequests: 1,
		Timeout:     t.opts.CoolDown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, context.Canceled) || errors.Is(err, errThrottled) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.openedAt.Store(time.Now().UnixNano())
			}
			if notify != nil {
				notify(name, from.String(), to.String())
			}
		},
	})
	t.hosts[h] = b
	return b
}

// State reports the breaker state of a host ("closed", "open",
// "half-open"); "closed" for a host never called.
func (t *Transport) State(h string) string {
	t.mu.Lock()
	b, ok := t.hosts[h]
	t.mu.Unlock()
	if !ok {
		return gobreaker.StateClosed.String()
	}
	return b.cb.State().String()
}

// Reset forgets every breaker, closing them all (tests; an operator
// action).
func (t *Transport) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hosts = map[string]*host{}
}

// RoundTrip sends req unless its host's breaker is open, and reports the
// outcome to the breaker: at once for a transport error or a 5xx answer,
// else when the body has been read to its end, failed, or been closed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	b := t.host(req.URL.Host)
	if b == nil {
		return t.next.RoundTrip(req)
	}
	done, err := b.cb.Allow()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &OpenError{Host: req.URL.Host, RetryIn: t.retryIn(b)}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		done(err)
		return nil, err
	}
	switch {
	case resp.StatusCode >= 500:
		done(&statusError{status: resp.StatusCode})
		return resp, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		done(errThrottled)
		return resp, nil
	}
	resp.Body = &body{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// retryIn is how long until b lets a probe through.
func (t *Transport) retryIn(b *host) time.Duration {
	opened := b.openedAt.Load()
	if opened == 0 {
		return 0
	}
	return max(0, time.Until(time.Unix(0, opened).Add(t.opts.CoolDown)))
}

// errThrottled reports a 429 to the breaker, which excludes it.
var errThrottled = errors.New("breaker: upstream throttled")

// statusError is a 5xx answer, as the breaker counts it.
type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("breaker: upstream answered %d", e.status) }

// body reports the end of a response body to the breaker, once: success at
// EOF or on Close, failure when a read fails (reset, cut short, timed out).
type body struct {
	io.ReadCloser
	once sync.Once
	done func(error)
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.finish(nil)
	case err != nil:
		b.finish(err)
	}
	return n, err
}

func (b *body) Close() error {
	err := b.ReadCloser.Close()
	b.finish(nil)
	return err
}

func (b *body) finish(err error) {
	b.once.Do(func() { b.done(err) })
}
