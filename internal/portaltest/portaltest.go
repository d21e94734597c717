// Package portaltest runs a whole portal for tests: the dev identity
// provider, the simulator and the portal itself on loopback HTTP servers,
// wired exactly as `portal demo` wires them, plus a browser-like client that
// signs in through the identity provider's account picker.
package portaltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ppportal/internal/demoauth"
	"ppportal/internal/portal"
	"ppportal/ppapi/simulator"
)

// Env is a running portal with its identity provider and simulator.
type Env struct {
	URL    string
	Demo   *portal.Demo
	Portal *portal.Portal
	Server *httptest.Server

	settings portal.Settings
}

// Options adjust the environment.
type Options struct {
	Sim      simulator.Options
	Settings func(*portal.Settings)
}

// Start starts everything and stops it at the end of the test.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	if o.Sim.Seed == 0 {
		o.Sim.Seed = 1
	}
	if o.Sim.StepDuration == 0 {
		o.Sim.StepDuration = 50 * time.Millisecond
	}
	demo, err := portal.StartDemo(base, randomHex(16), o.Sim)
	if err != nil {
		t.Fatalf("StartDemo: %v", err)
	}
	t.Cleanup(demo.Close)
	s := demo.Settings(base)
	// Tests count upstream calls, so the per-user read cache is off unless a
	// test turns it on (calls are still coalesced).
	s.CacheTTL = -1
	key := []byte(randomHex(32))
	s.SessionKeyPairs = [][]byte{key[:32], key[32:]}
	s.EncryptionKey = []byte(randomHex(16))
	if o.Settings != nil {
		o.Settings(&s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := portal.Build(ctx, s)
	if err != nil {
		t.Fatalf("portal.Build: %v", err)
	}
	srv.Config.Handler = p.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	return &Env{URL: base, Demo: demo, Portal: p, Server: srv, settings: s}
}

// AddReplica starts another portal process-equivalent with the same
// settings (same external URL, keys, identity provider, simulator and, when
// configured, Redis), as a replica behind a load balancer would be, and
// returns its URL and the portal.
func (e *Env) AddReplica(t testing.TB) (string, *portal.Portal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := portal.Build(ctx, e.settings)
	if err != nil {
		t.Fatalf("portal.Build: %v", err)
	}
	srv := httptest.NewServer(p.Handler)
	t.Cleanup(srv.Close)
	return srv.URL, p
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Browser is a cookie-keeping client that does not follow redirects on
// its own, so tests see every hop.
type Browser struct {
	t      testing.TB
	env    *Env
	Client *http.Client
}

// NewBrowser returns a browser with an empty cookie jar.
func (e *Env) NewBrowser(t testing.TB) *Browser {
	return &Browser{t: t, env: e, Client: demoauth.NewClient(20 * time.Second)}
}

// Response is a read response.
type Response struct {
	*http.Response
	Body string
}

// Doc parses the body as HTML.
func (r *Response) Doc() *goquery.Document {
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.Body))
	if err != nil {
		panic(err)
	}
	return d
}

// Do sends req and reads the whole body.
func (b *Browser) Do(req *http.Request) *Response {
	b.t.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return &Response{Response: resp, Body: string(body)}
}

// Get fetches a path of the portal (or an absolute URL) with extra headers
// given as name, value pairs.
func (b *Browser) Get(path string, headers ...string) *Response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(path), nil)
	if err != nil {
		b.t.Fatalf("NewRequest: %v", err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.Do(req)
}

// Post posts a form to a path of the portal as a same-origin browser would
// (Sec-Fetch-Site same-origin), with extra headers as name, value pairs.
func (b *Browser) Post(path string, form url.Values, headers ...string) *Response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatalf("NewRequest: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.env.URL)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.Do(req)
}

func (b *Browser) abs(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return b.env.URL + path
}

// Follow follows redirects from r, up to 10 hops, and returns the last
// response.
func (b *Browser) Follow(r *Response) *Response {
	b.t.Helper()
	for i := 0; i < 10 && r.StatusCode >= 300 && r.StatusCode < 400; i++ {
		loc, err := r.Request.URL.Parse(r.Header.Get("Location"))
		if err != nil {
			b.t.Fatalf("bad Location %q", r.Header.Get("Location"))
		}
		r = b.Get(loc.String())
	}
	return r
}

// SignIn signs in as the account with the given UPN through the identity
// provider's picker, starting from path, and returns the response of the
// page the portal lands on.
func (b *Browser) SignIn(path, upn string) *Response {
	b.t.Helper()
	r := b.Follow(b.Get(path))
	if !strings.HasPrefix(r.Request.URL.String(), b.env.Demo.IDPURL) {
		b.t.Fatalf("SignIn(%q): landed on %s (status %d), want the identity provider's picker", path, r.Request.URL, r.StatusCode)
	}
	return b.Pick(r, upn)
}

// Pick chooses the account upn on an identity-provider picker page and
// follows the redirects back into the portal.
func (b *Browser) Pick(picker *Response, upn string) *Response {
	b.t.Helper()
	req, err := demoauth.PickRequest(picker.Request.URL, strings.NewReader(picker.Body), upn)
	if err != nil {
		b.t.Fatalf("Pick: %v", err)
	}
	return b.Follow(b.Do(req))
}

// CSRF returns the session's cross-site token, read from a page's hidden
// sign-out field.
func (b *Browser) CSRF() string {
	b.t.Helper()
	r := b.Get("/signedout")
	tok, ok := r.Doc().Find("input[name=csrf]").Attr("value")
	if !ok || tok == "" {
		b.t.Fatalf("CSRF: no token on the page (signed in?)")
	}
	return tok
}

// String helps failure messages.
func (r *Response) String() string {
	return fmt.Sprintf("%d %s", r.StatusCode, r.Request.URL)
}
