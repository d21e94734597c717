package ppapi

// Fuzz targets for everything the client reads from outside: path ids, the
// error bodies of failed calls, flow-run cursors, nextLink, Location and
// Operation-Location, Retry-After and the JSON of every response type. Each
// asserts a property beyond "does not panic". Seeds are the f.Add calls and
// testdata/fuzz/<Target>/.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	fuzzGUIDRe    = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	fuzzEnvIDRe   = regexp.MustCompile(`^(?i:default-)?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	fuzzPackageRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$`)
)

// fuzzAllowed are the extra hosts of fuzzClient.
var fuzzAllowed = []string{"*.bap.example", "regional.unified.example:8443"}

// fuzzTransport answers every request with answer(n, r) (n is 1-based) and
// records the requests.
type fuzzTransport struct {
	mu     sync.Mutex
	reqs   []*http.Request
	answer func(n int, r *http.Request) *http.Response
}

func (ft *fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ft.mu.Lock()
	ft.reqs = append(ft.reqs, r)
	n := len(ft.reqs)
	ft.mu.Unlock()
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	resp := ft.answer(n, r)
	resp.Request = r
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	return resp, nil
}

func (ft *fuzzTransport) requests() []*http.Request {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]*http.Request(nil), ft.reqs...)
}

func fuzzResponse(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
}

// fuzzClient is a client on the test endpoints with fuzzAllowed hosts, one
// attempt per call and no sleeping.
func fuzzClient(t testing.TB, rt http.RoundTripper) *Client {
	t.Helper()
	c, err := New(
		WithUnifiedURL(testUnified),
		WithBAPURL(testBAP),
		WithHTTPClient(&http.Client{Transport: rt}),
		WithTokenSource(TokenSourceFunc(func(context.Context, Endpoint) (string, error) { return "tok", nil })),
		WithAllowedHosts(fuzzAllowed...),
		WithRetryPolicy(1, time.Millisecond, time.Millisecond),
		WithMaxPages(3),
	)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	c.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	c.now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return c
}

// fuzzHostAllowed is an oracle, written apart from checkHost: may a token
// of the endpoint whose own host is home go to u? Only https, no user
// info, the default port, and the home host or a fuzzAllowed one.
func fuzzHostAllowed(home string, u *url.URL) bool {
	if u.Scheme != "https" || u.User != nil || u.Opaque != "" {
		return false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "443" {
		port = ""
	}
	switch {
	case port == "" && host == home:
		return true
	case port == "" && strings.HasSuffix(host, ".bap.example") && len(host) > len(".bap.example"):
		return true
	case port == "8443" && host == "regional.unified.example":
		return true
	}
	return false
}

// checkSentTo fails unless every request went to a host the endpoint's
// token may go to, and a re-parse of its URL names the same host.
func checkSentTo(t *testing.T, home string, reqs []*http.Request) {
	t.Helper()
	for i, r := range reqs {
		if !fuzzHostAllowed(home, r.URL) {
			t.Fatalf("request %d went to %q (scheme %q), want %s or an allowed host", i+1, r.URL.Host, r.URL.Scheme, home)
		}
		again, err := url.Parse(r.URL.String())
		if err != nil || again.Host != r.URL.Host {
			t.Fatalf("request %d URL %q re-parses to host %v (err %v), want %q", i+1, r.URL, again, err, r.URL.Host)
		}
	}
}

// FuzzValidIDs checks the three path-id validators against regular
// expressions written from their documentation, and that every accepted id
// is a single path segment needing no escaping.
func FuzzValidIDs(f *testing.F) {
	for _, s := range []string{
		envGUID, defaultEnv, "DEFAULT-" + envGUID, "default-" + envGUID, "Default-" + envGUID + "x",
		"{" + envGUID + "}", strings.ToUpper(envGUID), envGUID[:35], envGUID + "\n",
		"msdyn_FinanceAndOperations", "a.b-c_d", ".hidden", "..", "a/b", "a%2Fb", "", strings.Repeat("a", 128), strings.Repeat("a", 129),
		"0f0e0d0c-0b0a-4909-8807-06050403020g", "0f0e0d0c_0b0a_4909_8807_060504030201", "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidGUID(s), fuzzGUIDRe.MatchString(s); got != want {
			t.Errorf("ValidGUID(%q) = %v, want %v", s, got, want)
		}
		if got, want := ValidEnvironmentID(s), fuzzEnvIDRe.MatchString(s); got != want {
			t.Errorf("ValidEnvironmentID(%q) = %v, want %v", s, got, want)
		}
		if got, want := ValidPackageID(s), fuzzPackageRe.MatchString(s); got != want {
			t.Errorf("ValidPackageID(%q) = %v, want %v", s, got, want)
		}
		if ValidEnvironmentID(s) || ValidPackageID(s) {
			if esc := url.PathEscape(s); esc != s || s == "." || s == ".." {
				t.Errorf("accepted id %q is not one plain path segment (escaped %q)", s, esc)
			}
		}
	})
}

// checkShown fails unless s is safe to show: valid UTF-8, no control or
// bidi characters, single ASCII spaces only between words, at most max
// runes plus an ellipsis.
func checkShown(t *testing.T, what, s string, max int) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%s %q is not valid UTF-8", what, s)
	}
	if strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") || strings.Contains(s, "  ") {
		t.Fatalf("%s %q has leading, trailing or doubled spaces", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || (unicode.IsSpace(r) && r != ' ') {
			t.Fatalf("%s %q contains %U", what, s, r)
		}
	}
	if n := utf8.RuneCountInString(s); n > max+1 || (n == max+1 && !strings.HasSuffix(s, "…")) {
		t.Fatalf("%s has %d runes, want at most %d (+ an ellipsis)", what, n, max)
	}
}

// FuzzParseErrorBody feeds arbitrary error bodies to parseErrorBody: the
// code and message must be bounded, single-line, printable text; an HTML
// page yields nothing.
func FuzzParseErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":"EnvironmentNotFound","message":"The environment was not found."}}`,
		`{"code":"InvalidRequest","message":"bad \u202e bidi\n\tline"}`,
		`{"errorDetail":{"code":404,"message":"missing"}}`,
		`{"errorDetails":{"code":null,"message":"x"}}`,
		`{"error":"invalid_token","error_description":"The token expired"}`,
		`{"Error":{"Code":"Upper","Message":"case"}}`,
		`{"error":{"code":{"nested":1},"message":[1,2]}}`,
		`<html><body>502 Bad Gateway</body></html>`,
		"plain text failure\r\nsecond line",
		"\xff\xfe binary",
		"", "   ", "null", `"a string"`, `[1,2,3]`, `{"error":null}`,
		`{"code":"` + strings.Repeat("C", 300) + `","message":"` + strings.Repeat("m ", 400) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := parseErrorBody(body)
		checkShown(t, "code", code, maxCodeLen)
		checkShown(t, "message", msg, maxMessageLen)
		trimmed := strings.TrimSpace(string(body))
		var top map[string]json.RawMessage
		isObject := json.Unmarshal([]byte(trimmed), &top) == nil
		if !isObject {
			if code != "" {
				t.Errorf("parseErrorBody(%q) code = %q from a body that is not a JSON object, want \"\"", body, code)
			}
			if strings.HasPrefix(trimmed, "<") && msg != "" {
				t.Errorf("parseErrorBody(%q) message = %q from an HTML body, want \"\"", body, msg)
			}
			if utf8.RuneCountInString(msg) > 201 {
				t.Errorf("parseErrorBody(%q) message has %d runes, want at most 200 (+ an ellipsis)", body, utf8.RuneCountInString(msg))
			}
		}
	})
}

// FuzzParseErrorBodyShapes builds each error body shape the service sends
// around a code and a message and checks parseErrorBody gets them back,
// sanitized.
func FuzzParseErrorBodyShapes(f *testing.F) {
	f.Add("EnvironmentNotFound", "The environment was not found.", uint8(0))
	f.Add("InvalidRequest", "line one\nline two", uint8(1))
	f.Add("42", "numeric code", uint8(2))
	f.Add("invalid_grant", "AADSTS70008: expired", uint8(3))
	f.Add("", "just text", uint8(4))
	f.Add("", "<html>", uint8(4))
	f.Add("", `{"code":"x"}`, uint8(4))
	f.Add(" ", "\u202eevil", uint8(0))
	f.Fuzz(func(t *testing.T, code, message string, shape uint8) {
		if !utf8.ValidString(code) || !utf8.ValidString(message) {
			t.Skip("JSON would replace invalid UTF-8 before the parser sees it")
		}
		obj := func(kv ...string) string {
			m := map[string]any{}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		var body, wantCode, wantMsg string
		switch shape % 5 {
		case 0: // enveloped, the spec's shape
			body = `{"error":` + obj("code", code, "message", message) + `}`
			wantCode, wantMsg = sanitize(code, maxCodeLen), sanitize(message, maxMessageLen)
		case 1: // flat
			body = obj("code", code, "message", message)
			wantCode, wantMsg = sanitize(code, maxCodeLen), sanitize(message, maxMessageLen)
		case 2: // errorDetail
			body = `{"errorDetail":` + obj("code", code, "message", message) + `}`
			wantCode, wantMsg = sanitize(code, maxCodeLen), sanitize(message, maxMessageLen)
		case 3: // OAuth style: the description counts only with an error code
			body = obj("error", code, "error_description", message)
			if code != "" {
				wantCode, wantMsg = sanitize(code, maxCodeLen), sanitize(message, maxMessageLen)
			}
		case 4: // not JSON: a short excerpt, nothing for HTML
			body = message
			trimmed := strings.TrimSpace(message)
			var top map[string]json.RawMessage
			if json.Unmarshal([]byte(trimmed), &top) == nil {
				t.Skip("the text is a JSON object")
			}
			if !strings.HasPrefix(trimmed, "<") {
				wantMsg = sanitize(trimmed, 200)
			}
		}
		gotCode, gotMsg := parseErrorBody([]byte(body))
		if gotCode != wantCode || gotMsg != wantMsg {
			t.Errorf("parseErrorBody(%q) = %q, %q; want %q, %q", body, gotCode, gotMsg, wantCode, wantMsg)
		}
	})
}

// FuzzFlowRunsCursor hands arbitrary cursors to ListFlowRuns: one that
// does not name this environment's and workflow's flowRuns path on the
// unified endpoint is refused with ErrInvalidID before anything is sent;
// one that does is sent there and nowhere else.
func FuzzFlowRunsCursor(f *testing.F) {
	want := "/powerautomate/environments/" + envGUID + "/flowRuns"
	for _, s := range []string{
		want + "?workflowId=" + flowGUID + "&$skiptoken=abc",
		want + "?$skiptoken=abc&api-version=2022-03-01-preview",
		strings.ToUpper(want) + "?workflowId=" + strings.ToUpper(flowGUID),
		want + "?workflowId=" + opGUID,
		want + "?workflowId=" + flowGUID + "&workflowId=" + flowGUID,
		"/powerautomate/environments/" + opGUID + "/flowRuns",
		"//evil.example" + want,
		"https://evil.example" + want,
		"/\\evil.example" + want,
		want + "#frag",
		want + "/../../x",
		"/powerautomate/environments/" + envGUID + "%2FflowRuns",
		want + "?%zz",
		"",
	} {
		f.Add(base64RawURL(s))
	}
	f.Add("not base64 !")
	f.Add(strings.Repeat("A", maxCursorLen+4))
	// A positive control: a cursor the client itself would make decodes.
	if _, ok := fuzzClient(f, &fuzzTransport{}).decodeCursor(envGUID, flowGUID, base64RawURL(want+"?$skiptoken=abc")); !ok {
		f.Fatal("decodeCursor refuses a cursor for this environment's own flow runs")
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		ft := &fuzzTransport{answer: func(int, *http.Request) *http.Response { return fuzzResponse(http.StatusNoContent, "") }}
		c := fuzzClient(t, ft)
		u, ok := c.decodeCursor(envGUID, flowGUID, cursor)
		if ok {
			if u.Scheme != "https" || u.Host != "unified.example" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
				t.Fatalf("decodeCursor(%q) = %q, want a URL on https://unified.example", cursor, u)
			}
			if !strings.EqualFold(u.EscapedPath(), want) {
				t.Fatalf("decodeCursor(%q) path = %q, want %q", cursor, u.EscapedPath(), want)
			}
			if w, has := u.Query()["workflowId"]; has && (len(w) != 1 || !strings.EqualFold(w[0], flowGUID)) {
				t.Fatalf("decodeCursor(%q) workflowId = %q, want %s", cursor, w, flowGUID)
			}
		}
		page, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, cursor)
		reqs := ft.requests()
		checkSentTo(t, "unified.example", reqs)
		switch {
		case cursor != "" && !ok:
			if !errors.Is(err, ErrInvalidID) || len(reqs) != 0 {
				t.Fatalf("ListFlowRuns(cursor %q) = %d requests, error %v; want 0 requests and ErrInvalidID", cursor, len(reqs), err)
			}
		default:
			if err != nil || page == nil || !page.NoContent || len(reqs) != 1 {
				t.Fatalf("ListFlowRuns(cursor %q) = %+v, %v after %d requests; want the 204 page after 1", cursor, page, err, len(reqs))
			}
			if got := reqs[0].URL; !strings.EqualFold(got.EscapedPath(), want) || got.Query().Get("api-version") == "" {
				t.Fatalf("ListFlowRuns(cursor %q) requested %q, want %s with an api-version", cursor, got, want)
			}
		}
	})
}

// FuzzFlowRunsNextLink serves a flow-runs page with an arbitrary nextLink:
// it is either refused (ErrForeignHost, or ErrBadResponse when it leaves
// the flow runs) or turned into a cursor that ListFlowRuns accepts and
// that requests the same path and query.
func FuzzFlowRunsNextLink(f *testing.F) {
	base := "/powerautomate/environments/" + envGUID + "/flowRuns"
	for _, s := range []string{
		"https://unified.example" + base + "?workflowId=" + flowGUID + "&$skiptoken=p2&api-version=2022-03-01-preview",
		base + "?$skiptoken=p2",
		"flowRuns?$skiptoken=rel",
		"https://UNIFIED.example:443" + base + "?x=%20y",
		"https://regional.unified.example:8443" + base,
		"https://evil.example" + base,
		"http://unified.example" + base,
		"https://unified.example/powerautomate/environments/" + opGUID + "/flowRuns",
		"https://unified.example" + base + "?workflowId=" + opGUID,
		"  " + base + "#frag  ",
		"%",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		if !utf8.ValidString(link) {
			t.Skip("JSON would replace invalid UTF-8")
		}
		body, err := json.Marshal(map[string]any{"value": []any{}, "nextLink": link})
		if err != nil {
			t.Fatal(err)
		}
		ft := &fuzzTransport{answer: func(n int, r *http.Request) *http.Response {
			if n == 1 {
				return fuzzResponse(http.StatusOK, string(body))
			}
			return fuzzResponse(http.StatusOK, `{"value":[{"name":"later"}]}`)
		}}
		c := fuzzClient(t, ft)
		page, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, "")
		if err != nil {
			if !errors.Is(err, ErrForeignHost) && !errors.Is(err, ErrBadResponse) {
				t.Fatalf("ListFlowRuns with nextLink %q: error %v, want ErrForeignHost or ErrBadResponse", link, err)
			}
			return
		}
		if strings.TrimSpace(link) == "" {
			if page.Next != "" {
				t.Fatalf("ListFlowRuns with an empty nextLink: Next = %q, want \"\"", page.Next)
			}
			return
		}
		if page.Next == "" {
			t.Fatalf("ListFlowRuns with nextLink %q: no error and no cursor", link)
		}
		raw, err := base64.RawURLEncoding.DecodeString(page.Next)
		if err != nil {
			t.Fatalf("cursor %q is not base64url: %v", page.Next, err)
		}
		second, err := c.ListFlowRuns(context.Background(), envGUID, flowGUID, page.Next)
		if err != nil || len(second.Runs) != 1 {
			t.Fatalf("ListFlowRuns(own cursor for %q) = %+v, %v; want the next page", link, second, err)
		}
		reqs := ft.requests()
		checkSentTo(t, "unified.example", reqs)
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want 2", len(reqs))
		}
		ref, _ := url.Parse(string(raw))
		got := reqs[1].URL
		if got.EscapedPath() != ref.EscapedPath() {
			t.Errorf("second page path = %q, want the nextLink's %q", got.EscapedPath(), ref.EscapedPath())
		}
		wantQ, gotQ := ref.Query(), got.Query()
		for k, v := range wantQ {
			if !cmp.Equal(gotQ[k], v) {
				t.Errorf("second page query %s = %q, want the nextLink's %q", k, gotQ[k], v)
			}
		}
	})
}

// FuzzNextLink serves a list page whose nextLink is arbitrary: the client
// follows it only to the endpoint's own or an allow-listed host over
// https; otherwise it stops with a clear error, and never sends the token
// anywhere else.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		"https://bap.example/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments?$skiptoken=2",
		"https://europe.bap.example/x?api-version=1",
		"https://regional.unified.example:8443/p",
		"/providers/x?page=2",
		"?page=2",
		"page2",
		"//evil.example/x",
		"/\\evil.example/x",
		"https://evil.example/x",
		"https://bap.example.evil.example/x",
		"https://bap.example@evil.example/x",
		"https://evil.example\\@bap.example/",
		"http://bap.example/x",
		"https://bap.example:444/x",
		"https://[::1]/x",
		"javascript:alert(1)",
		"https://BAP.EXAMPLE./x",
		"https://bap.example%2f@evil.example",
		"https://xn--bap-example/x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		if !utf8.ValidString(link) {
			t.Skip("JSON would replace invalid UTF-8")
		}
		body, err := json.Marshal(map[string]any{"value": []map[string]string{{"name": "first"}}, "@odata.nextLink": link})
		if err != nil {
			t.Fatal(err)
		}
		ft := &fuzzTransport{answer: func(n int, r *http.Request) *http.Response {
			if n == 1 {
				return fuzzResponse(http.StatusOK, string(body))
			}
			return fuzzResponse(http.StatusOK, `{"value":[{"name":"second"}]}`)
		}}
		c := fuzzClient(t, ft)
		envs, err := c.ListEnvironments(context.Background(), "")
		reqs := ft.requests()
		checkSentTo(t, "bap.example", reqs)
		if len(reqs) > 2 {
			t.Fatalf("%d requests, want at most 2", len(reqs))
		}
		if err != nil {
			if !errors.Is(err, ErrForeignHost) && !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrTooManyPages) {
				t.Fatalf("ListEnvironments with nextLink %q: error %v, want ErrForeignHost, ErrBadResponse or ErrTooManyPages", link, err)
			}
			// Not over-strict: a link to an allowed host is followed
			// (unless it loops back to the first page).
			if ref, perr := url.Parse(strings.TrimSpace(link)); perr == nil && len(reqs) > 0 && !errors.Is(err, ErrTooManyPages) {
				if next := reqs[0].URL.ResolveReference(ref); fuzzHostAllowed("bap.example", next) {
					t.Fatalf("ListEnvironments refused nextLink %q (to %q) on an allowed host: %v", link, next, err)
				}
			}
			return
		}
		wantN := 2
		if strings.TrimSpace(link) == "" {
			wantN = 1
		}
		if len(envs) != wantN || len(reqs) != wantN {
			t.Fatalf("ListEnvironments with nextLink %q = %d environments after %d requests, want %d", link, len(envs), len(reqs), wantN)
		}
	})
}

// FuzzStatusLocation answers an install and an environment delete with
// 202 and an arbitrary Location or Operation-Location: the mutation is
// sent once; a status URL is kept only on an allowed host, else the error
// says the outcome is unknown; an operation id is a GUID or nothing.
func FuzzStatusLocation(f *testing.F) {
	for _, s := range []string{
		"https://unified.example/appmanagement/environments/" + envGUID + "/operations/" + opGUID + "?api-version=2022-03-01-preview",
		"/appmanagement/environments/" + envGUID + "/operations/" + opGUID,
		"operations/" + opGUID,
		"https://bap.example/providers/Microsoft.BusinessAppPlatform/lifecycleOperations/" + opGUID,
		"https://europe.bap.example/x/" + opGUID,
		"https://evil.example/" + opGUID,
		"//evil.example/" + opGUID,
		"http://unified.example/" + opGUID,
		"https://unified.example/" + opGUID + "/..",
		"https://unified.example/ops/not-a-guid",
		" ",
		"%zz",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, loc string, operationLocation bool) {
		header := "Location"
		if operationLocation {
			header = "Operation-Location"
		}
		ft := &fuzzTransport{answer: func(int, *http.Request) *http.Response {
			r := fuzzResponse(http.StatusAccepted, "")
			r.Header[header] = []string{loc}
			r.Header.Set("Retry-After", "5")
			return r
		}}
		c := fuzzClient(t, ft)
		check := func(what, home string, acc *Accepted, err error) {
			t.Helper()
			if n := len(ft.requests()); n != 1 {
				t.Fatalf("%s with %s %q: %d requests, want exactly 1", what, header, loc, n)
			}
			if err != nil {
				if !errors.Is(err, ErrOutcomeUnknown) || (!errors.Is(err, ErrForeignHost) && !errors.Is(err, ErrBadResponse)) {
					t.Fatalf("%s with %s %q: error %v, want ErrOutcomeUnknown with ErrForeignHost or ErrBadResponse", what, header, loc, err)
				}
				return
			}
			if acc.Status != http.StatusAccepted || acc.RetryAfter != 5*time.Second {
				t.Fatalf("%s: Accepted = %+v, want status 202, retry after 5s", what, acc)
			}
			if acc.OperationID != "" && !ValidGUID(acc.OperationID) {
				t.Fatalf("%s with %s %q: OperationID %q is not a GUID", what, header, loc, acc.OperationID)
			}
			if loc == "" {
				if acc.Location != "" {
					t.Fatalf("%s without a status URL: Location = %q, want \"\"", what, acc.Location)
				}
				return
			}
			u, perr := url.Parse(acc.Location)
			if perr != nil || !fuzzHostAllowed(home, u) || u.Fragment != "" {
				t.Fatalf("%s with %s %q: kept status URL %q, want one on an allowed host", what, header, loc, acc.Location)
			}
		}
		acc, err := c.InstallApplicationPackage(context.Background(), envGUID, "msdyn_Sample")
		check("InstallApplicationPackage", "unified.example", acc, err)
		ft.reqs = nil
		acc, err = c.DeleteEnvironment(context.Background(), envGUID)
		check("DeleteEnvironment", "bap.example", acc, err)
	})
}

// FuzzRetryAfter checks Retry-After parsing: never negative, never over a
// day, whole seconds, and exact for plain delta seconds.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "1", "120", "-5", "86400", "86401", "99999999999999999999", " 7 ", "1.5", "0x10",
		"Fri, 02 Jan 2026 03:04:35 GMT", "Thu, 01 Jan 2026 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
		"Friday, 02-Jan-26 03:05:00 GMT", "Fri Jan  2 03:04:06 2026", "tomorrow", ""} {
		f.Add(s)
	}
	c := fuzzClient(f, &fuzzTransport{})
	f.Fuzz(func(t *testing.T, v string) {
		d := c.parseRetryAfter(v)
		if d < 0 || d > 24*time.Hour || d%time.Second != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, want whole seconds in [0, 24h]", v, d)
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 && n <= 86400 {
			if d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v, want %ds", v, d, n)
			}
		}
	})
}

// fuzzRoundTrip decodes body into a T; if that works, encoding and decoding
// again must give the same value.
func fuzzRoundTrip[T any](t *testing.T, body []byte) {
	t.Helper()
	var v T
	if json.Unmarshal(body, &v) != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%T decoded from %q does not encode: %v", v, body, err)
	}
	var w T
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("%T re-encoded as %s does not decode: %v", v, b, err)
	}
	if diff := cmp.Diff(v, w, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%T from %q changed over a round trip (-first +second):\n%s", v, body, diff)
	}
}

// FuzzDecodeResponses decodes arbitrary bytes into every response type:
// whatever decodes survives an encode/decode round trip unchanged.
func FuzzDecodeResponses(f *testing.F) {
	for _, s := range []string{
		`{"value":[{"id":"/providers/x","name":"` + envGUID + `","location":"europe","properties":{"displayName":"Sales","createdTime":"2024-05-01T10:00:00Z","environmentSku":"Sandbox","isDefault":false,"capacity":[{"capacityType":"Database","actualConsumption":1.5,"ratedConsumption":2}],"states":{"management":{"id":"Ready"},"runtime":{"id":"Enabled"}},"linkedEnvironmentMetadata":{"instanceUrl":"https://x.crm.dynamics.com/","baseLanguage":1033}}}],"@odata.nextLink":"https://bap.example/x"}`,
		`{"value":[{"id":"` + opGUID + `","uniqueName":"msdyn_Sample","state":"Installed","lastError":{"code":"E","errorCode":123},"errorDetails":{"errorCode":"x"}}]}`,
		`{"value":[{"name":"08585","properties":{"startTime":"2024-05-01T10:00:00.1234567+02:00","status":"Succeeded","trigger":{"name":"manual"}}}],"nextLink":"/x"}`,
		`{"value":[{"id":"` + policyGUID + `","name":"p","status":"Enabled","billingInstrument":{"subscriptionId":"` + flowGUID + `"},"createdBy":{"id":"SYSTEM"},"createdOn":"2024-01-01T00:00:00Z"}]}`,
		`{"id":"` + opGUID + `","status":"Failed","error":{"code":"x","errorCode":-1.5e3}}`,
		`{"error":{"code":"c","message":"m"}}`,
		`{"value":null}`, `{"value":[null]}`, `{"value":[{"properties":null}]}`, `[]`, `null`, `{}`,
		`{"value":[{"properties":{"createdTime":"0000-01-01T00:00:00-23:59"}}]}`,
		`{"value":[{"properties":{"runtimeEndpoints":{"a":"b"},"capacity":[{"actualConsumption":-0}]}}]}`,
		`{"value":[{"name":"\ud800\udc00\ud800"}]}`,
		`{"VALUE":[{"NAME":"upper"}],"@ODATA.NEXTLINK":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzRoundTrip[page[Environment]](t, body)
		fuzzRoundTrip[page[ApplicationPackage]](t, body)
		fuzzRoundTrip[page[FlowRun]](t, body)
		fuzzRoundTrip[page[BillingPolicy]](t, body)
		fuzzRoundTrip[EnvironmentListResponse](t, body)
		fuzzRoundTrip[ApplicationPackageListResponse](t, body)
		fuzzRoundTrip[FlowRunListResponse](t, body)
		fuzzRoundTrip[BillingPolicyListResponse](t, body)
		fuzzRoundTrip[Environment](t, body)
		fuzzRoundTrip[BillingPolicy](t, body)
		fuzzRoundTrip[OperationStatus](t, body)
		fuzzRoundTrip[ErrorResponse](t, body)
	})
}

// FuzzListResponses answers every call of each list and read operation
// with the same arbitrary 200 body: each returns a result or an error that
// says the answer was unusable (or, for nextLinks, refused or looping),
// and sends nothing off the allowed hosts.
func FuzzListResponses(f *testing.F) {
	for _, s := range []string{
		`{"value":[]}`,
		`{"value":[{"name":"a"}],"@odata.nextLink":"?page=2"}`,
		`{"value":[{"name":"a"}],"nextLink":"https://evil.example/"}`,
		`{"value":[{"name":"a"}],"@odata.nextlink":"https://europe.bap.example/p"}`,
		`{"value":"not a list"}`,
		`{"id":"` + opGUID + `","status":"Running"}`,
		``, ` `, `null`, `{`, `<html></html>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ft := &fuzzTransport{answer: func(int, *http.Request) *http.Response { return fuzzResponse(http.StatusOK, string(body)) }}
		c := fuzzClient(t, ft)
		ctx := context.Background()
		clear := func(home string, what string, err error) {
			t.Helper()
			checkSentTo(t, home, ft.requests())
			ft.mu.Lock()
			ft.reqs = nil
			ft.mu.Unlock()
			if err == nil {
				return
			}
			if !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrForeignHost) && !errors.Is(err, ErrTooManyPages) {
				t.Fatalf("%s with body %q: error %v, want ErrBadResponse, ErrForeignHost or ErrTooManyPages", what, body, err)
			}
		}
		_, err := c.ListEnvironments(ctx, "")
		clear("bap.example", "ListEnvironments", err)
		_, err = c.GetEnvironment(ctx, envGUID, "")
		clear("bap.example", "GetEnvironment", err)
		_, err = c.ListTenantApplicationPackages(ctx)
		clear("unified.example", "ListTenantApplicationPackages", err)
		_, err = c.ListEnvironmentApplicationPackages(ctx, defaultEnv)
		clear("unified.example", "ListEnvironmentApplicationPackages", err)
		_, err = c.ListBillingPolicies(ctx)
		clear("unified.example", "ListBillingPolicies", err)
		_, err = c.GetInstallStatus(ctx, envGUID, opGUID)
		clear("unified.example", "GetInstallStatus", err)
		_, err = c.ListFlowRuns(ctx, envGUID, flowGUID, "")
		clear("unified.example", "ListFlowRuns", err)
	})
}

// FuzzFlexString decodes arbitrary JSON into a FlexString: strings keep
// their text, numbers their literal, null is empty, anything else is an
// error; the result survives a round trip.
func FuzzFlexString(f *testing.F) {
	for _, s := range []string{`"abc"`, `123`, `-1.5e-3`, `null`, ` 7 `, `true`, `{}`, `[1]`, `"\u00e9\n"`, `01`, `"`, ``, `1e999`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fs FlexString
		err := json.Unmarshal(b, &fs)
		var generic any
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		if gerr := d.Decode(&generic); gerr != nil || d.More() || !json.Valid(b) {
			if err == nil {
				t.Fatalf("Unmarshal(%q) into FlexString = %q, nil; want an error for invalid JSON", b, fs)
			}
			return
		}
		var want string
		switch v := generic.(type) {
		case nil:
		case string:
			want = v
		case json.Number:
			want = v.String()
		default:
			if err == nil {
				t.Fatalf("Unmarshal(%q) into FlexString = %q, nil; want an error for a %T", b, fs, v)
			}
			return
		}
		if err != nil || string(fs) != want {
			t.Fatalf("Unmarshal(%q) into FlexString = %q, %v; want %q, nil", b, fs, err, want)
		}
		enc, err := json.Marshal(fs)
		if err != nil {
			t.Fatalf("Marshal(%q): %v", fs, err)
		}
		var again FlexString
		if err := json.Unmarshal(enc, &again); err != nil || again != fs {
			t.Fatalf("FlexString %q round trip = %q, %v", fs, again, err)
		}
	})
}
