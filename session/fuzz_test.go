package session

// Fuzz targets for what the browser sends the session layer: return
// targets and session cookies, and for what the store reads back (a
// stored record). Seeds are the f.Add calls and testdata/fuzz/<Target>/.

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"
)

// FuzzSafeReturn checks that every accepted return target is a local path
// kept as given, and that a redirect to it keeps the browser on the
// portal's origin, whichever way the path is decoded.
func FuzzSafeReturn(f *testing.F) {
	for _, v := range openRedirectVectors {
		f.Add(v)
	}
	for _, v := range []string{
		"/", "/environments", "/environments/", "/environments?sku=Sandbox&page=2",
		"/environments?next=//evil.example", "/environments?q=%2F%2F", "/a/b/c/", "/%41",
		"/%2525252f", "/a?b#c", "/a/%2e", "/a/.b", "/a/..b",
	} {
		f.Add(v)
	}
	origin, _ := url.Parse("https://portal.example/auth/callback?code=x&state=y")
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := SafeReturn(raw)
		if !ok {
			if got != "" {
				t.Fatalf("SafeReturn(%q) = %q, false; want \"\" on refusal", raw, got)
			}
			return
		}
		if got != raw {
			t.Fatalf("SafeReturn(%q) = %q, want the input unchanged", raw, got)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("SafeReturn(%q) accepted a target that is not a local absolute path", raw)
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c <= ' ' || c >= 0x7f || c == '\\' {
				t.Fatalf("SafeReturn(%q) accepted byte %#x, which browsers strip or rewrite", raw, c)
			}
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("SafeReturn(%q): url.Parse = %+v, %v; want a path without scheme or host", raw, u, err)
		}
		// Whatever decodes the path, however often, it stays a local path
		// without dot segments.
		p := u.EscapedPath()
		for range 4 {
			dec, err := url.PathUnescape(p)
			if err != nil {
				break
			}
			if strings.HasPrefix(dec, "//") || strings.Contains(dec, "\\") || path.Clean(dec) != strings.TrimSuffix(dec, "/") && dec != "/" {
				t.Fatalf("SafeReturn(%q) accepted a path that decodes to %q", raw, dec)
			}
			p = dec
		}

		// http.Redirect to it from a handler keeps the browser on the origin.
		req := httptest.NewRequest(http.MethodGet, origin.String(), nil)
		rec := httptest.NewRecorder()
		http.Redirect(rec, req, got, http.StatusSeeOther)
		loc := rec.Header().Get("Location")
		if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") || !strings.HasPrefix(loc, "/") {
			t.Fatalf("http.Redirect to SafeReturn(%q) sent Location %q, want a local path", raw, loc)
		}
		lu, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("Location %q for SafeReturn(%q) does not parse: %v", loc, raw, err)
		}
		if dest := origin.ResolveReference(lu); dest.Scheme != origin.Scheme || dest.Host != origin.Host || dest.User != nil {
			t.Fatalf("http.Redirect to SafeReturn(%q) leads to %q, want %s", raw, dest, origin.Host)
		}
	})
}

// fuzzStoreOptions are fixed keys, so that committed seeds mean the same
// on every run.
func fuzzStoreOptions() StoreOptions {
	return StoreOptions{
		KeyPairs:      [][]byte{bytes.Repeat([]byte{'h'}, 32), bytes.Repeat([]byte{'b'}, 32)},
		EncryptionKey: bytes.Repeat([]byte{'e'}, 32),
	}
}

// FuzzStoreCookie sends arbitrary Cookie headers to a MemoryStore that
// holds one session: only that session's own cookie loads it; anything
// else gives a new, empty session with a fresh id from crypto/rand, never
// an id the browser chose, and never an error.
func FuzzStoreCookie(f *testing.F) {
	store, err := NewMemoryStore(fuzzStoreOptions())
	if err != nil {
		f.Fatal(err)
	}
	// One live session, signed in with a marker value.
	r0 := httptest.NewRequest(http.MethodGet, "/", nil)
	s0, err := store.New(r0, store.CookieName())
	if err != nil {
		f.Fatal(err)
	}
	s0.Values["marker"] = "live"
	w0 := httptest.NewRecorder()
	if err := store.Save(r0, w0, s0); err != nil {
		f.Fatal(err)
	}
	liveID := s0.ID
	var live string
	for _, ck := range w0.Result().Cookies() {
		if ck.Name == store.CookieName() {
			live = ck.Value
		}
	}
	if live == "" {
		f.Fatal("Save set no session cookie")
	}
	name := store.CookieName()
	rawID, _ := base64.RawURLEncoding.DecodeString(liveID)
	for _, h := range []string{
		name + "=" + live,
		"other=1; " + name + "=" + live,
		name + "=garbage; " + name + "=" + live,
		name + "=" + live[:len(live)-1],
		name + "=" + live + "x",
		name + "=" + liveID,
		name + "=" + base64.URLEncoding.EncodeToString(rawID),
		name + "=" + strings.Repeat("A", maxCookieValue+1),
		name + "=",
		name,
		"__Host-" + name + "=" + live,
		name + "=\"" + live + "\"",
		"",
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/environments", nil)
		r.Header.Set("Cookie", header)
		s, err := store.Get(r, name)
		if err != nil || s == nil {
			t.Fatalf("Get(Cookie %q) = %v, %v; want a session and no error", header, s, err)
		}
		if header == name+"="+live && s.IsNew {
			t.Fatalf("Get(the live session's own cookie) gave a new session")
		}
		if !s.IsNew {
			if s.ID != liveID || s.Values["marker"] != "live" {
				t.Fatalf("Get(Cookie %q) loaded session %q with %v, want only the live one", header, s.ID, s.Values)
			}
			if !strings.Contains(header, live[:40]) {
				t.Fatalf("Get(Cookie %q) loaded the live session without its cookie", header)
			}
			return
		}
		if s.ID == liveID || len(s.Values) != 0 {
			t.Fatalf("Get(Cookie %q) = new session %q with %v, want a fresh id and no values", header, s.ID, s.Values)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s.ID)
		if err != nil || len(raw) != idBytes {
			t.Fatalf("Get(Cookie %q) new session id %q is not %d random bytes", header, s.ID, idBytes)
		}
		if strings.Contains(header, s.ID) {
			t.Fatalf("Get(Cookie %q) adopted the id %q from the browser", header, s.ID)
		}
	})
}

// FuzzStoredRecord opens arbitrary bytes as a stored record: nothing but a
// record sealed for the same id opens, and what opens for one id never
// opens for another.
func FuzzStoredRecord(f *testing.F) {
	c, err := newStoreCore(fuzzStoreOptions())
	if err != nil {
		f.Fatal(err)
	}
	idA, idB := newID(), newID()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sealed, err := c.seal(idA, &record{Expires: now.Add(time.Hour), Touched: now, Values: map[any]any{"k": "v"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-1])
	f.Add(append(bytes.Clone(sealed), 0))
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1
	f.Add(flipped)
	f.Add([]byte{})
	f.Add(make([]byte, 28))
	f.Fuzz(func(t *testing.T, data []byte) {
		recA, errA := c.open(idA, data)
		_, errB := c.open(idB, data)
		if errB == nil {
			t.Fatalf("open(idB, %x) succeeded for bytes not sealed for idB", data)
		}
		if errA != nil {
			return
		}
		if !bytes.Equal(data, sealed) {
			t.Fatalf("open(idA, %x) succeeded for bytes that seal did not make", data)
		}
		if recA.Values["k"] != "v" || !recA.Expires.Equal(now.Add(time.Hour)) {
			t.Fatalf("open(idA, sealed) = %+v, want the sealed record", recA)
		}
	})
}
