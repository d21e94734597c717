package session

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// openRedirectVectors are return targets that must never be followed.
// Modelled on oauth2-proxy's validator tests and Microsoft.Identity.Web's
// local-URL check (SECURITY.md §1.6, §2.3, §3.1 item 24).
var openRedirectVectors = []string{
	// empty and relative
	"",
	"environments",
	"./environments",
	"../environments",
	"?sku=Sandbox",
	"#/environments",
	"evil.example",
	"evil.example/path",
	// absolute URLs and schemes
	"https://evil.example",
	"http://evil.example/environments",
	"HTTPS://evil.example",
	"http:evil.example",
	"https:/evil.example",
	"http:/\\evil.example",
	"javascript:alert(1)",
	"JaVaScRiPt:alert(1)",
	"javascript://%0aalert(1)",
	"data:text/html,<script>alert(1)</script>",
	"vbscript:msgbox(1)",
	"mailto:admin@evil.example",
	"ftp://evil.example",
	// network-path references and backslash variants
	"//evil.example",
	"///evil.example",
	"////evil.example",
	"//evil.example/environments",
	"//evil.example@portal.example",
	"/\\evil.example",
	"\\/evil.example",
	"\\\\evil.example",
	"\\evil.example",
	"/\\/evil.example",
	"/environments\\..\\..\\evil",
	// whitespace and control characters (browsers strip tab, CR, LF)
	" //evil.example",
	"\t//evil.example",
	"/\t/evil.example",
	"/\n/evil.example",
	"/\r/evil.example",
	"/\r\nSet-Cookie: x=y",
	"/environments\x00",
	"/\x0b/evil.example",
	"/\x7f",
	"/ /evil.example",
	"/environments?q=a b",
	// percent-encoded tricks
	"/%2f%2fevil.example",
	"/%2F%2Fevil.example",
	"%2f%2fevil.example",
	"/%2fevil.example",
	"/%5cevil.example",
	"/%5Cevil.example",
	"/%252f%252fevil.example",
	"/%25252f%25252fevil.example",
	"/%09/evil.example",
	"/%0d%0aSet-Cookie:x=y",
	"/%00",
	"/%zz",
	"/environments%",
	// dot segments and empty segments
	"/..//evil.example",
	"/../evil.example",
	"/./environments",
	"/environments/../../evil",
	"/environments/..",
	"/.%2e/evil.example",
	"/%2e%2e//evil.example",
	"/%2e%2e/%2e%2e/evil",
	"/a//evil.example",
	// fragments, non-ASCII, length
	"/environments#//evil.example",
	"/envirönments",
	"/\u2215\u2215evil.example",
	"/\uff0f\uff0fevil.example",
	"/environments?q=" + strings.Repeat("a", maxReturnLen),
}

func TestSafeReturnRefuses(t *testing.T) {
	if n := len(openRedirectVectors); n < 60 {
		t.Fatalf("only %d open-redirect vectors, want >= 60 (SECURITY.md G5)", n)
	}
	for _, raw := range openRedirectVectors {
		if got, ok := SafeReturn(raw); ok || got != "" {
			t.Errorf("SafeReturn(%q) = %q, %v; want \"\", false", raw, got, ok)
		}
	}
}

func TestSafeReturnAccepts(t *testing.T) {
	for _, raw := range []string{
		"/",
		"/environments",
		"/environments/",
		"/environments?sku=Sandbox",
		"/environments?q=&sku=Sandbox&region=&state=&sort=name&dir=desc&page=2",
		"/environments?q=a%2Fb",
		"/environments?q=%2F%2Fevil.example",
		"/environments?next=//evil.example",
		"/environments?q=%E2%9C%93",
		"/environments/Default-11111111-2222-3333-4444-555555555555",
		"/environments/11111111-2222-3333-4444-555555555555/applications",
		"/environments/11111111-2222-3333-4444-555555555555/operations/op-1",
		"/environments/e1/flows/11111111-2222-3333-4444-555555555555/runs?status=Failed",
		"/billing/policies/11111111-2222-3333-4444-555555555555/edit",
		"/applications?lcid=1033",
		"/a@b",
		"/environments;x=y",
		"/env%20name",
		"/environments?q=" + strings.Repeat("a", maxReturnLen-len("/environments?q=")),
	} {
		got, ok := SafeReturn(raw)
		if !ok || got != raw {
			t.Errorf("SafeReturn(%q) = %q, %v; want %q, true", raw, got, ok, raw)
		}
	}
}

// TestSafeReturnRedirectStaysLocal redirects through net/http with every
// accepted value and checks the browser would stay on the portal's origin.
func TestSafeReturnRedirectStaysLocal(t *testing.T) {
	base, err := url.Parse("https://portal.example/auth/callback")
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"/environments?sku=Sandbox", "/a@b"}, openRedirectVectors...)
	for _, raw := range all {
		target, ok := SafeReturn(raw)
		if !ok {
			target = "/environments"
		}
		rec := httptest.NewRecorder()
		http.Redirect(rec, httptest.NewRequest(http.MethodGet, base.String(), nil), target, http.StatusSeeOther)
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil {
			t.Errorf("SafeReturn(%q): Location %q does not parse: %v", raw, rec.Header().Get("Location"), err)
			continue
		}
		if got := base.ResolveReference(loc); got.Host != base.Host || got.Scheme != base.Scheme {
			t.Errorf("SafeReturn(%q) redirects to %q, want the portal's origin", raw, got)
		}
	}
}
