package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// fakeClock is a settable clock for StoreOptions.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func randomKey(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// keyPair returns a fresh (hash key, block key) pair.
func keyPair() [][]byte { return [][]byte{randomKey(32), randomKey(32)} }

func testOptions(clock *fakeClock) StoreOptions {
	o := StoreOptions{KeyPairs: keyPair(), EncryptionKey: randomKey(32)}
	if clock != nil {
		o.Now = clock.Now
	}
	return o
}

func newMemory(t testing.TB, o StoreOptions) *MemoryStore {
	t.Helper()
	s, err := NewMemoryStore(o)
	if err != nil {
		t.Fatalf("NewMemoryStore() error = %v", err)
	}
	return s
}

// countingStore counts the writes a Manager makes to a MemoryStore.
type countingStore struct {
	*MemoryStore
	writes atomic.Int64
}

func (c *countingStore) put(ctx context.Context, id string, rec *record) error {
	c.writes.Add(1)
	return c.MemoryStore.put(ctx, id, rec)
}

var _ backend = (*countingStore)(nil)

func testSignIn(oid string) *SignIn {
	return &SignIn{
		User: User{OID: oid, TenantID: "tid-1", UPN: oid + "@contoso.example", Name: "Test " + oid},
		Tokens: Tokens{
			AccessToken:  "access-" + oid,
			RefreshToken: "refresh-" + oid,
			IDToken:      "id-" + oid,
			Expiry:       time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		},
	}
}

// start signs a user in through m and returns the session and its cookie.
func start(t testing.TB, m *Manager, in *SignIn, prior ...*http.Cookie) (*Session, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/auth/callback", nil)
	for _, c := range prior {
		r.AddCookie(c)
	}
	s, err := m.Start(w, r, in)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	cks := w.Result().Cookies()
	if len(cks) != 1 {
		t.Fatalf("Start() set %d cookies, want 1", len(cks))
	}
	return s, cks[0]
}

func requestWith(cks ...*http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/environments", nil)
	for _, c := range cks {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// load calls m.Load with ck and fails the test on an error.
func load(t testing.TB, m *Manager, ck *http.Cookie) *Session {
	t.Helper()
	s, err := m.Load(requestWith(ck))
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	return s
}

func TestStoreOptionsValidation(t *testing.T) {
	good := keyPair()
	tests := []struct {
		name string
		o    StoreOptions
	}{
		{"no key pairs", StoreOptions{}},
		{"odd key pairs", StoreOptions{KeyPairs: [][]byte{randomKey(32)}}},
		{"short hash key", StoreOptions{KeyPairs: [][]byte{randomKey(16), randomKey(32)}}},
		{"bad block key", StoreOptions{KeyPairs: [][]byte{randomKey(32), randomKey(20)}}},
		{"no block key", StoreOptions{KeyPairs: [][]byte{randomKey(32), nil}}},
		{"short encryption key", StoreOptions{KeyPairs: good, EncryptionKey: randomKey(16)}},
		{"negative idle", StoreOptions{KeyPairs: good, IdleTimeout: -time.Second}},
		{"tiny absolute", StoreOptions{KeyPairs: good, AbsoluteTimeout: time.Millisecond}},
	}
	for _, tt := range tests {
		if _, err := NewMemoryStore(tt.o); err == nil {
			t.Errorf("NewMemoryStore(%s) error = nil, want an error", tt.name)
		}
	}
	if _, err := NewMemoryStore(StoreOptions{KeyPairs: good}); err != nil {
		t.Errorf("NewMemoryStore(key pairs only) error = %v, want nil", err)
	}
	if _, err := NewRedisStore(nil, StoreOptions{KeyPairs: good, EncryptionKey: randomKey(32)}); err == nil {
		t.Errorf("NewRedisStore(nil client) error = nil, want an error")
	}
}

func TestStoreCookieFlags(t *testing.T) {
	for _, secure := range []bool{true, false} {
		o := testOptions(nil)
		o.Secure = secure
		m := NewManager(newMemory(t, o), o)
		w := httptest.NewRecorder()
		if _, err := m.Start(w, httptest.NewRequest("GET", "/auth/callback", nil), testSignIn("u1")); err != nil {
			t.Fatalf("Start() error = %v", err)
		}
		raw := w.Header().Values("Set-Cookie")
		if len(raw) != 1 {
			t.Fatalf("secure=%v: Start() Set-Cookie = %q, want one", secure, raw)
		}
		ck := w.Result().Cookies()[0]
		wantName := "portal"
		if secure {
			wantName = "__Host-portal"
		}
		if ck.Name != wantName || m.CookieName() != wantName {
			t.Errorf("secure=%v: cookie name = %q (CookieName %q), want %q", secure, ck.Name, m.CookieName(), wantName)
		}
		if ck.Path != "/" || ck.Domain != "" || strings.Contains(strings.ToLower(raw[0]), "domain=") {
			t.Errorf("secure=%v: Set-Cookie = %q, want Path=/ and no Domain", secure, raw[0])
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure != secure {
			t.Errorf("secure=%v: Set-Cookie = %q, want HttpOnly, SameSite=Lax, Secure=%v", secure, raw[0], secure)
		}
		if ck.MaxAge != int(DefaultAbsoluteTimeout/time.Second) {
			t.Errorf("secure=%v: cookie MaxAge = %d, want %d (absolute timeout)", secure, ck.MaxAge, int(DefaultAbsoluteTimeout/time.Second))
		}

		// The sign-out cookie has the same attributes and expires now.
		w = httptest.NewRecorder()
		if err := m.Destroy(w, requestWith(ck), nil); err != nil {
			t.Fatalf("Destroy() error = %v", err)
		}
		gone := w.Result().Cookies()[0]
		if gone.Name != wantName || gone.MaxAge >= 0 || gone.Value != "" || !gone.HttpOnly || gone.Secure != secure || gone.Path != "/" {
			t.Errorf("secure=%v: Destroy() Set-Cookie = %q, want an expired %s cookie", secure, w.Header().Get("Set-Cookie"), wantName)
		}
	}
}

func TestStoreCookieLengthWithLargeTokens(t *testing.T) {
	o := testOptions(nil)
	o.Secure = true
	m := NewManager(newMemory(t, o), o)
	in := testSignIn("u1")
	in.Tokens.IDToken = "eyJ" + strings.Repeat("A", 8<<10)
	in.Tokens.AccessToken = "eyJ" + strings.Repeat("B", 4<<10)
	in.Tokens.RefreshToken = strings.Repeat("C", 2<<10)
	w := httptest.NewRecorder()
	if _, err := m.Start(w, httptest.NewRequest("GET", "/", nil), in); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	ck := w.Result().Cookies()[0]
	if n := len(ck.Name) + 1 + len(ck.Value); n > 256 {
		t.Errorf("len(cookie name=value) = %d, want <= 256", n)
	}
	if strings.Contains(ck.Value, "eyJ") || strings.Contains(w.Header().Get("Set-Cookie"), "AAAA") {
		t.Errorf("cookie %q carries token material", ck.Value)
	}
	s := load(t, m, ck)
	if s == nil || s.Tokens().IDToken != in.Tokens.IDToken {
		t.Fatalf("Load() did not return the 8 KB ID token")
	}
}

// inventedCookies returns cookie values a browser could send for store st,
// none naming a session that st issued.
func inventedCookies(t *testing.T, name string, st *storeCore, valid string) map[string]string {
	t.Helper()
	rawID := randomKey(idBytes)
	other := securecookie.CodecsFromPairs(keyPair()...)
	for _, c := range other {
		c.(*securecookie.SecureCookie).SetSerializer(securecookie.NopEncoder{})
	}
	otherKey, err := securecookie.EncodeMulti(name, rawID, other...)
	if err != nil {
		t.Fatal(err)
	}
	unknown, err := securecookie.EncodeMulti(name, rawID, st.codecs...)
	if err != nil {
		t.Fatal(err)
	}
	short, err := securecookie.EncodeMulti(name, rawID[:8], st.codecs...)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte(valid)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return map[string]string{
		"random":              base64.RawURLEncoding.EncodeToString(randomKey(32)),
		"plain id":            base64.RawURLEncoding.EncodeToString(rawID),
		"tampered":            string(b),
		"other key":           otherKey,
		"signed, unknown id":  unknown,
		"signed, short id":    short,
		"empty":               "",
		"huge":                strings.Repeat("A", 5000),
		"valid with trailing": valid + "x",
	}
}

func TestStoreInventedIDNeverAdopted(t *testing.T) {
	o := testOptions(nil)
	store := newMemory(t, o)
	m := NewManager(store, o)
	_, valid := start(t, m, testSignIn("u1"))
	for name, v := range inventedCookies(t, store.CookieName(), store.c, valid.Value) {
		ck := &http.Cookie{Name: store.CookieName(), Value: v}
		if s := load(t, m, ck); s != nil {
			t.Errorf("Load(%s) = session %q, want nil", name, s.SessionID())
		}
		// Through the gorilla interface: a new session with a fresh id,
		// and saving it stores it under that fresh id only.
		r := requestWith(ck)
		gs, err := store.New(r, store.CookieName())
		if err != nil {
			t.Fatalf("New(%s) error = %v", name, err)
		}
		if !gs.IsNew || gs.ID == "" {
			t.Errorf("New(%s) = IsNew %v, ID %q; want a new session with an id", name, gs.IsNew, gs.ID)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(gs.ID); err != nil || len(raw) != idBytes {
			t.Errorf("New(%s) ID = %q, want %d random bytes in base64url", name, gs.ID, idBytes)
		}
		if id, ok := store.c.cookieID(r, store.CookieName()); ok && id == gs.ID {
			t.Errorf("New(%s) adopted the cookie's id %q", name, id)
		}
		w := httptest.NewRecorder()
		gs.Values["k"] = "v"
		if err := store.Save(r, w, gs); err != nil {
			t.Fatalf("Save(%s) error = %v", name, err)
		}
		set := w.Result().Cookies()[0]
		if set.Value == v {
			t.Errorf("Save(%s) sent back the invented cookie", name)
		}
		gs2, err := store.New(requestWith(set), store.CookieName())
		if err != nil || gs2.IsNew || gs2.ID != gs.ID || gs2.Values["k"] != "v" {
			t.Errorf("New(saved cookie) = IsNew %v, ID %q, k %v, err %v; want the saved session %q", gs2.IsNew, gs2.ID, gs2.Values["k"], err, gs.ID)
		}
	}
}

func TestStoreKeyRotation(t *testing.T) {
	oldPair, newPair := keyPair(), keyPair()
	o := testOptions(nil)
	o.KeyPairs = oldPair
	before, err := newStoreCore(o)
	if err != nil {
		t.Fatal(err)
	}
	o.KeyPairs = append(append([][]byte{}, newPair...), oldPair...)
	after, err := newStoreCore(o)
	if err != nil {
		t.Fatal(err)
	}
	id := newID()
	future := time.Now().Add(time.Hour)
	oldCookie, err := before.cookie("portal", id, future)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := after.cookieID(requestWith(oldCookie), "portal"); !ok || got != id {
		t.Errorf("rotated cookieID(old cookie) = %q, %v; want %q, true", got, ok, id)
	}
	newCookie, err := after.cookie("portal", id, future)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before.cookieID(requestWith(newCookie), "portal"); ok {
		t.Errorf("old-keys cookieID(new cookie) succeeded, want the new pair to encode")
	}
	if got, ok := after.cookieID(requestWith(newCookie), "portal"); !ok || got != id {
		t.Errorf("rotated cookieID(new cookie) = %q, %v; want %q, true", got, ok, id)
	}
}

func TestStoreIdleTimeout(t *testing.T) {
	clock := newFakeClock()
	o := testOptions(clock)
	store := newMemory(t, o)
	m := NewManager(store, o)
	_, ck := start(t, m, testSignIn("u1"))
	for i := range 3 {
		clock.Advance(29 * time.Minute)
		s := load(t, m, ck)
		if s == nil {
			t.Fatalf("Load() after 29 min idle (round %d) = nil, want the session", i)
		}
		if err := m.Save(httptest.NewRecorder(), requestWith(ck), s); err != nil {
			t.Fatalf("Save() error = %v", err)
		}
	}
	clock.Advance(31 * time.Minute)
	if s := load(t, m, ck); s != nil {
		t.Errorf("Load() after 31 min idle = session, want nil")
	}
	if n := store.Len(); n != 0 {
		t.Errorf("store.Len() after idle expiry = %d, want 0 (record deleted)", n)
	}
}

func TestStoreAbsoluteTimeout(t *testing.T) {
	clock := newFakeClock()
	o := testOptions(clock)
	m := NewManager(newMemory(t, o), o)
	_, ck := start(t, m, testSignIn("u1"))
	for elapsed := 10 * time.Minute; elapsed < 12*time.Hour; elapsed += 10 * time.Minute {
		clock.Advance(10 * time.Minute)
		s := load(t, m, ck)
		if s == nil {
			t.Fatalf("Load() at %v (active) = nil, want the session", elapsed)
		}
		if err := m.Save(httptest.NewRecorder(), requestWith(ck), s); err != nil {
			t.Fatalf("Save() error = %v", err)
		}
	}
	clock.Advance(10 * time.Minute) // 12 h since sign-in
	if s := load(t, m, ck); s != nil {
		t.Errorf("Load() at 12h = session, want nil (absolute timeout)")
	}
}

func TestStoreConfiguredTimeouts(t *testing.T) {
	clock := newFakeClock()
	o := testOptions(clock)
	o.IdleTimeout = 5 * time.Minute
	o.AbsoluteTimeout = time.Hour
	m := NewManager(newMemory(t, o), o)
	_, ck := start(t, m, testSignIn("u1"))
	if ck.MaxAge != 3600 {
		t.Errorf("cookie MaxAge = %d, want 3600", ck.MaxAge)
	}
	clock.Advance(4 * time.Minute)
	if load(t, m, ck) == nil {
		t.Fatalf("Load() after 4 min = nil, want the session")
	}
	clock.Advance(2 * time.Minute) // 6 min since the last recorded use
	if load(t, m, ck) != nil {
		t.Errorf("Load() after 6 min without Save = session, want nil (idle 5 min)")
	}
}

func TestStoreMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	o := testOptions(nil)
	o.MaxSessions = 3
	store := newMemory(t, o)
	m := NewManager(store, o)
	_, c1 := start(t, m, testSignIn("u1"))
	_, c2 := start(t, m, testSignIn("u2"))
	_, c3 := start(t, m, testSignIn("u3"))
	if load(t, m, c1) == nil { // u1 is now the most recently used
		t.Fatal("Load(u1) = nil")
	}
	_, c4 := start(t, m, testSignIn("u4"))
	if n := store.Len(); n != 3 {
		t.Errorf("store.Len() = %d, want 3", n)
	}
	for _, tc := range []struct {
		name string
		ck   *http.Cookie
		want bool
	}{{"u1", c1, true}, {"u2", c2, false}, {"u3", c3, true}, {"u4", c4, true}} {
		if got := load(t, m, tc.ck) != nil; got != tc.want {
			t.Errorf("Load(%s) found = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStoreGorillaRoundTrip(t *testing.T) {
	o := testOptions(nil)
	store := newMemory(t, o)
	r := httptest.NewRequest("GET", "/", nil)
	s, err := store.Get(r, store.CookieName())
	if err != nil || !s.IsNew {
		t.Fatalf("Get() = IsNew %v, err %v; want a new session", s.IsNew, err)
	}
	if again, _ := store.Get(r, store.CookieName()); again != s {
		t.Errorf("Get() twice on one request returned different sessions, want the cached one")
	}
	s.Values["theme"] = "dark"
	w := httptest.NewRecorder()
	if err := sessions.Save(r, w); err != nil {
		t.Fatalf("sessions.Save() error = %v", err)
	}
	ck := w.Result().Cookies()[0]
	got, err := store.Get(requestWith(ck), store.CookieName())
	if err != nil || got.IsNew || got.ID != s.ID || got.Values["theme"] != "dark" {
		t.Fatalf("Get(saved) = IsNew %v, ID %q, theme %v, err %v; want %q dark", got.IsNew, got.ID, got.Values["theme"], err, s.ID)
	}
	// A gorilla session without a signed-in user is not a Manager session.
	if ms := load(t, NewManager(store, o), ck); ms != nil {
		t.Errorf("Manager.Load(anonymous gorilla session) = %q, want nil", ms.SessionID())
	}
	got.Options.MaxAge = -1
	w = httptest.NewRecorder()
	if err := store.Save(requestWith(ck), w, got); err != nil {
		t.Fatalf("Save(MaxAge -1) error = %v", err)
	}
	if c := w.Result().Cookies()[0]; c.MaxAge >= 0 {
		t.Errorf("Save(MaxAge -1) cookie MaxAge = %d, want < 0", c.MaxAge)
	}
	if again, _ := store.New(requestWith(ck), store.CookieName()); !again.IsNew || again.ID == s.ID {
		t.Errorf("New(deleted cookie) = IsNew %v, ID %q; want new with a fresh id", again.IsNew, again.ID)
	}
}

func TestStoreRecordTamperedIsAbsent(t *testing.T) {
	o := testOptions(nil)
	store := newMemory(t, o)
	m := NewManager(store, o)
	s, ck := start(t, m, testSignIn("u1"))
	store.mu.Lock()
	d := store.items[s.SessionID()].Value.(*memItem).data
	d[len(d)-1] ^= 1
	store.mu.Unlock()
	if got := load(t, m, ck); got != nil {
		t.Errorf("Load(tampered record) = session, want nil")
	}
}

// bigSignIn has token sizes typical of Entra ID (access 2.5 KB, refresh
// 1.8 KB, ID 1.5 KB) plus some recent lists.
func bigSignIn(i int) *SignIn {
	in := testSignIn("u" + string(rune('a'+i%26)))
	in.Tokens.AccessToken = "eyJ" + strings.Repeat("a", 2500)
	in.Tokens.RefreshToken = strings.Repeat("r", 1800)
	in.Tokens.IDToken = "eyJ" + strings.Repeat("i", 1500)
	return in
}

// memoryFootprint fills a MemoryStore with n signed-in sessions and returns
// the stored bytes and heap bytes per session.
func memoryFootprint(t testing.TB, n int) (stored, heap float64) {
	o := testOptions(nil)
	store := newMemory(t, o)
	m := NewManager(store, o)
	in := bigSignIn(0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		s, _ := start(t, m, in)
		s.Remember("wf:env-"+string(rune('a'+i%26)), "00000000-0000-0000-0000-000000000001", 10)
		s.OnceToken()
		if err := m.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), s); err != nil {
			t.Fatalf("Save() error = %v", err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	store.mu.Lock()
	total := 0
	for _, e := range store.items {
		total += len(e.Value.(*memItem).data)
	}
	store.mu.Unlock()
	runtime.KeepAlive(store)
	return float64(total) / float64(n), float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

func TestStoreMemoryFootprint(t *testing.T) {
	stored, heap := memoryFootprint(t, 1000)
	t.Logf("memory store, 1,000 signed-in sessions (tokens 2.5+1.8+1.5 KB): %.0f stored bytes/session, %.0f heap bytes/session", stored, heap)
	if stored > 10<<10 {
		t.Errorf("stored bytes per session = %.0f, want <= %d", stored, 10<<10)
	}
	if heap > 10<<10 {
		t.Errorf("heap bytes per session = %.0f, want <= %d", heap, 10<<10)
	}
}

func BenchmarkStoreMemoryFootprint(b *testing.B) {
	for b.Loop() {
		stored, heap := memoryFootprint(b, 1000)
		b.ReportMetric(stored, "stored-B/session")
		b.ReportMetric(heap, "heap-B/session")
	}
}

func TestStoreMemoryLockHonoursContext(t *testing.T) {
	var l lockMap
	unlock, err := l.lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.lock(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("lock(held, cancelled ctx) error = %v, want context.Canceled", err)
	}
	unlock()
	unlock() // idempotent
	u2, err := l.lock(context.Background(), "k")
	if err != nil {
		t.Fatalf("lock(after unlock) error = %v", err)
	}
	u2()
	if len(l.m) != 0 {
		t.Errorf("lockMap entries after all unlocked = %d, want 0", len(l.m))
	}
}
