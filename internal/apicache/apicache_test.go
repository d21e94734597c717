package apicache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ppportal/ppapi"
	"ppportal/session"
)

// fakeAPI counts calls; ListEnvironments blocks until release is closed.
type fakeAPI struct {
	API
	lists   atomic.Int32
	gets    atomic.Int32
	deletes atomic.Int32
	release chan struct{}
}

func (f *fakeAPI) ListEnvironments(ctx context.Context, expand string) ([]ppapi.Environment, error) {
	f.lists.Add(1)
	if f.release != nil {
		<-f.release
	}
	return []ppapi.Environment{{Name: "a"}, {Name: "b"}}, nil
}

func (f *fakeAPI) GetBillingPolicy(ctx context.Context, id string) (*ppapi.BillingPolicy, error) {
	f.gets.Add(1)
	return &ppapi.BillingPolicy{ID: id}, nil
}

func (f *fakeAPI) DeleteEnvironment(ctx context.Context, id string) (*ppapi.Accepted, error) {
	f.deletes.Add(1)
	return &ppapi.Accepted{Status: 202}, nil
}

var _ API = (*fakeAPI)(nil)

type holder struct{ u session.User }

func (h holder) SessionID() string      { return "s-" + h.u.OID }
func (h holder) User() session.User     { return h.u }
func (h holder) Tokens() session.Tokens { return session.Tokens{} }
func (h holder) UpdateTokens(ctx context.Context, fn func(session.Tokens) (session.Tokens, error)) (session.Tokens, error) {
	return fn(session.Tokens{})
}

func userCtx(tid, oid string) context.Context {
	return session.WithHolder(context.Background(), holder{session.User{TenantID: tid, OID: oid}})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestConcurrentIdenticalReadsShareOneCall(t *testing.T) {
	up := &fakeAPI{release: make(chan struct{})}
	c := New(up, Options{})
	var joined sync.WaitGroup
	joined.Add(50)
	c.joining = joined.Done
	ctx := userCtx("t1", "alice")
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			envs, err := c.ListEnvironments(ctx, "x")
			if err != nil || len(envs) != 2 {
				t.Errorf("ListEnvironments = %v, %v", envs, err)
			}
		}()
	}
	// Every caller reaches the flight group while the first call is held;
	// DoChan joins them to it (it registers the call before returning).
	joined.Wait()
	close(up.release)
	wg.Wait()
	if n := up.lists.Load(); n != 1 {
		t.Errorf("upstream calls for 50 concurrent identical reads = %d, want 1", n)
	}
}

func TestNoCacheHitAcrossUsersOrTenants(t *testing.T) {
	up := &fakeAPI{}
	c := New(up, Options{})
	for _, ctx := range []context.Context{userCtx("t1", "alice"), userCtx("t1", "bob"), userCtx("t2", "alice")} {
		if _, err := c.ListEnvironments(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := up.lists.Load(); n != 3 {
		t.Errorf("upstream calls for three distinct users = %d, want 3", n)
	}
	c.ListEnvironments(userCtx("t1", "alice"), "")
	if n := up.lists.Load(); n != 3 {
		t.Errorf("a repeat read of the same user went upstream (%d calls)", n)
	}
}

func TestWritesInvalidateOnlyTheWritersCache(t *testing.T) {
	up := &fakeAPI{}
	c := New(up, Options{})
	alice, bob := userCtx("t1", "alice"), userCtx("t1", "bob")
	c.ListEnvironments(alice, "")
	c.ListEnvironments(bob, "")
	c.DeleteEnvironment(alice, "x")
	c.ListEnvironments(alice, "")
	c.ListEnvironments(bob, "")
	if n := up.lists.Load(); n != 3 {
		t.Errorf("upstream calls = %d, want 3 (alice re-reads after her write; bob's cache stays)", n)
	}
}

func TestCacheExpiresAfterTTL(t *testing.T) {
	up := &fakeAPI{}
	clk := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	c := New(up, Options{TTL: 5 * time.Second, Now: clk.now})
	ctx := userCtx("t1", "alice")
	c.ListEnvironments(ctx, "")
	clk.add(4 * time.Second)
	c.ListEnvironments(ctx, "")
	clk.add(2 * time.Second)
	c.ListEnvironments(ctx, "")
	if n := up.lists.Load(); n != 2 {
		t.Errorf("upstream calls = %d, want 2 (one within TTL served from cache)", n)
	}
}

func TestPolledReadsAreNotCached(t *testing.T) {
	up := &fakeAPI{}
	c := New(up, Options{})
	ctx := userCtx("t1", "alice")
	c.GetBillingPolicy(ctx, "p")
	c.GetBillingPolicy(ctx, "p")
	if n := up.gets.Load(); n != 2 {
		t.Errorf("GetBillingPolicy upstream calls = %d, want 2 (polled, never cached)", n)
	}
}

func TestAnonymousReadsPassThrough(t *testing.T) {
	up := &fakeAPI{}
	c := New(up, Options{})
	c.ListEnvironments(context.Background(), "")
	c.ListEnvironments(context.Background(), "")
	if n := up.lists.Load(); n != 2 {
		t.Errorf("anonymous reads upstream = %d, want 2 (nothing cached without a user)", n)
	}
}

func TestNegativeTTLDisablesCaching(t *testing.T) {
	up := &fakeAPI{}
	c := New(up, Options{TTL: -1})
	ctx := userCtx("t1", "alice")
	c.ListEnvironments(ctx, "")
	c.ListEnvironments(ctx, "")
	if n := up.lists.Load(); n != 2 {
		t.Errorf("upstream calls with caching off = %d, want 2", n)
	}
}
