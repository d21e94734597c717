package session

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// tokenCacheKeyLabel is the HKDF label of the token cache's key: its own,
// so it never equals the session records' or the CSRF tokens' key.
const tokenCacheKeyLabel = "ppportal/session obo token cache v1"

// tokenLockTTL is how long a per-key exchange lock lives in Redis if its
// holder dies without releasing it; an exchange takes well under this.
const tokenLockTTL = 10 * time.Second

// RedisTokenCache is a TokenCache in Redis, shared by every replica, so a
// user's on-behalf-of tokens are exchanged once for all of them (SECURITY.md
// G9). Each value is AES-256-GCM encrypted under a key derived from
// StoreOptions.EncryptionKey with its own HKDF label, with the Redis key as
// additional data (a value moved to another key does not open), and
// written with SET … PX until the token expires. Keys live under
// StoreOptions.RedisPrefix + "obo:". It also implements TokenCacheLocker:
// a short Redis lock per key, so replicas that miss at once make one
// exchange between them.
type RedisTokenCache struct {
	rdb    redis.UniversalClient
	aead   cipher.AEAD
	prefix string
	now    func() time.Time
}

var (
	_ TokenCache       = (*RedisTokenCache)(nil)
	_ TokenCacheLocker = (*RedisTokenCache)(nil)
)

// NewRedisTokenCache returns a RedisTokenCache using client. From o it
// takes EncryptionKey (required, identical on every replica), RedisPrefix
// and Now (the clock that turns expiry times into Redis TTLs; use the
// broker's). It does not contact Redis.
func NewRedisTokenCache(client redis.UniversalClient, o StoreOptions) (*RedisTokenCache, error) {
	if client == nil {
		return nil, errors.New("session: NewRedisTokenCache: nil client")
	}
	if len(o.EncryptionKey) == 0 {
		return nil, errors.New("session: NewRedisTokenCache: EncryptionKey is required (identical on every replica)")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = DefaultRedisPrefix
	}
	key, err := hkdf.Key(sha256.New, o.EncryptionKey, nil, tokenCacheKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("session: derive token cache key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session: token cache cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("session: token cache cipher: %w", err)
	}
	return &RedisTokenCache{rdb: client, aead: aead, prefix: o.RedisPrefix + "obo:", now: o.Now}, nil
}

func (c *RedisTokenCache) redisKey(key string) string { return c.prefix + key }

// Get returns the token stored under key. A value that does not open
// (tampered, another key or another Redis key) or has expired is a miss; a
// Redis failure is an error, which the broker treats as a miss.
func (c *RedisTokenCache) Get(ctx context.Context, key string) (string, time.Time, bool, error) {
	rk := c.redisKey(key)
	data, err := c.rdb.Get(ctx, rk).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, unavailable("token get", err)
	}
	n := c.aead.NonceSize()
	if len(data) < n+c.aead.Overhead() {
		return "", time.Time{}, false, nil
	}
	plain, err := c.aead.Open(nil, data[:n], data[n:], []byte(rk))
	if err != nil || len(plain) < 8 {
		return "", time.Time{}, false, nil
	}
	expiry := time.Unix(0, int64(binary.BigEndian.Uint64(plain[:8]))) // #nosec G115 -- written by Set from a UnixNano and authenticated by AES-GCM
	if !c.now().Before(expiry) {
		return "", time.Time{}, false, nil
	}
	return string(plain[8:]), expiry, true, nil
}

// Set stores token under key until expiry (nothing when it has passed).
func (c *RedisTokenCache) Set(ctx context.Context, key, token string, expiry time.Time) error {
	ttl := expiry.Sub(c.now())
	if ttl <= 0 {
		return nil
	}
	rk := c.redisKey(key)
	plain := make([]byte, 8, 8+len(token))
	binary.BigEndian.PutUint64(plain, uint64(expiry.UnixNano())) // #nosec G115 -- a time after now: positive
	plain = append(plain, token...)
	out := make([]byte, c.aead.NonceSize(), c.aead.NonceSize()+len(plain)+c.aead.Overhead())
	crand.Read(out)
	out = c.aead.Seal(out, out, plain, []byte(rk))
	ms := max(ttl.Milliseconds(), 1)
	if err := c.rdb.Do(ctx, "SET", rk, out, "PX", ms).Err(); err != nil {
		return unavailable("token set", err)
	}
	return nil
}

// DeletePrefix removes every token whose key starts with prefix: SCAN
// over the prefix (on every master of a cluster), then DEL in batches.
func (c *RedisTokenCache) DeletePrefix(ctx context.Context, prefix string) error {
	pattern := globEscape(c.redisKey(prefix)) + "*"
	del := func(ctx context.Context, rdb redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := rdb.Scan(ctx, cursor, pattern, 256).Result()
			if err != nil {
				return unavailable("token scan", err)
			}
			if len(keys) > 0 {
				if err := rdb.Del(ctx, keys...).Err(); err != nil {
					return unavailable("token del", err)
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	}
	return del(ctx, c.rdb)
}

// Lock takes the exchange lock of key (SET NX PX with a random value),
// waiting with jittered backoff until it is free or ctx ends. unlock
// releases it only while it is still ours (compare-and-delete), so a
// holder whose lock expired cannot release another's.
func (c *RedisTokenCache) Lock(ctx context.Context, key string) (func(), error) {
	return redisLock(ctx, c.rdb, c.prefix+"lock:"+key, tokenLockTTL, "token lock")
}

// globEscape escapes Redis glob metacharacters, so a prefix matches only
// itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
