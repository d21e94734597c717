// Package apicache sits between the handlers and the Power Platform API
// client and spares the API repeated work for one user: concurrent
// identical reads share one upstream call (singleflight), and reads are
// served from a short per-user cache that the same user's writes empty. It
// never serves one user's data to another: every key starts with the
// user's tenant and object id, taken from the signed-in session in the
// request's context.
package apicache

import (
	"context"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"ppportal/ppapi"
	"ppportal/session"
)

// API is the upstream: all of *ppapi.Client's operations.
type API interface {
	ListEnvironments(ctx context.Context, expand string) ([]ppapi.Environment, error)
	GetEnvironment(ctx context.Context, id, expand string) (*ppapi.Environment, error)
	DeleteEnvironment(ctx context.Context, id string) (*ppapi.Accepted, error)
	ListTenantApplicationPackages(ctx context.Context) ([]ppapi.ApplicationPackage, error)
	ListEnvironmentApplicationPackages(ctx context.Context, envID string) ([]ppapi.ApplicationPackage, error)
	InstallApplicationPackage(ctx context.Context, envID, pkg string) (*ppapi.Accepted, error)
	GetInstallStatus(ctx context.Context, envID, operationID string) (*ppapi.OperationStatus, error)
	ListFlowRuns(ctx context.Context, envID, workflowID, cursor string) (*ppapi.FlowRunPage, error)
	ListBillingPolicies(ctx context.Context) ([]ppapi.BillingPolicy, error)
	CreateBillingPolicy(ctx context.Context, req ppapi.BillingPolicyCreateRequest) (*ppapi.BillingPolicy, error)
	GetBillingPolicy(ctx context.Context, id string) (*ppapi.BillingPolicy, error)
	UpdateBillingPolicy(ctx context.Context, id string, req ppapi.BillingPolicyUpdateRequest) (*ppapi.BillingPolicy, error)
	DeleteBillingPolicy(ctx context.Context, id string) error
}

var _ API = (*ppapi.Client)(nil)
var _ API = (*Cache)(nil)

// Options tune the cache.
type Options struct {
	// TTL is how long a read is reused; default 5 s, at most 30 s
	// (SECURITY.md G9); negative: nothing is cached, calls are still
	// coalesced.
	TTL time.Duration
	// MaxEntries bounds the cache over all users; default 2,000.
	MaxEntries int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Observe, when set, is told of each read: "hit", "miss" or "shared"
	// (joined a call already in flight).
	Observe func(result string)
}

// Cache is the caching, coalescing API. It is safe for concurrent use.
type Cache struct {
	up      API
	ttl     time.Duration
	max     int
	now     func() time.Time
	observe func(string)
	flight  singleflight.Group
	joining func() // test hook: called before a read joins the flight group

	mu      sync.Mutex
	entries map[string]entry
	gen     map[string]uint64 // per user: bumped by each write
}

type entry struct {
	val     any
	expires time.Time
}

// flightTimeout bounds one shared upstream call, whoever waits for it: no
// longer than a page's own upstream deadline, so a stalled call is not
// joined by later requests after the page that started it gave up.
const flightTimeout = 8 * time.Second

// New wraps up.
func New(up API, o Options) *Cache {
	c := &Cache{up: up, ttl: o.TTL, max: o.MaxEntries, now: o.Now, observe: o.Observe,
		entries: map[string]entry{}, gen: map[string]uint64{}}
	if c.ttl == 0 {
		c.ttl = 5 * time.Second
	}
	if c.ttl > 30*time.Second {
		c.ttl = 30 * time.Second
	}
	if c.max <= 0 {
		c.max = 2000
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.observe == nil {
		c.observe = func(string) {}
	}
	return c
}

// userOf is the cache partition of the request: tenant and object id of
// the signed-in user, or "" when there is none (then nothing is cached or
// shared).
func userOf(ctx context.Context) string {
	h := session.HolderFrom(ctx)
	if h == nil {
		return ""
	}
	u := h.User()
	if u.TenantID == "" || u.OID == "" {
		return ""
	}
	return u.Key()
}

// read serves a read through the cache and the flight group. cache says
// whether the result may be reused for TTL (polled states may not).
func read[T any](c *Cache, ctx context.Context, cache bool, op string, args []string, call func(ctx context.Context) (T, error)) (T, error) {
	cache = cache && c.ttl > 0
	user := userOf(ctx)
	if user == "" {
		return call(ctx)
	}
	c.mu.Lock()
	gen := c.gen[user]
	c.mu.Unlock()
	key := user + "\x00" + op + "\x00" + strings.Join(args, "\x00") + "\x00" + itoa(gen)
	if cache {
		c.mu.Lock()
		e, ok := c.entries[key]
		c.mu.Unlock()
		if ok && c.now().Before(e.expires) {
			c.observe("hit")
			return e.val.(T), nil
		}
	}
	if c.joining != nil {
		c.joining()
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		// The call outlives a cancelled first caller: others may wait.
		if cache {
			// A flight that just ended may have filled the cache.
			c.mu.Lock()
			e, ok := c.entries[key]
			c.mu.Unlock()
			if ok && c.now().Before(e.expires) {
				return e.val, nil
			}
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
		defer cancel()
		v, err := call(fctx)
		if err == nil && cache {
			c.store(user, gen, key, v)
		}
		return v, err
	})
	var zero T
	select {
	case res := <-ch:
		if res.Shared {
			c.observe("shared")
		} else {
			c.observe("miss")
		}
		if res.Err != nil {
			return zero, res.Err
		}
		return res.Val.(T), nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (c *Cache) store(user string, gen uint64, key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen[user] != gen {
		return // the user wrote meanwhile: this read may predate the write
	}
	now := c.now()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			c.entries = map[string]entry{}
		}
	}
	c.entries[key] = entry{val: v, expires: now.Add(c.ttl)}
}

// wrote empties the user's cache after a write, whatever its outcome: an
// error may hide a change (outcome unknown).
func (c *Cache) wrote(ctx context.Context) {
	user := userOf(ctx)
	if user == "" {
		return
	}
	c.mu.Lock()
	c.gen[user]++
	prefix := user + "\x00"
	for k := range c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// Results are shared between the requests that read them within the TTL:
// callers must treat them as read-only (the handlers filter and sort
// indexes or copies, never the slices they are given). Copying a 10,000
// environment list on every request cost 3.4 MB and a third of the
// overview's allocations.

// ListEnvironments is cached.
func (c *Cache) ListEnvironments(ctx context.Context, expand string) ([]ppapi.Environment, error) {
	return read(c, ctx, true, "listEnvironments", []string{expand}, func(ctx context.Context) ([]ppapi.Environment, error) {
		return c.up.ListEnvironments(ctx, expand)
	})
}

// GetEnvironment is coalesced but not cached: a deletion's page polls it
// until the environment is gone.
func (c *Cache) GetEnvironment(ctx context.Context, id, expand string) (*ppapi.Environment, error) {
	e, err := read(c, ctx, false, "getEnvironment", []string{id, expand}, func(ctx context.Context) (*ppapi.Environment, error) {
		return c.up.GetEnvironment(ctx, id, expand)
	})
	if err != nil {
		return nil, err
	}
	cp := *e
	return &cp, nil
}

// ListTenantApplicationPackages is cached.
func (c *Cache) ListTenantApplicationPackages(ctx context.Context) ([]ppapi.ApplicationPackage, error) {
	return read(c, ctx, true, "getTenantApplicationPackages", nil, func(ctx context.Context) ([]ppapi.ApplicationPackage, error) {
		return c.up.ListTenantApplicationPackages(ctx)
	})
}

// ListEnvironmentApplicationPackages is cached.
func (c *Cache) ListEnvironmentApplicationPackages(ctx context.Context, envID string) ([]ppapi.ApplicationPackage, error) {
	return read(c, ctx, true, "getEnvironmentApplicationPackages", []string{envID}, func(ctx context.Context) ([]ppapi.ApplicationPackage, error) {
		return c.up.ListEnvironmentApplicationPackages(ctx, envID)
	})
}

// GetInstallStatus is coalesced but never cached: it is what polling asks.
func (c *Cache) GetInstallStatus(ctx context.Context, envID, operationID string) (*ppapi.OperationStatus, error) {
	st, err := read(c, ctx, false, "getApplicationPackageInstallStatus", []string{envID, operationID}, func(ctx context.Context) (*ppapi.OperationStatus, error) {
		return c.up.GetInstallStatus(ctx, envID, operationID)
	})
	if err != nil {
		return nil, err
	}
	cp := *st
	return &cp, nil
}

// ListFlowRuns is coalesced but not cached: a page with running flows
// refreshes itself.
func (c *Cache) ListFlowRuns(ctx context.Context, envID, workflowID, cursor string) (*ppapi.FlowRunPage, error) {
	p, err := read(c, ctx, false, "listFlowRuns", []string{envID, workflowID, cursor}, func(ctx context.Context) (*ppapi.FlowRunPage, error) {
		return c.up.ListFlowRuns(ctx, envID, workflowID, cursor)
	})
	if err != nil {
		return nil, err
	}
	cp := *p
	cp.Runs = append([]ppapi.FlowRun(nil), p.Runs...)
	return &cp, nil
}

// ListBillingPolicies is cached.
func (c *Cache) ListBillingPolicies(ctx context.Context) ([]ppapi.BillingPolicy, error) {
	return read(c, ctx, true, "listBillingPolicies", nil, func(ctx context.Context) ([]ppapi.BillingPolicy, error) {
		return c.up.ListBillingPolicies(ctx)
	})
}

// GetBillingPolicy is coalesced but not cached: a provisioning policy's
// page polls it until it settles.
func (c *Cache) GetBillingPolicy(ctx context.Context, id string) (*ppapi.BillingPolicy, error) {
	p, err := read(c, ctx, false, "getBillingPolicy", []string{id}, func(ctx context.Context) (*ppapi.BillingPolicy, error) {
		return c.up.GetBillingPolicy(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	cp := *p
	return &cp, nil
}

// DeleteEnvironment is passed through, then the user's cache emptied.
func (c *Cache) DeleteEnvironment(ctx context.Context, id string) (*ppapi.Accepted, error) {
	defer c.wrote(ctx)
	return c.up.DeleteEnvironment(ctx, id)
}

// InstallApplicationPackage is passed through, then the user's cache
// emptied.
func (c *Cache) InstallApplicationPackage(ctx context.Context, envID, pkg string) (*ppapi.Accepted, error) {
	defer c.wrote(ctx)
	return c.up.InstallApplicationPackage(ctx, envID, pkg)
}

// CreateBillingPolicy is passed through, then the user's cache emptied.
func (c *Cache) CreateBillingPolicy(ctx context.Context, req ppapi.BillingPolicyCreateRequest) (*ppapi.BillingPolicy, error) {
	defer c.wrote(ctx)
	return c.up.CreateBillingPolicy(ctx, req)
}

// UpdateBillingPolicy is passed through, then the user's cache emptied.
func (c *Cache) UpdateBillingPolicy(ctx context.Context, id string, req ppapi.BillingPolicyUpdateRequest) (*ppapi.BillingPolicy, error) {
	defer c.wrote(ctx)
	return c.up.UpdateBillingPolicy(ctx, id, req)
}

// DeleteBillingPolicy is passed through, then the user's cache emptied.
func (c *Cache) DeleteBillingPolicy(ctx context.Context, id string) error {
	defer c.wrote(ctx)
	return c.up.DeleteBillingPolicy(ctx, id)
}
