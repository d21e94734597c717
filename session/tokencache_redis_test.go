package session

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"ppportal/internal/redistest"
)

// tokenCacheKey is a 32-byte root key for the token cache tests.
var tokenCacheKey = bytes.Repeat([]byte{7}, 32)

func newRedisTokenCache(t *testing.T, addr string, o StoreOptions) *RedisTokenCache {
	t.Helper()
	if o.EncryptionKey == nil {
		o.EncryptionKey = tokenCacheKey
	}
	c, err := NewRedisTokenCache(redisClient(t, addr), o)
	if err != nil {
		t.Fatalf("NewRedisTokenCache() error = %v", err)
	}
	return c
}

func TestRedisTokenCacheRoundTripEncrypted(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	clk := newTestClock()
	c := newRedisTokenCache(t, addr, StoreOptions{Now: clk.Now})
	ctx := context.Background()
	const tok = "eyJhbGciOi.secret-access-token.sig"
	key := userPrefix(User{TenantID: "t", OID: "o"}) + "h/" + scopePPAPI
	expiry := clk.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := c.Set(ctx, key, tok, expiry); err != nil {
		t.Fatalf("Set() error = %v", err)
	}
	got, gotExp, ok, err := c.Get(ctx, key)
	if err != nil || !ok || got != tok || !gotExp.Equal(expiry) {
		t.Errorf("Get(key) = %q, %v, %v, %v, want %q, %v, true, nil", got, gotExp, ok, err, tok, expiry)
	}

	rdb := redisClient(t, addr)
	dump := redisDump(t, rdb)
	rk := DefaultRedisPrefix + "obo:" + key
	if _, ok := dump[rk]; len(dump) != 1 || !ok {
		t.Fatalf("Redis keys = %v, want exactly %q", keysOf(dump), rk)
	}
	if strings.Contains(dump[rk], "secret-access-token") {
		t.Errorf("the token is readable at rest in Redis")
	}
	pttl, err := rdb.PTTL(ctx, rk).Result()
	if err != nil || pttl <= 59*time.Minute || pttl > time.Hour {
		t.Errorf("PTTL(%s) = %v, %v, want just under 1h (until expiry)", rk, pttl, err)
	}

	// Moved to another key, the value does not open: the key is bound.
	other := userPrefix(User{TenantID: "t", OID: "other"}) + "h/" + scopePPAPI
	if err := rdb.Set(ctx, DefaultRedisPrefix+"obo:"+other, dump[rk], 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, _, ok, err := c.Get(ctx, other); ok || got != "" || err != nil {
		t.Errorf("Get(value moved to another key) = %q, %v, %v, want a miss", got, ok, err)
	}
	// Another root key does not open it either.
	c2 := newRedisTokenCache(t, addr, StoreOptions{Now: clk.Now, EncryptionKey: bytes.Repeat([]byte{8}, 32)})
	if got, _, ok, err := c2.Get(ctx, key); ok || got != "" || err != nil {
		t.Errorf("Get(with another EncryptionKey) = %q, %v, %v, want a miss", got, ok, err)
	}
	// Past its expiry by the cache's clock, it is a miss.
	clk.Advance(time.Hour)
	if _, _, ok, err := c.Get(ctx, key); ok || err != nil {
		t.Errorf("Get(expired) = %v, %v, want a miss", ok, err)
	}
	// An expiry already passed is not stored.
	if err := c.Set(ctx, "obo/x/y", tok, clk.Now().Add(-time.Second)); err != nil {
		t.Errorf("Set(expired) error = %v", err)
	}
	if n, _ := rdb.Exists(ctx, DefaultRedisPrefix+"obo:obo/x/y").Result(); n != 0 {
		t.Errorf("an expired token was stored")
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRedisTokenCacheDeletePrefix(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	c := newRedisTokenCache(t, addr, StoreOptions{RedisPrefix: "app[1]:"})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	a, b := userPrefix(User{TenantID: "t", OID: "a"}), userPrefix(User{TenantID: "t", OID: "b"})
	for i := range 600 { // more than one SCAN batch
		if err := c.Set(ctx, a+"h"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"/"+itoa3(i), "tok", exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(ctx, b+"h/"+scopePPAPI, "tok-b", exp); err != nil {
		t.Fatal(err)
	}
	rdb := redisClient(t, addr)
	// A key outside the cache's prefix that a glob on "app[1]" would match.
	if err := rdb.Set(ctx, "app1:obo:"+a+"h/z", "keep", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePrefix(ctx, a); err != nil {
		t.Fatalf("DeletePrefix() error = %v", err)
	}
	left := keysOf(redisDump(t, rdb))
	want := map[string]bool{"app[1]:obo:" + b + "h/" + scopePPAPI: true, "app1:obo:" + a + "h/z": true}
	if len(left) != len(want) || !want[left[0]] || !want[left[1]] {
		t.Errorf("keys after DeletePrefix(user a) = %v, want only %v", left, want)
	}
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
}

func TestRedisTokenCacheLock(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	c1 := newRedisTokenCache(t, addr, StoreOptions{})
	c2 := newRedisTokenCache(t, addr, StoreOptions{})
	ctx := context.Background()
	unlock, err := c1.Lock(ctx, "k")
	if err != nil {
		t.Fatalf("Lock() error = %v", err)
	}
	// Held: another replica waits until its context ends.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err = c2.Lock(short, "k")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock(held, 30ms) error = %v, want DeadlineExceeded", err)
	}
	// Another key is free.
	if u, err := c2.Lock(ctx, "other"); err != nil {
		t.Errorf("Lock(other key) error = %v", err)
	} else {
		u()
	}
	// Released: the waiter gets it.
	got := make(chan error, 1)
	go func() {
		u, err := c2.Lock(ctx, "k")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Errorf("Lock(after release) error = %v", err)
	}
}

// TestRedisTokenCacheOneExchangeAcrossReplicas is SECURITY.md G9: three
// brokers (three replicas) sharing one Redis, 60 concurrent requests of one
// user over two audiences, make exactly one on-behalf-of exchange per
// audience.
func TestRedisTokenCacheOneExchangeAcrossReplicas(t *testing.T) {
	addr, _, _ := redistest.Start(t)
	e := newAuthEnv(t, nil)
	var brokers []*Broker
	for range 3 {
		brokers = append(brokers, NewBroker(e.a, BrokerOptions{Cache: newRedisTokenCache(t, addr, StoreOptions{Now: e.clk.Now})}))
	}
	be := &brokerEnv{authEnv: e, b: brokers[0]}
	ctx, h := be.holderFor(t, userAdmin)
	gate := make(chan struct{})
	e.f.mu.Lock()
	e.f.oboBlock = gate // hold the first exchange so that every replica misses
	e.f.mu.Unlock()

	var mu sync.Mutex
	tokens := map[string]map[string]bool{}
	var opened sync.Once
	errs := concurrently(60, func(i int) error {
		scope := scopePPAPI
		if i%2 == 1 {
			scope = scopeBAP
		}
		if i == 59 {
			opened.Do(func() { close(gate) })
		}
		tok, err := brokers[i%3].Token(ctx, scope)
		mu.Lock()
		defer mu.Unlock()
		if tokens[scope] == nil {
			tokens[scope] = map[string]bool{}
		}
		tokens[scope][tok] = true
		return err
	})
	opened.Do(func() { close(gate) })
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Token call %d: %v", i, err)
		}
	}
	for _, scope := range []string{scopePPAPI, scopeBAP} {
		if n := e.f.count("obo " + scope); n != 1 {
			t.Errorf("OBO exchanges for %s over 3 replicas = %d, want 1", scope, n)
		}
		if n := len(tokens[scope]); n != 1 {
			t.Errorf("distinct tokens for %s = %d, want 1", scope, n)
		}
	}
	// Sign-out on one replica forgets the tokens for all of them.
	if err := brokers[2].ForgetContext(context.Background(), h.user); err != nil {
		t.Fatalf("ForgetContext() error = %v", err)
	}
	if _, err := brokers[0].Token(ctx, scopePPAPI); err != nil {
		t.Fatal(err)
	}
	if n := e.f.count("obo " + scopePPAPI); n != 2 {
		t.Errorf("OBO exchanges after sign-out on another replica = %d, want 2", n)
	}
}
