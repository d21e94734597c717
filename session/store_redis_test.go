package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"ppportal/internal/redistest"
)

// redisClient returns a client for addr with short timeouts and no retries,
// so that a stopped server shows at once.
func redisClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(addr)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q) error = %v", addr, err)
	}
	opt.DialTimeout = 200 * time.Millisecond
	opt.ReadTimeout = 200 * time.Millisecond
	opt.WriteTimeout = 200 * time.Millisecond
	opt.PoolTimeout = 200 * time.Millisecond
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// redisManagers returns n Managers, each with its own client and store, all
// on one Redis and with the same options: n replicas.
func redisManagers(t testing.TB, addr string, o StoreOptions, n int) []*Manager {
	t.Helper()
	var ms []*Manager
	for range n {
		st, err := NewRedisStore(redisClient(t, addr), o)
		if err != nil {
			t.Fatalf("NewRedisStore() error = %v", err)
		}
		ms = append(ms, NewManager(st, o))
	}
	return ms
}

// redisDump returns every key in Redis with its value.
func redisDump(t testing.TB, c *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("KEYS * error = %v", err)
	}
	out := map[string]string{}
	for _, k := range keys {
		v, err := c.Get(ctx, k).Result()
		if err != nil {
			t.Fatalf("GET %s error = %v", k, err)
		}
		out[k] = v
	}
	return out
}

func TestStoreRedisSessionAcrossManagers(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	o := testOptions(nil)
	o.Secure = true
	ms := redisManagers(t, addr, o, 2)
	in := testSignIn("u1")
	s, ck := start(t, ms[0], in)
	got := load(t, ms[1], ck)
	if got == nil {
		t.Fatal("second Manager: Load() = nil, want the session")
	}
	if got.SessionID() != s.SessionID() || got.User() != in.User || got.Tokens() != in.Tokens {
		t.Errorf("second Manager: Load() = %q %+v %+v, want %q %+v %+v", got.SessionID(), got.User(), got.Tokens(), s.SessionID(), in.User, in.Tokens)
	}
	if got.CSRFToken() != s.CSRFToken() {
		t.Errorf("CSRFToken() differs between replicas: %q and %q", got.CSRFToken(), s.CSRFToken())
	}
	got.Remember("wf:e1", "w1", 5)
	tok := got.OnceToken()
	save(t, ms[1], got)
	back := load(t, ms[0], ck)
	if r := back.Recent("wf:e1"); len(r) != 1 || r[0] != "w1" {
		t.Errorf("first Manager: Recent(wf:e1) = %v, want [w1]", r)
	}
	if !back.UseOnceToken(tok) || load(t, ms[1], ck).UseOnceToken(tok) {
		t.Errorf("UseOnceToken across replicas: want true once, then false")
	}
	// Sign out on one replica; the other no longer loads the cookie.
	if err := ms[0].Destroy(httptest.NewRecorder(), requestWith(ck), back); err != nil {
		t.Fatalf("Destroy() error = %v", err)
	}
	if got := load(t, ms[1], ck); got != nil {
		t.Errorf("second Manager: Load(signed-out cookie) = %q, want nil", got.SessionID())
	}
	if keys := redisDump(t, redisClient(t, addr)); len(keys) != 0 {
		t.Errorf("Redis keys after sign-out = %v, want none", keys)
	}
}

func TestStoreRedisNoTokensAtRest(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	o := testOptions(nil)
	ms := redisManagers(t, addr, o, 1)
	in := testSignIn("u1")
	in.Tokens = Tokens{
		AccessToken:  "eyJhbGciOiJSUzI1NiJ9.ACCESS-" + strings.Repeat("a", 1500),
		RefreshToken: "0.AAAA-REFRESH-" + strings.Repeat("r", 1000),
		IDToken:      "eyJhbGciOiJSUzI1NiJ9.IDTOKEN-" + strings.Repeat("i", 1000),
		Expiry:       time.Now().Add(time.Hour),
	}
	s, _ := start(t, ms[0], in)
	c := redisClient(t, addr)
	dump := redisDump(t, c)
	if len(dump) != 1 {
		t.Fatalf("Redis keys = %d, want 1", len(dump))
	}
	needles := []string{"eyJ", "ACCESS-", "REFRESH-", "IDTOKEN-", "aaaaaaaaaaaaaaaa", "rrrrrrrrrrrrrrrr", in.User.UPN, in.User.OID + "\x00", s.SessionID()}
	for k, v := range dump {
		if !strings.HasPrefix(k, DefaultRedisPrefix) {
			t.Errorf("Redis key %q, want prefix %q", k, DefaultRedisPrefix)
		}
		for _, n := range needles {
			if strings.Contains(k, n) || strings.Contains(v, n) {
				t.Errorf("Redis key %q or its value contains %q in clear", k, n)
			}
		}
		ttl, err := c.TTL(context.Background(), k).Result()
		if err != nil || ttl <= 0 || ttl > DefaultIdleTimeout {
			t.Errorf("TTL %s = %v, %v; want in (0, %v]", k, ttl, err, DefaultIdleTimeout)
		}
	}
}

func TestStoreRedisInventedIDNotAdopted(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	o := testOptions(nil)
	st, err := NewRedisStore(redisClient(t, addr), o)
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(st, o)
	_, valid := start(t, m, testSignIn("u1"))
	c := redisClient(t, addr)
	before := len(redisDump(t, c))
	for name, v := range inventedCookies(t, st.CookieName(), st.c, valid.Value) {
		ck := &http.Cookie{Name: st.CookieName(), Value: v}
		if s := load(t, m, ck); s != nil {
			t.Errorf("Load(%s) = session %q, want nil", name, s.SessionID())
		}
		gs, err := st.Get(requestWith(ck), st.CookieName())
		if err != nil || !gs.IsNew {
			t.Errorf("Get(%s) = IsNew %v, err %v; want a new session", name, gs.IsNew, err)
		}
		if id, ok := st.c.cookieID(requestWith(ck), st.CookieName()); ok && id == gs.ID {
			t.Errorf("Get(%s) adopted the cookie's id", name)
		}
	}
	if after := len(redisDump(t, c)); after != before {
		t.Errorf("Redis keys after invented cookies = %d, want %d (nothing created)", after, before)
	}
}

func TestStoreRedisUnavailable(t *testing.T) {
	addr, stop, restart := redistest.Start(t)
	o := testOptions(nil)
	ms := redisManagers(t, addr, o, 1)
	m := ms[0]
	s, ck := start(t, m, testSignIn("u1"))
	stop()

	begin := time.Now()
	got, err := m.Load(requestWith(ck))
	if elapsed := time.Since(begin); elapsed > time.Second {
		t.Errorf("Load() with Redis down took %v, want under 1s", elapsed)
	}
	if got != nil || !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("Load() with Redis down = %v, %v; want nil, ErrStoreUnavailable", got, err)
	}
	if _, err := m.Start(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), testSignIn("u2")); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("Start() with Redis down error = %v, want ErrStoreUnavailable", err)
	}
	if _, err := s.UpdateTokens(context.Background(), func(t Tokens) (Tokens, error) { return t, nil }); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("UpdateTokens() with Redis down error = %v, want ErrStoreUnavailable", err)
	}
	s.Remember("wf:e", "w", 3)
	if err := m.Save(httptest.NewRecorder(), requestWith(ck), s); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("Save(dirty) with Redis down error = %v, want ErrStoreUnavailable", err)
	}
	if err := m.Destroy(httptest.NewRecorder(), requestWith(ck), s); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("Destroy() with Redis down error = %v, want ErrStoreUnavailable", err)
	}
	if s.UseOnceToken("x") {
		t.Errorf("UseOnceToken() with Redis down = true, want false")
	}
	if err := m.Ping(context.Background()); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("Ping() with Redis down error = %v, want ErrStoreUnavailable", err)
	}
	if _, err := m.b.(*RedisStore).Get(requestWith(ck), "portal"); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("RedisStore.Get() with Redis down error = %v, want ErrStoreUnavailable", err)
	}

	restart()
	got, err = m.Load(requestWith(ck))
	if err != nil || got == nil || got.SessionID() != s.SessionID() {
		t.Fatalf("Load() after restart = %v, %v; want the session", got, err)
	}
	// The change that failed is still queued and is saved now.
	if err := m.Save(httptest.NewRecorder(), requestWith(ck), s); err != nil {
		t.Errorf("Save() after restart error = %v", err)
	}
	if r := load(t, m, ck).Recent("wf:e"); len(r) != 1 {
		t.Errorf("Recent(wf:e) after restart = %v, want [w]", r)
	}
	if err := m.Ping(context.Background()); err != nil {
		t.Errorf("Ping() after restart error = %v", err)
	}
}

func TestStoreRedisUpdateTokensAcrossManagers(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	o := testOptions(nil)
	ms := redisManagers(t, addr, o, 2)
	in := testSignIn("u1")
	in.Tokens.AccessToken = "0"
	_, ck := start(t, ms[0], in)
	checkUpdateTokensSerializes(t, ck, ms...)
	if keys := redisDump(t, redisClient(t, addr)); len(keys) != 1 {
		t.Errorf("Redis keys after updates = %d, want 1 (locks released)", len(keys))
	}
}

func TestStoreRedisKeyRotation(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	oldPair, newPair := keyPair(), keyPair()
	o := testOptions(nil)
	o.KeyPairs = oldPair
	before := redisManagers(t, addr, o, 1)[0]
	o.KeyPairs = append(append([][]byte{}, newPair...), oldPair...)
	after := redisManagers(t, addr, o, 1)[0]

	_, oldCookie := start(t, before, testSignIn("u1"))
	if load(t, after, oldCookie) == nil {
		t.Errorf("rotated Manager: Load(cookie from old keys) = nil, want the session")
	}
	_, newCookie := start(t, after, testSignIn("u2"))
	if load(t, before, newCookie) != nil {
		t.Errorf("old-keys Manager: Load(cookie from new keys) = session, want nil (new pair encodes)")
	}
	if load(t, after, newCookie) == nil {
		t.Errorf("rotated Manager: Load(new cookie) = nil, want the session")
	}
}

func TestStoreRedisTimeouts(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	clock := newFakeClock()
	o := testOptions(clock)
	m := redisManagers(t, addr, o, 1)[0]
	_, ck := start(t, m, testSignIn("u1"))
	clock.Advance(29 * time.Minute)
	if s := load(t, m, ck); s == nil {
		t.Fatalf("Load() after 29 min = nil, want the session")
	} else {
		save(t, m, s)
	}
	clock.Advance(29 * time.Minute)
	if load(t, m, ck) == nil {
		t.Fatalf("Load() 29 min after a touch = nil, want the session")
	}
	clock.Advance(2 * time.Minute)
	if load(t, m, ck) != nil {
		t.Errorf("Load() 31 min after a touch = session, want nil")
	}
	if keys := redisDump(t, redisClient(t, addr)); len(keys) != 0 {
		t.Errorf("Redis keys after idle expiry = %d, want 0", len(keys))
	}

	_, ck = start(t, m, testSignIn("u2"))
	for range 12 * 3 {
		clock.Advance(20 * time.Minute)
		if s := load(t, m, ck); s != nil {
			save(t, m, s)
		}
	}
	if load(t, m, ck) != nil {
		t.Errorf("Load() 12 h after sign-in = session, want nil (absolute timeout)")
	}
}

func TestStoreRedisRequiresEncryptionKey(t *testing.T) {
	o := testOptions(nil)
	o.EncryptionKey = nil
	if _, err := NewRedisStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), o); err == nil {
		t.Errorf("NewRedisStore(no EncryptionKey) error = nil, want an error")
	}
}
