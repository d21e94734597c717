package session

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

// RedisStore is a sessions.Store keeping sessions in Redis, shared by every
// replica: one key per session, named by a hash of its id, holding the
// AES-GCM-encrypted record, written with SET … EX idle-seconds (never past
// the absolute end, which the record also carries). Per-session locks are
// Redis keys too (SET NX PX with a random value, released by a
// compare-and-delete script).
type RedisStore struct {
	c   *storeCore
	rdb redis.UniversalClient
}

var _ sessions.Store = (*RedisStore)(nil)

// NewRedisStore returns a RedisStore using client, configured by o, which
// must carry an EncryptionKey. It does not contact Redis; see Ping.
func NewRedisStore(client redis.UniversalClient, o StoreOptions) (*RedisStore, error) {
	if client == nil {
		return nil, errors.New("session: NewRedisStore: nil client")
	}
	if len(o.EncryptionKey) == 0 {
		return nil, errors.New("session: NewRedisStore: EncryptionKey is required (identical on every replica)")
	}
	c, err := newStoreCore(o)
	if err != nil {
		return nil, err
	}
	return &RedisStore{c: c, rdb: client}, nil
}

// Get returns the session for name from r, cached per request (see New).
func (s *RedisStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return storeGet(s, r, name)
}

// New loads the session for name from r's cookie if the cookie verifies and
// Redis holds a live session under its id; otherwise it returns a new
// session with a fresh id. Redis failures come back as an error wrapping
// ErrStoreUnavailable, with a new session.
func (s *RedisStore) New(r *http.Request, name string) (*sessions.Session, error) {
	return storeNew(s, r, name)
}

// Save stores sess and sets its cookie; Options.MaxAge < 0 deletes both.
func (s *RedisStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	return storeSave(s, r, w, sess)
}

// CookieName is the name of the session cookie: __Host-portal when Secure,
// else portal.
func (s *RedisStore) CookieName() string { return s.c.cookieName }

// Ping checks that Redis answers; the error wraps ErrStoreUnavailable.
func (s *RedisStore) Ping(ctx context.Context) error { return s.ping(ctx) }

func (s *RedisStore) core() *storeCore { return s.c }

func (s *RedisStore) ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// key names id's record without revealing the id to whoever reads Redis.
func (s *RedisStore) key(kind, id string) string {
	h := sha256.Sum256([]byte(id))
	return s.c.o.RedisPrefix + kind + base64.RawURLEncoding.EncodeToString(h[:])
}

func (s *RedisStore) get(ctx context.Context, id string) (*record, error) {
	data, err := s.rdb.Get(ctx, s.key("s:", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("get", err)
	}
	rec, err := s.c.open(id, data)
	if err != nil {
		return nil, nil
	}
	return rec, nil
}

func (s *RedisStore) put(ctx context.Context, id string, rec *record) error {
	ttl := s.c.ttl(rec, s.c.now())
	// Whole seconds, rounded up, so go-redis sends SET … EX.
	ttl = (ttl + time.Second - 1) / time.Second * time.Second
	if ttl <= 0 {
		return s.remove(ctx, id)
	}
	data, err := s.c.seal(id, rec)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, s.key("s:", id), data, ttl).Err(); err != nil {
		return unavailable("set", err)
	}
	return nil
}

func (s *RedisStore) remove(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.key("s:", id)).Err(); err != nil {
		return unavailable("del", err)
	}
	return nil
}

// unlockScript deletes the lock only if it still holds our value, so a
// holder whose lock expired cannot release someone else's.
var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)

func (s *RedisStore) lock(ctx context.Context, id string) (func(), error) {
	return redisLock(ctx, s.rdb, s.key("lock:", id), s.c.o.LockTTL, "session lock")
}

// redisLock takes key as a lock (SET NX PX with a random value), waiting
// with jittered backoff (2 ms to 50 ms) until it is free or ctx ends. The
// returned unlock releases it only while it is still ours
// (compare-and-delete), even after the caller's context has ended.
func redisLock(ctx context.Context, rdb redis.UniversalClient, key string, ttl time.Duration, what string) (func(), error) {
	var tokb [16]byte
	crand.Read(tokb[:])
	tok := hex.EncodeToString(tokb[:])
	wait := 2 * time.Millisecond
	for {
		ok, err := rdb.SetNX(ctx, key, tok, ttl).Result()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("session: waiting for %s: %w", what, ctx.Err())
			}
			return nil, unavailable(what, err)
		}
		if ok {
			return func() {
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer cancel()
				_ = unlockScript.Run(uctx, rdb, []string{key}, tok).Err()
			}, nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1)) // #nosec G404 -- retry jitter only spreads lock polls; nothing depends on it being unpredictable
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("session: waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}
