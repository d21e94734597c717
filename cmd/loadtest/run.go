package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/PuerkitoBio/goquery"

	"ppportal/internal/demoauth"
	"ppportal/internal/portal"
	"ppportal/ppapi/simulator"
	"ppportal/session"
)

// Bounds on the flags: the tool must stop by itself and stay small.
const (
	maxDuration     = 60 * time.Second
	maxClients      = 500
	maxEnvironments = 50_000
	maxSessions     = 20_000
	maxLatency      = 5 * time.Second
	requestTimeout  = 30 * time.Second
	signInParallel  = 8
	adminUPN        = "admin@contoso.example"
	listQuery       = "?api-version=2020-10-01&$expand=properties.capacity,properties.addons"
	envsPath        = "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments"
)

// config is the command line.
type config struct {
	Clients      int
	Duration     time.Duration
	Environments int
	PageSize     int
	Page         string
	Latency      time.Duration
	Sessions     int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Clients, "clients", 20, "concurrent signed-in clients (1-500)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long each load phase runs (at most 60s)")
	fs.IntVar(&c.Environments, "environments", 1000, "environments in the simulated tenant (14-50000)")
	fs.IntVar(&c.PageSize, "page-size", 0, "the simulator's list page length (0: its default, 100)")
	fs.StringVar(&c.Page, "page", "/environments", "the portal page to drive (a local path that answers 200)")
	fs.DurationVar(&c.Latency, "latency", 0, "latency the simulator adds to every response (at most 5s)")
	fs.IntVar(&c.Sessions, "sessions", 1000, "signed-in sessions for the memory measure (0: skip)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, "unexpected arguments: "+strings.Join(fs.Args(), " "))
	}
	if c.Clients < 1 || c.Clients > maxClients {
		problems = append(problems, fmt.Sprintf("-clients must be 1 to %d", maxClients))
	}
	if c.Duration <= 0 || c.Duration > maxDuration {
		problems = append(problems, fmt.Sprintf("-duration must be more than 0 and at most %s", maxDuration))
	}
	if c.Environments < 14 || c.Environments > maxEnvironments {
		problems = append(problems, fmt.Sprintf("-environments must be 14 to %d", maxEnvironments))
	}
	if c.PageSize < 0 || c.PageSize > maxEnvironments {
		problems = append(problems, fmt.Sprintf("-page-size must be 0 to %d", maxEnvironments))
	}
	if u, err := url.Parse(c.Page); err != nil || !strings.HasPrefix(c.Page, "/") || strings.HasPrefix(c.Page, "//") || u.Host != "" {
		problems = append(problems, "-page must be a local path such as /environments")
	}
	if c.Latency < 0 || c.Latency > maxLatency {
		problems = append(problems, fmt.Sprintf("-latency must be 0 to %s", maxLatency))
	}
	if c.Sessions < 0 || c.Sessions > maxSessions {
		problems = append(problems, fmt.Sprintf("-sessions must be 0 to %d", maxSessions))
	}
	if len(problems) > 0 {
		return c, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	demo, err := portal.StartDemo(base, randomHex(24), simulator.Options{
		Seed: 1, Environments: cfg.Environments, PageSize: cfg.PageSize, Latency: cfg.Latency,
	})
	if err != nil {
		ln.Close()
		return err
	}
	defer demo.Close()

	build := func(ttl time.Duration) (*portal.Portal, error) {
		s := demo.Settings(base)
		s.SessionKeyPairs = [][]byte{randomBytes(32), randomBytes(32)}
		s.EncryptionKey = randomBytes(32)
		s.CacheTTL = ttl
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return portal.Build(bctx, s)
	}
	uncached, err := build(-1)
	if err != nil {
		ln.Close()
		return err
	}
	cached, err := build(30 * time.Second)
	if err != nil {
		ln.Close()
		return err
	}
	fr := &front{}
	fr.use(uncached)
	srv := &http.Server{Handler: fr, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln)
	defer srv.Close()

	pageSize := cfg.PageSize
	if pageSize == 0 {
		pageSize = 100
	}
	fmt.Fprintf(stdout, "loadtest: %d clients, %s per phase, %d environments (simulator pages of %d, latency %s), page %s\n",
		cfg.Clients, cfg.Duration, cfg.Environments, pageSize, cfg.Latency, cfg.Page)
	fmt.Fprintf(stdout, "machine: %d CPUs (GOMAXPROCS %d), %s %s/%s\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)

	// Phase 1: the page, every request reaching the simulator.
	clients, err := signIn(ctx, base, demo.IDPURL, cfg.Page, cfg.Clients)
	if err != nil {
		return err
	}
	if err := warm(ctx, clients, base+cfg.Page); err != nil {
		return err
	}
	demo.Sim.ResetCalls()
	rec := fr.record(cfg.Page)
	page := drive(ctx, cfg.Duration, len(clients), func(ctx context.Context, i int) (int, int, error) {
		n, err := getPage(ctx, clients[i], base+cfg.Page)
		return n, 1, err
	})
	fr.stop()
	upstreamCalls := demo.Sim.Calls("")
	pageServer := rec.durations()
	page.print(stdout, "portal page, read cache off (upstream on every request)", "pages")
	fmt.Fprintf(stdout, "  server time (around the portal's handler, upstream included): %s\n", percentiles(pageServer))
	if page.n > 0 {
		fmt.Fprintf(stdout, "  upstream requests per page: %.2f (%d for %d pages; concurrent identical requests of one user share one call)\n",
			float64(upstreamCalls)/float64(page.n), upstreamCalls, page.n)
	}

	// Phase 2: the simulator's raw list, same data, same concurrency.
	tokens := make([]string, len(clients))
	for i, c := range clients {
		if tokens[i], err = bearer(ctx, uncached, c, base); err != nil {
			return err
		}
	}
	rawClient := &http.Client{Transport: newTransport(len(clients), nil), Timeout: requestTimeout}
	listURL := demo.SimURL + envsPath + listQuery
	raw := drive(ctx, cfg.Duration, len(clients), func(ctx context.Context, i int) (int, int, error) {
		return getList(ctx, rawClient, listURL, demo.SimURL, tokens[i])
	})
	raw.print(stdout, "simulator raw list (same data, same concurrency, following nextLinks)", "lists")
	if raw.rate() > 0 {
		fmt.Fprintf(stdout, "  upstream requests per list: %.2f\n", float64(raw.parts)/float64(max(raw.n, 1)))
		fmt.Fprintf(stdout, "\nportal/raw throughput: %.1f%%  (target >= 50%% at 1,000 environments)\n\n", 100*page.rate()/raw.rate())
	}

	// Phase 3: the page with the read cache on and warm: the portal's own
	// work, no upstream call.
	fr.use(cached)
	clients, err = signIn(ctx, base, demo.IDPURL, cfg.Page, cfg.Clients)
	if err != nil {
		return err
	}
	if err := warm(ctx, clients, base+cfg.Page); err != nil {
		return err
	}
	demo.Sim.ResetCalls()
	rec = fr.record(cfg.Page)
	own := drive(ctx, cfg.Duration, len(clients), func(ctx context.Context, i int) (int, int, error) {
		n, err := getPage(ctx, clients[i], base+cfg.Page)
		return n, 1, err
	})
	fr.stop()
	ownServer := rec.durations()
	own.print(stdout, "portal page, read cache on and warm (no upstream call)", "pages")
	fmt.Fprintf(stdout, "  server time (the portal's own work, upstream excluded): %s  (target p50 <= 2ms)\n", percentiles(ownServer))
	fmt.Fprintf(stdout, "  upstream requests during the phase: %d (30 s cache; a phase over 30 s refills it)\n\n", demo.Sim.Calls(""))

	// Memory per signed-in session.
	if cfg.Sessions > 0 {
		if err := sessionMemory(ctx, stdout, build, cached, clients[0], base, cfg.Sessions); err != nil {
			return err
		}
	}

	// First page load, compressed, on a fresh connection.
	return firstLoad(ctx, stdout, clients[0], base, cfg.Page)
}

// front serves the portal in use and times requests for one path while a
// phase records.
type front struct {
	h   atomic.Pointer[http.Handler]
	rec atomic.Pointer[recorder]
}

func (f *front) use(p *portal.Portal) { f.h.Store(&p.Handler) }

func (f *front) record(path string) *recorder {
	r := &recorder{path: path}
	f.rec.Store(r)
	return r
}

func (f *front) stop() { f.rec.Store(nil) }

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := f.rec.Load()
	start := time.Now()
	(*f.h.Load()).ServeHTTP(w, r)
	if rec != nil && r.URL.RequestURI() == rec.path {
		rec.add(time.Since(start))
	}
}

type recorder struct {
	path string
	mu   sync.Mutex
	d    []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

func (r *recorder) durations() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.d)
}

// newTransport is a keep-alive transport for n concurrent clients that
// leaves responses compressed, so byte counts are wire bytes.
func newTransport(n int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 5 * time.Second}).DialContext
	}
	return &http.Transport{
		DialContext: dial, MaxIdleConns: n + 8, MaxIdleConnsPerHost: n + 8,
		IdleConnTimeout: time.Minute, DisableCompression: true,
	}
}

// signIn signs n clients in as the demo admin, a few at a time, each with
// its own cookie jar.
func signIn(ctx context.Context, base, idpURL, page string, n int) ([]*http.Client, error) {
	tr := newTransport(n, nil)
	clients := make([]*http.Client, n)
	errs := make([]error, n)
	sem := make(chan struct{}, signInParallel)
	var wg sync.WaitGroup
	for i := range clients {
		c := demoauth.NewClient(requestTimeout)
		c.Transport = tr
		clients[i] = c
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, errs[i] = demoauth.SignIn(ctx, c, base, page, idpURL, adminUPN)
		}()
	}
	wg.Wait()
	return clients, errors.Join(errs...)
}

// warm fetches the page once per client.
func warm(ctx context.Context, clients []*http.Client, u string) error {
	for _, c := range clients {
		if _, err := getPage(ctx, c, u); err != nil {
			return fmt.Errorf("warming %s: %w", u, err)
		}
	}
	return nil
}

// getPage fetches u as a browser would (gzip accepted) and returns the
// bytes received.
func getPage(ctx context.Context, c *http.Client, u string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil) // #nosec G704 -- the load tool's own loopback target, from its flags
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req) // #nosec G704 -- as above: loopback only, built from the tool's own listeners
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return int(n), err
	}
	if resp.StatusCode != http.StatusOK {
		return int(n), fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return int(n), nil
}

// nextLinkKey is how the simulator (and BAP) name the next page.
var nextLinkKey = []byte(`"@odata.nextLink":`)

// getList fetches the whole raw list from first, following nextLinks on
// the simulator's origin, and returns the bytes and pages received.
func getList(ctx context.Context, c *http.Client, first, origin, token string) (int, int, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	total, pages := 0, 0
	for u := first; u != ""; {
		if pages == 1000 {
			return total, pages, errors.New("more than 1,000 pages")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return total, pages, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := c.Do(req)
		if err != nil {
			return total, pages, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		total += len(body)
		pages++
		if err != nil {
			return total, pages, err
		}
		if resp.StatusCode != http.StatusOK {
			return total, pages, fmt.Errorf("GET %s: %d", u, resp.StatusCode)
		}
		u = ""
		if i := bytes.LastIndex(body, nextLinkKey); i >= 0 {
			var link string
			dec := json.NewDecoder(bytes.NewReader(body[i+len(nextLinkKey):]))
			if err := dec.Decode(&link); err != nil {
				return total, pages, fmt.Errorf("nextLink: %w", err)
			}
			if !strings.HasPrefix(link, origin+"/") {
				return total, pages, fmt.Errorf("nextLink %q leaves %s", link, origin)
			}
			u = link
		}
	}
	return total, pages, nil
}

// bearer gets the BAP token of c's session through the portal's broker, as
// the portal's own client does.
func bearer(ctx context.Context, p *portal.Portal, c *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/environments", nil)
	if err != nil {
		return "", err
	}
	for _, ck := range c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	sess, err := p.Sessions.Load(req)
	if err != nil || sess == nil {
		return "", fmt.Errorf("loading a client's session: %v", err)
	}
	return p.Broker.Token(session.WithHolder(ctx, sess), portal.BAPScope)
}

// stats is one phase's outcome.
type stats struct {
	lat     []time.Duration
	n       int   // completed units (pages or lists)
	parts   int   // requests making them up
	errs    int   // failed units
	bytes   int64 // over completed units
	elapsed time.Duration
	heap    uint64 // heap in use at the end
}

func (s stats) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.n) / s.elapsed.Seconds()
}

func (s stats) print(w io.Writer, title, unit string) {
	fmt.Fprintf(w, "%s\n", title)
	fmt.Fprintf(w, "  %d %s in %s: %.0f %s/s, %d errors\n", s.n, unit, s.elapsed.Round(time.Millisecond), s.rate(), unit, s.errs)
	fmt.Fprintf(w, "  latency (client side): %s\n", percentiles(s.lat))
	if s.n > 0 {
		fmt.Fprintf(w, "  bytes per response: %d (as sent, compressed when the server compresses)\n", s.bytes/int64(s.n))
	}
	fmt.Fprintf(w, "  Go heap in use at the end: %.1f MiB (whole process: portal, simulator, identity provider, clients)\n", float64(s.heap)/(1<<20))
}

// drive runs do from n workers until d has passed (requests under way then
// finish) and gathers latencies. do returns the bytes and requests of one
// unit.
func drive(ctx context.Context, d time.Duration, n int, do func(ctx context.Context, i int) (int, int, error)) stats {
	type part struct {
		lat          []time.Duration
		errs, parts  int
		bytes        int64
		completedOne int
	}
	parts := make([]part, n)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[i]
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				b, k, err := do(ctx, i)
				el := time.Since(t0)
				p.parts += k
				if err != nil {
					p.errs++
					continue
				}
				p.lat = append(p.lat, el)
				p.bytes += int64(b)
				p.completedOne++
			}
		}()
	}
	wg.Wait()
	var s stats
	s.elapsed = time.Since(start)
	for _, p := range parts {
		s.lat = append(s.lat, p.lat...)
		s.errs += p.errs
		s.parts += p.parts
		s.bytes += p.bytes
		s.n += p.completedOne
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.heap = ms.HeapInuse
	return s
}

// percentiles formats p50, p90, p99 and max (nearest rank).
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	d = slices.Clone(d)
	slices.Sort(d)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.5) - 1
		return d[min(max(i, 0), len(d)-1)]
	}
	r := func(x time.Duration) string { return x.Round(time.Microsecond).String() }
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s (n=%d)", r(at(.50)), r(at(.90)), r(at(.99)), r(d[len(d)-1]), len(d))
}

// sessionMemory starts n sessions on a fresh portal, each with its own copy
// of a real signed-in session's tokens, and reports the live heap they add.
func sessionMemory(ctx context.Context, w io.Writer, build func(time.Duration) (*portal.Portal, error), from *portal.Portal, c *http.Client, base string, n int) error {
	p, err := build(-1)
	if err != nil {
		return err
	}
	// A real session's tokens, from the portal c signed in to.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/environments", nil)
	if err != nil {
		return err
	}
	for _, ck := range c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	src, err := from.Sessions.Load(req)
	if err != nil || src == nil {
		return fmt.Errorf("loading a client's session: %v", err)
	}
	toks, user := src.Tokens(), src.User()
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/auth/callback", nil)
	// The heap is shared with the load phases' leftovers (connections
	// closing, caches expiring), which can free memory during the
	// measurement: let it settle first, and measure again, on a fresh
	// portal, while the difference comes out negative.
	var delta float64
	for try := 0; try < 3; try++ {
		if try > 0 {
			if p, err = build(-1); err != nil {
				return err
			}
		}
		var before, after runtime.MemStats
		runtime.GC()
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			in := &session.SignIn{
				User: session.User{
					OID: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), TenantID: user.TenantID,
					UPN: fmt.Sprintf("user%d@contoso.example", i), Name: fmt.Sprintf("Load User %d", i),
				},
				Tokens: session.Tokens{
					AccessToken: strings.Clone(toks.AccessToken), RefreshToken: strings.Clone(toks.RefreshToken),
					IDToken: strings.Clone(toks.IDToken), Expiry: toks.Expiry,
				},
				AuthTime: time.Now(),
			}
			if _, err := p.Sessions.Start(discardWriter{}, r, in); err != nil {
				return fmt.Errorf("starting session %d: %w", i, err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(p)
		delta = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		if delta > 0 {
			break
		}
	}
	fmt.Fprintf(w, "memory per signed-in session (%d sessions, in-memory store; tokens: access %d B, refresh %d B, id %d B)\n",
		n, len(toks.AccessToken), len(toks.RefreshToken), len(toks.IDToken))
	fmt.Fprintf(w, "  live heap delta %.0f B / %d = %.0f B per session  (target <= 10 KB)\n\n", delta, n, delta/float64(n))
	return nil
}

// discardWriter is a ResponseWriter that drops everything (Start sets a
// cookie).
type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// firstLoad fetches the page, its stylesheets, scripts and icon on a fresh
// connection with gzip accepted, and reports what crossed the wire.
func firstLoad(ctx context.Context, w io.Writer, signedIn *http.Client, base, page string) error {
	var read, written atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: conn, read: &read, written: &written}, nil
	}
	c := &http.Client{
		Jar: signedIn.Jar, Transport: newTransport(1, dial), Timeout: requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	fetch := func(u string) (body []byte, wire int, enc string, err error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, 0, "", err
		}
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := c.Do(req)
		if err != nil {
			return nil, 0, "", err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, 0, "", err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, 0, "", fmt.Errorf("GET %s: %d", u, resp.StatusCode)
		}
		enc = resp.Header.Get("Content-Encoding")
		body = raw
		if enc == "gzip" {
			if body, err = gunzip(raw); err != nil {
				return nil, 0, "", err
			}
			// A body still gzipped after one decoding was compressed
			// twice: a browser would see the inner gzip as the content.
			if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
				enc = "gzip TWICE: broken for browsers"
				if body, err = gunzip(body); err != nil {
					return nil, 0, "", err
				}
			}
		}
		return body, len(raw), enc, nil
	}
	html, wire, enc, err := fetch(base + page)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "first page load of %s (fresh connection, Accept-Encoding: gzip)\n", page)
	fmt.Fprintf(w, "  %-48s %7d B on the wire (%s), %7d B uncompressed\n", page, wire, encName(enc), len(html))
	total, totalRaw := wire, len(html)
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(html))
	if err != nil {
		return err
	}
	var assets, scripts []string
	doc.Find("link[rel=stylesheet], link[rel=icon], script").Each(func(_ int, s *goquery.Selection) {
		if goquery.NodeName(s) == "script" {
			src, ok := s.Attr("src")
			if !ok {
				src = "(inline)"
			}
			scripts = append(scripts, src)
		}
		for _, a := range []string{"href", "src"} {
			if v, ok := s.Attr(a); ok && v != "" {
				assets = append(assets, v)
			}
		}
	})
	pu, _ := url.Parse(base + page)
	for _, a := range assets {
		u, err := pu.Parse(a)
		if err != nil {
			return err
		}
		body, wire, enc, err := fetch(u.String())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-48s %7d B on the wire (%s), %7d B uncompressed\n", u.Path, wire, encName(enc), len(body))
		total += wire
		totalRaw += len(body)
	}
	fmt.Fprintf(w, "  total bodies: %d B compressed (%.1f KB), %d B uncompressed  (target <= 60 KB compressed)\n", total, float64(total)/1024, totalRaw)
	fmt.Fprintf(w, "  bytes read from the socket, headers included: %d B; sent: %d B\n", read.Load(), written.Load())
	fmt.Fprintf(w, "  scripts: %s\n", strings.Join(scripts, ", "))
	return nil
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, 64<<20))
}

func encName(enc string) string {
	if enc == "" {
		return "identity"
	}
	return enc
}

// countingConn counts the bytes read and written.
type countingConn struct {
	net.Conn
	read, written *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }
