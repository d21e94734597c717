package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/sessions"
)

func newTestManager(t testing.TB, clock *fakeClock) (*Manager, *countingStore) {
	t.Helper()
	o := testOptions(clock)
	cs := &countingStore{MemoryStore: newMemory(t, o)}
	return NewManager(cs, o), cs
}

func save(t testing.TB, m *Manager, s *Session) {
	t.Helper()
	if err := m.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), s); err != nil {
		t.Fatalf("Save() error = %v", err)
	}
}

func TestManagerLoadRoundTrip(t *testing.T) {
	m, _ := newTestManager(t, nil)
	in := testSignIn("u1")
	in.AuthTime = time.Date(2026, 12, 1, 8, 59, 0, 0, time.UTC)
	s, ck := start(t, m, in)
	got := load(t, m, ck)
	if got == nil {
		t.Fatal("Load() = nil, want the session")
	}
	if got.SessionID() != s.SessionID() {
		t.Errorf("Load().SessionID() = %q, want %q", got.SessionID(), s.SessionID())
	}
	if diff := cmp.Diff(in.User, got.User()); diff != "" {
		t.Errorf("Load().User() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(in.Tokens, got.Tokens()); diff != "" {
		t.Errorf("Load().Tokens() mismatch (-want +got):\n%s", diff)
	}
	if !got.AuthTime().Equal(in.AuthTime) {
		t.Errorf("Load().AuthTime() = %v, want %v", got.AuthTime(), in.AuthTime)
	}
	if s, err := m.Load(httptest.NewRequest("GET", "/", nil)); s != nil || err != nil {
		t.Errorf("Load(no cookie) = %v, %v; want nil, nil", s, err)
	}
}

func TestManagerStartRejectsMissingIdentity(t *testing.T) {
	m, _ := newTestManager(t, nil)
	for _, in := range []*SignIn{nil, {}, {User: User{OID: "o"}}, {User: User{TenantID: "t"}}} {
		if _, err := m.Start(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), in); err == nil {
			t.Errorf("Start(%+v) error = nil, want an error", in)
		}
	}
}

func TestManagerStartDestroysOldSession(t *testing.T) {
	m, cs := newTestManager(t, nil)
	s1, c1 := start(t, m, testSignIn("u1"))
	s2, c2 := start(t, m, testSignIn("u1"), c1) // signs in again with the old cookie
	if s1.SessionID() == s2.SessionID() || c1.Value == c2.Value {
		t.Fatalf("Start() kept the session id %q, want a new one", s1.SessionID())
	}
	if got := load(t, m, c1); got != nil {
		t.Errorf("Load(old cookie) = %q, want nil", got.SessionID())
	}
	if got := load(t, m, c2); got == nil || got.SessionID() != s2.SessionID() {
		t.Errorf("Load(new cookie) = %v, want session %q", got, s2.SessionID())
	}
	if n := cs.Len(); n != 1 {
		t.Errorf("store.Len() = %d, want 1 (old record deleted)", n)
	}
}

func TestManagerStartIgnoresPlantedCookie(t *testing.T) {
	m, cs := newTestManager(t, nil)
	// An attacker plants a validly signed cookie naming an id of their
	// choosing (fixation); sign-in must not use it.
	planted := newID()
	ck, err := cs.c.cookie(cs.CookieName(), planted, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := start(t, m, testSignIn("u1"), ck)
	if s.SessionID() == planted {
		t.Fatalf("Start() adopted the planted id")
	}
	if got := load(t, m, ck); got != nil {
		t.Errorf("Load(planted cookie) = %q, want nil", got.SessionID())
	}
}

func TestManagerDestroyThenReplayFails(t *testing.T) {
	m, cs := newTestManager(t, nil)
	s, ck := start(t, m, testSignIn("u1"))
	w := httptest.NewRecorder()
	if err := m.Destroy(w, requestWith(ck), s); err != nil {
		t.Fatalf("Destroy() error = %v", err)
	}
	if got := w.Result().Cookies(); len(got) != 1 || got[0].MaxAge >= 0 {
		t.Errorf("Destroy() cookies = %v, want one expired cookie", got)
	}
	for i := range 1000 {
		if got := load(t, m, ck); got != nil {
			t.Fatalf("replay %d: Load(signed-out cookie) = %q, want nil", i, got.SessionID())
		}
	}
	if n := cs.Len(); n != 0 {
		t.Errorf("store.Len() after Destroy = %d, want 0", n)
	}
	// A save from a request still in flight does not bring it back.
	s.Remember("wf:e", "w", 5)
	save(t, m, s)
	if got := load(t, m, ck); got != nil {
		t.Errorf("Load() after Save of destroyed session = %q, want nil", got.SessionID())
	}
	if _, err := s.UpdateTokens(context.Background(), func(t Tokens) (Tokens, error) { return t, nil }); !errors.Is(err, ErrSessionEnded) {
		t.Errorf("UpdateTokens(destroyed) error = %v, want ErrSessionEnded", err)
	}
}

func TestManagerSaveWritesOnlyWhenDirty(t *testing.T) {
	clock := newFakeClock()
	m, cs := newTestManager(t, clock)
	_, ck := start(t, m, testSignIn("u1"))
	writes := func() int64 { return cs.writes.Swap(0) }
	writes()

	step := func(name string, want int64, do func(s *Session)) {
		t.Helper()
		s := load(t, m, ck)
		if s == nil {
			t.Fatalf("%s: Load() = nil", name)
		}
		do(s)
		save(t, m, s)
		if got := writes(); got != want {
			t.Errorf("%s: store writes = %d, want %d", name, got, want)
		}
	}
	nothing := func(*Session) {}
	step("poll", 0, nothing)
	for range 10 { // htmx polls every 2 s
		clock.Advance(2 * time.Second)
		step("poll", 0, nothing)
	}
	step("remember", 1, func(s *Session) { s.Remember("wf:e1", "w1", 5) })
	step("read recent", 0, func(s *Session) {
		if got := s.Recent("wf:e1"); !cmp.Equal(got, []string{"w1"}) {
			t.Errorf("Recent(wf:e1) = %v, want [w1]", got)
		}
	})
	step("csrf", 0, func(s *Session) { s.CSRFToken() })
	step("set flash", 1, func(s *Session) { s.SetFlash("Policy created") })
	step("take flash", 1, func(s *Session) {
		if got := s.TakeFlash(); got != "Policy created" {
			t.Errorf("TakeFlash() = %q, want %q", got, "Policy created")
		}
	})
	step("take no flash", 0, func(s *Session) {
		if got := s.TakeFlash(); got != "" {
			t.Errorf("TakeFlash() second time = %q, want empty", got)
		}
	})
	clock.Advance(time.Minute)
	step("touch after a minute", 1, nothing)
	clock.Advance(30 * time.Second)
	step("no touch within the minute", 0, nothing)
	if err := m.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), nil); err != nil {
		t.Errorf("Save(nil) error = %v, want nil", err)
	}
}

func TestManagerSaveKeepsTokensRefreshedMeanwhile(t *testing.T) {
	m, _ := newTestManager(t, nil)
	_, ck := start(t, m, testSignIn("u1"))
	a := load(t, m, ck) // a long request, loaded before the refresh
	b := load(t, m, ck)
	if _, err := b.UpdateTokens(context.Background(), func(cur Tokens) (Tokens, error) {
		cur.AccessToken, cur.RefreshToken = "access-2", "refresh-2"
		return cur, nil
	}); err != nil {
		t.Fatalf("UpdateTokens() error = %v", err)
	}
	a.Remember("wf:e1", "w1", 5)
	save(t, m, a)
	got := load(t, m, ck)
	if tok := got.Tokens(); tok.AccessToken != "access-2" || tok.RefreshToken != "refresh-2" {
		t.Errorf("Tokens() after a stale Save = %q/%q, want access-2/refresh-2", tok.AccessToken, tok.RefreshToken)
	}
	if r := got.Recent("wf:e1"); !cmp.Equal(r, []string{"w1"}) {
		t.Errorf("Recent(wf:e1) = %v, want [w1]", r)
	}
	if a.Tokens().AccessToken != "access-2" {
		t.Errorf("a.Tokens() after Save = %q, want the fresh access-2", a.Tokens().AccessToken)
	}
}

func TestManagerUnsupportedStore(t *testing.T) {
	o := testOptions(nil)
	m := NewManager(sessions.NewCookieStore(o.KeyPairs...), o)
	if _, err := m.Load(httptest.NewRequest("GET", "/", nil)); err == nil {
		t.Errorf("Load() with a CookieStore error = nil, want an error")
	}
	if _, err := m.Start(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), testSignIn("u")); err == nil {
		t.Errorf("Start() with a CookieStore error = nil, want an error")
	}
}

// runConcurrent runs n copies of fn at once and waits for them.
func runConcurrent(n int, fn func(i int)) {
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-startGate
			fn(i)
		})
	}
	close(startGate)
	wg.Wait()
}

// checkUpdateTokensSerializes has 20 concurrent requests, loaded through
// managers in turn, call UpdateTokens on one session.
func checkUpdateTokensSerializes(t *testing.T, ck *http.Cookie, managers ...*Manager) {
	t.Helper()
	// Counter: each fn sees the value the previous one stored.
	var inFlight, maxInFlight atomic.Int32
	var errs atomic.Int32
	runConcurrent(20, func(i int) {
		s := load(t, managers[i%len(managers)], ck)
		if s == nil {
			errs.Add(1)
			return
		}
		_, err := s.UpdateTokens(context.Background(), func(cur Tokens) (Tokens, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := maxInFlight.Load()
				if n <= m || maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			v, _ := strconv.Atoi(cur.AccessToken)
			cur.AccessToken = strconv.Itoa(v + 1)
			return cur, nil
		})
		if err != nil {
			t.Errorf("UpdateTokens() error = %v", err)
		}
	})
	if errs.Load() != 0 {
		t.Fatalf("Load() = nil in %d goroutines", errs.Load())
	}
	if got := load(t, managers[0], ck).Tokens().AccessToken; got != "20" {
		t.Errorf("counter after 20 concurrent UpdateTokens = %q, want 20", got)
	}
	if got := maxInFlight.Load(); got != 1 {
		t.Errorf("max concurrent fn calls = %d, want 1", got)
	}

	// Refresh once: 20 requests find the token expired; one refreshes, the
	// others see the fresh token.
	var refreshes atomic.Int32
	results := make([]string, 20)
	runConcurrent(20, func(i int) {
		s := load(t, managers[i%len(managers)], ck)
		if s == nil {
			t.Errorf("Load() = nil")
			return
		}
		got, err := s.UpdateTokens(context.Background(), func(cur Tokens) (Tokens, error) {
			if cur.AccessToken != "fresh" {
				refreshes.Add(1)
				cur.AccessToken = "fresh"
			}
			return cur, nil
		})
		if err != nil {
			t.Errorf("UpdateTokens() error = %v", err)
		}
		results[i] = got.AccessToken
	})
	if got := refreshes.Load(); got != 1 {
		t.Errorf("refreshes by 20 concurrent requests = %d, want 1", got)
	}
	for i, r := range results {
		if r != "fresh" {
			t.Errorf("UpdateTokens() result %d = %q, want fresh", i, r)
		}
	}
}

func TestSessionUpdateTokensSerializes(t *testing.T) {
	m, _ := newTestManager(t, nil)
	in := testSignIn("u1")
	in.Tokens.AccessToken = "0"
	_, ck := start(t, m, in)
	checkUpdateTokensSerializes(t, ck, m)
}

func TestSessionUpdateTokensErrorStoresNothing(t *testing.T) {
	m, cs := newTestManager(t, nil)
	s, ck := start(t, m, testSignIn("u1"))
	cs.writes.Store(0)
	boom := errors.New("invalid_grant")
	got, err := s.UpdateTokens(context.Background(), func(cur Tokens) (Tokens, error) {
		return Tokens{AccessToken: "bad"}, boom
	})
	if !errors.Is(err, boom) || got != (Tokens{}) {
		t.Errorf("UpdateTokens(failing fn) = %v, %v; want zero Tokens, %v", got, err, boom)
	}
	if n := cs.writes.Load(); n != 0 {
		t.Errorf("store writes after failing fn = %d, want 0", n)
	}
	if tok := load(t, m, ck).Tokens().AccessToken; tok != "access-u1" {
		t.Errorf("stored AccessToken = %q, want access-u1", tok)
	}
}

func TestSessionUpdateTokensLockWaitBounded(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, ck := start(t, m, testSignIn("u1"))
	other := load(t, m, ck)
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		other.UpdateTokens(context.Background(), func(cur Tokens) (Tokens, error) {
			close(held)
			<-release
			return cur, nil
		})
	}()
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.UpdateTokens(ctx, func(cur Tokens) (Tokens, error) { return cur, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("UpdateTokens(locked, cancelled ctx) error = %v, want context.Canceled", err)
	}
	close(release)
	<-done
}

func TestSessionOnceTokenSingleUse(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, ck := start(t, m, testSignIn("u1"))
	tok := s.OnceToken()
	if tok2 := s.OnceToken(); tok2 == tok || len(tok) < 22 {
		t.Fatalf("OnceToken() = %q then %q, want distinct 128-bit tokens", tok, tok2)
	}
	save(t, m, s)

	// 20 concurrent submits of the same form, each its own request.
	var wins atomic.Int32
	runConcurrent(20, func(int) {
		if s := load(t, m, ck); s != nil && s.UseOnceToken(tok) {
			wins.Add(1)
		}
	})
	if got := wins.Load(); got != 1 {
		t.Errorf("UseOnceToken by 20 concurrent requests: %d true, want exactly 1", got)
	}
	if load(t, m, ck).UseOnceToken(tok) {
		t.Errorf("UseOnceToken(used token) = true, want false")
	}
	for _, bad := range []string{"", "unknown", string(make([]byte, 100))} {
		if load(t, m, ck).UseOnceToken(bad) {
			t.Errorf("UseOnceToken(%q) = true, want false", bad)
		}
	}

	// Concurrent use on one *Session, with a token not yet saved.
	one := load(t, m, ck)
	tok3 := one.OnceToken()
	wins.Store(0)
	runConcurrent(20, func(int) {
		if one.UseOnceToken(tok3) {
			wins.Add(1)
		}
	})
	if got := wins.Load(); got != 1 {
		t.Errorf("UseOnceToken on one session by 20 goroutines: %d true, want exactly 1", got)
	}
}

func TestSessionOnceTokenBounded(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, ck := start(t, m, testSignIn("u1"))
	first := s.OnceToken()
	var last string
	for range maxOnceTokens {
		last = s.OnceToken()
	}
	save(t, m, s)
	s = load(t, m, ck)
	if s.UseOnceToken(first) {
		t.Errorf("UseOnceToken(oldest of %d) = true, want false (dropped)", maxOnceTokens+1)
	}
	if !s.UseOnceToken(last) {
		t.Errorf("UseOnceToken(newest) = false, want true")
	}
}

func TestSessionRemember(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, ck := start(t, m, testSignIn("u1"))
	for _, v := range []string{"a", "b", "c", "a", "d"} {
		s.Remember("wf:env1", v, 3)
	}
	s.Remember("wf:env2", "x", 0)
	s.Remember("", "ignored", 3)
	s.Remember("wf:env3", string(make([]byte, maxItemLen+1)), 3)
	save(t, m, s)
	got := load(t, m, ck)
	for _, tc := range []struct {
		list string
		want []string
	}{
		{"wf:env1", []string{"d", "a", "c"}},
		{"wf:env2", []string{"x"}},
		{"wf:env3", nil},
		{"", nil},
		{"wf:none", nil},
	} {
		if r := got.Recent(tc.list); !cmp.Equal(r, tc.want) {
			t.Errorf("Recent(%q) = %v, want %v", tc.list, r, tc.want)
		}
	}
	// Recent returns a copy.
	r := got.Recent("wf:env1")
	r[0] = "changed"
	if again := got.Recent("wf:env1"); again[0] != "d" {
		t.Errorf("Recent() after changing its result = %v, want d first", again)
	}
	// Bounded: values per list and number of lists.
	got.Remember("big", "v", 3)
	for i := range 100 {
		got.Remember(fmt.Sprint("list", i), "v", 3)
	}
	save(t, m, got)
	got = load(t, m, ck)
	if n := len(got.Recent("big")); n != 0 {
		t.Errorf("len(Recent(big)) = %d, want 0 (evicted by 100 newer lists)", n)
	}
	if n := len(got.st.Recent); n != maxLists {
		t.Errorf("number of lists = %d, want %d", n, maxLists)
	}
	got.Remember("big", "0", 1000)
	for i := 1; i < 100; i++ {
		got.Remember("big", fmt.Sprint(i), 1000)
	}
	if n := len(got.Recent("big")); n != maxListLen {
		t.Errorf("len(Recent(big)) = %d, want %d", n, maxListLen)
	}
}

func TestSessionFlashAcrossRequests(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, ck := start(t, m, testSignIn("u1"))
	s.SetFlash("Installed")
	save(t, m, s)

	a := load(t, m, ck)
	b := load(t, m, ck)
	if got := a.TakeFlash(); got != "Installed" {
		t.Fatalf("TakeFlash() = %q, want Installed", got)
	}
	b.SetFlash("Deleted") // a newer notice set by another request
	save(t, m, b)
	save(t, m, a) // taking the old notice must not remove the new one
	if got := load(t, m, ck).TakeFlash(); got != "Deleted" {
		t.Errorf("TakeFlash() = %q, want Deleted", got)
	}
	long := load(t, m, ck)
	long.SetFlash(string(make([]byte, 5000)))
	if got := len(long.TakeFlash()); got > maxFlashLen {
		t.Errorf("len(flash) = %d, want <= %d", got, maxFlashLen)
	}
}

func TestSessionCSRF(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s1, c1 := start(t, m, testSignIn("u1"))
	s2, _ := start(t, m, testSignIn("u2"))
	tok := s1.CSRFToken()
	if len(tok) < 43 {
		t.Errorf("CSRFToken() = %q, want at least 256 bits", tok)
	}
	if again := load(t, m, c1).CSRFToken(); again != tok {
		t.Errorf("CSRFToken() on a later request = %q, want the constant %q", again, tok)
	}
	if tok == s2.CSRFToken() {
		t.Errorf("two sessions share a CSRF token")
	}
	if tok == s1.SessionID() {
		t.Errorf("CSRFToken() equals the session id")
	}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{tok, true},
		{s2.CSRFToken(), false},
		{"", false},
		{tok[:len(tok)-1], false},
		{tok + "A", false},
	} {
		if got := s1.CheckCSRF(tc.in); got != tc.want {
			t.Errorf("CheckCSRF(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestManagerHolderContext(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, _ := start(t, m, testSignIn("u1"))
	ctx := WithHolder(context.Background(), s)
	if h := HolderFrom(ctx); h == nil || h.SessionID() != s.SessionID() || h.User().OID != "u1" {
		t.Errorf("HolderFrom(WithHolder(s)) = %v, want s", h)
	}
}

func TestManagerLoadExpiredDeletes(t *testing.T) {
	clock := newFakeClock()
	m, cs := newTestManager(t, clock)
	_, ck := start(t, m, testSignIn("u1"))
	clock.Advance(DefaultIdleTimeout)
	if s := load(t, m, ck); s != nil {
		t.Errorf("Load() at exactly the idle timeout = session, want nil")
	}
	if n := cs.Len(); n != 0 {
		t.Errorf("store.Len() = %d, want 0", n)
	}
}
