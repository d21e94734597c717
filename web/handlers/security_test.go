package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"ppportal/internal/portal"
	"ppportal/internal/portaltest"
	"ppportal/internal/redistest"
)

// routeParams fills a route's path parameters with ids of the seeded
// tenant, so every page can be visited.
func routeParams(t *testing.T, env *portaltest.Env, path string) string {
	t.Helper()
	sim := env.Demo.Sim
	wfEnv, wf := sim.BusyWorkflow()
	const someGUID = "0b5e7a1c-4d2f-4e8a-9c3b-6f1d2e3a4b5c"
	envID := sim.MainEnvironmentID()
	if strings.Contains(path, ":workflowId") || strings.Contains(path, "/flows/") {
		envID = wfEnv
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if !strings.HasPrefix(p, ":") && p != "*" {
			continue
		}
		switch {
		case strings.Contains(strings.ToLower(p), "workflow"):
			parts[i] = wf
		case strings.HasPrefix(path, "/environments/") && i == 2:
			parts[i] = envID
		default:
			parts[i] = someGUID
		}
	}
	return strings.Join(parts, "/")
}

func routesOf(t *testing.T, env *portaltest.Env) []*echo.Route {
	t.Helper()
	e, ok := env.Portal.Handler.(*echo.Echo)
	if !ok {
		t.Fatalf("the portal's handler is %T, want *echo.Echo", env.Portal.Handler)
	}
	return e.Routes()
}

// TestEveryStateChangingRouteNeedsCrossSiteProof enumerates the router, so
// a new POST/PUT/PATCH/DELETE route is covered without being listed: each
// must refuse a request without the session-bound token, and requests a
// browser marks cross-site or same-site, or whose Origin is foreign, even
// with the token; and none of them may reach Power Platform.
func TestEveryStateChangingRouteNeedsCrossSiteProof(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	token := b.CSRF()
	env.Demo.Sim.ResetCalls()
	oboBefore := env.Demo.IDP.Count("token:obo")

	checked := 0
	for _, rt := range routesOf(t, env) {
		switch rt.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue
		}
		checked++
		path := routeParams(t, env, rt.Path)
		attacks := []struct {
			name    string
			form    url.Values
			headers []string
		}{
			{"no token", url.Values{}, nil},
			{"wrong token", url.Values{"csrf": {"x" + token[1:]}}, nil},
			{"cross-site", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "cross-site"}},
			{"same-site", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "same-site"}},
			{"foreign origin", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
			{"null origin", url.Values{"csrf": {token}}, []string{"Sec-Fetch-Site", "", "Origin", "null"}},
		}
		for _, a := range attacks {
			req, _ := http.NewRequest(rt.Method, env.URL+path, strings.NewReader(a.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.Header.Set("Origin", env.URL)
			for i := 0; i+1 < len(a.headers); i += 2 {
				if a.headers[i+1] == "" {
					req.Header.Del(a.headers[i])
				} else {
					req.Header.Set(a.headers[i], a.headers[i+1])
				}
			}
			r := b.Do(req)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s with %s = %d, want 403", rt.Method, path, a.name, r.StatusCode)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no state-changing routes found: the enumeration is broken")
	}
	if n := env.Demo.Sim.Calls(""); n != 0 {
		t.Errorf("upstream calls during refused requests = %d, want 0", n)
	}
	if n := env.Demo.IDP.Count("token:obo") - oboBefore; n != 0 {
		t.Errorf("OBO exchanges during refused requests = %d, want 0", n)
	}
}

var (
	jwtShape     = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.`)
	bearerHeader = regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9._-]{20,}`)
)

// TestNoTokenReachesTheBrowser signs in, visits every GET page of the
// router and the sign-in hops, and scans every body, header and cookie for
// JWT-shaped strings and the session's refresh token (SECURITY.md G1).
func TestNoTokenReachesTheBrowser(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)

	var seen []*portaltest.Response
	r := b.Get("/environments")
	seen = append(seen, r)
	for i := 0; i < 10 && r.StatusCode >= 300 && r.StatusCode < 400; i++ {
		loc, _ := r.Request.URL.Parse(r.Header.Get("Location"))
		r = b.Get(loc.String())
		seen = append(seen, r)
	}
	landed := b.Pick(r, "admin@contoso.example")
	seen = append(seen, landed)

	// The session's own tokens, to look for them literally.
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/environments", nil)
	for _, c := range b.Client.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	s, err := env.Portal.Sessions.Load(req)
	if err != nil || s == nil {
		t.Fatalf("loading the signed-in session: %v, %v", s, err)
	}
	secrets := []string{s.Tokens().AccessToken, s.Tokens().RefreshToken, s.Tokens().IDToken}

	visited := 0
	for _, rt := range routesOf(t, env) {
		if rt.Method != http.MethodGet || strings.HasPrefix(rt.Path, "/static") {
			continue
		}
		path := routeParams(t, env, rt.Path)
		seen = append(seen, b.Get(path), b.Get(path, "HX-Request", "true"))
		visited++
	}
	if visited < 5 {
		t.Fatalf("visited %d GET routes, want the whole router", visited)
	}
	for _, resp := range seen {
		var all strings.Builder
		all.WriteString(resp.Body)
		for k, vs := range resp.Header {
			all.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
		}
		text := all.String()
		if m := jwtShape.FindString(text); m != "" {
			t.Errorf("%s: JWT-shaped string in the response: %.40s...", resp, m)
		}
		if m := bearerHeader.FindString(text); m != "" {
			t.Errorf("%s: bearer token in the response", resp)
		}
		for _, sec := range secrets {
			if sec != "" && strings.Contains(text, sec) {
				t.Errorf("%s: a session token appears in the response", resp)
			}
		}
	}
	for _, c := range b.Client.Jar.Cookies(req.URL) {
		if len(c.Value) > 256 {
			t.Errorf("cookie %s is %d bytes, want <= 256", c.Name, len(c.Value))
		}
		if jwtShape.MatchString(c.Value) {
			t.Errorf("cookie %s holds a JWT", c.Name)
		}
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	for _, p := range []string{"/environments", "/environments/not-a-guid", "/no-such-page", "/signedout"} {
		r := b.Get(p)
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP allows unsafe-inline or unsafe-eval: %q", p, csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", p, h, got, want)
			}
		}
		if strings.Contains(r.Body, " style=") || strings.Contains(r.Body, "<script>") {
			t.Errorf("GET %s: inline style or script in the page (the CSP would block it)", p)
		}
		nonce := strings.TrimSuffix(strings.SplitN(strings.SplitN(csp, "'nonce-", 2)[1], "'", 2)[0], "'")
		if strings.Contains(r.Body, "<script") && !strings.Contains(r.Body, `nonce="`+nonce+`"`) {
			t.Errorf("GET %s: scripts do not carry this response's nonce", p)
		}
	}
}

func TestInteractionRequiredRoundTripEndsOnTheOriginalPage(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	page := "/environments/" + env.Demo.Sim.MainEnvironmentID()

	// Sign-in succeeds, then the first OBO exchange asks for MFA: the
	// portal sends the browser through sign-in again with the claims, and
	// it lands back on the same page, now served.
	r := b.Follow(b.Get(page))
	r = b.Pick(r, "mfa@contoso.example")
	if !strings.HasPrefix(r.Request.URL.String(), env.Demo.IDPURL) {
		t.Fatalf("after the first sign-in: %s, want the identity provider again (claims challenge)", r)
	}
	if !strings.Contains(r.Request.URL.RawQuery, "claims=") {
		t.Errorf("second authorize request %s carries no claims parameter", r.Request.URL)
	}
	r = b.Pick(r, "mfa@contoso.example")
	if r.StatusCode != http.StatusOK || r.Request.URL.RequestURI() != page {
		t.Fatalf("after the step-up: %s, want 200 on %s", r, page)
	}
}

func TestConsentRequiredShowsItsPage(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	r := b.SignIn("/environments", "noconsent@contoso.example")
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "Admin consent needed") || !strings.Contains(r.Body, "Grant admin consent") {
		t.Errorf("noconsent user: %s, want 403 with the consent explanation; %.300s", r, r.Body)
	}
}

func TestReaderGetsTheForbiddenExplanation(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	r := b.SignIn("/environments", "reader@contoso.example")
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.Body, "administrator role") {
		t.Errorf("reader: %s, want 403 explaining the admin role; %.300s", r, r.Body)
	}
}

func TestSignOutEndsTheSessionServerSide(t *testing.T) {
	env := portaltest.Start(t, portaltest.Options{})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")
	u, _ := url.Parse(env.URL)
	old := b.Client.Jar.Cookies(u)

	r := b.Post("/signout", url.Values{"csrf": {b.CSRF()}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), env.Demo.IDPURL) {
		t.Fatalf("POST /signout = %d Location %q, want 303 to the identity provider's end-session endpoint", r.StatusCode, r.Header.Get("Location"))
	}
	// Replaying the old cookie finds no session.
	replay := env.NewBrowser(t)
	replay.Client.Jar.SetCookies(u, old)
	if r := replay.Get("/environments"); r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/signin") {
		t.Errorf("replayed cookie after sign-out: %d %q, want a redirect to sign-in", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestRedisSessionIsSharedByReplicas(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	opt, err := redis.ParseURL(addr)
	if err != nil {
		t.Fatal(err)
	}
	env := portaltest.Start(t, portaltest.Options{Settings: func(s *portal.Settings) {
		s.Redis = redis.NewClient(opt)
	}})
	b := env.NewBrowser(t)
	b.SignIn("/environments", "admin@contoso.example")

	other, _ := env.AddReplica(t)
	r := b.Get(other + "/environments")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("the second replica: %s, want 200 with the session from the first", r)
	}

	// A session id the browser invents is never adopted.
	stranger := env.NewBrowser(t)
	u, _ := url.Parse(env.URL)
	stranger.Client.Jar.SetCookies(u, []*http.Cookie{{Name: env.Portal.Sessions.CookieName(), Value: "MTY5OTk5OTk5OXxpbnZlbnRlZHw=", Path: "/"}})
	if r := stranger.Get(other + "/environments"); r.StatusCode != http.StatusFound {
		t.Errorf("invented cookie: %s, want a redirect to sign-in", r)
	}
}
