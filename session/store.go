package session

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// ErrStoreUnavailable is wrapped by every error that comes from the session
// store itself (Redis down, timed out, refused). The web layer answers it
// with 503, never with "not signed in": the store fails closed.
var ErrStoreUnavailable = errors.New("session: store unavailable")

// ErrSessionEnded is returned by UpdateTokens when the session's record is no
// longer in the store (signed out elsewhere, expired or evicted).
var ErrSessionEnded = errors.New("session: session ended")

// Defaults for StoreOptions.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultMaxSessions     = 10000
	DefaultRedisPrefix     = "portal:session:"
	DefaultLockTTL         = 30 * time.Second
	DefaultLockWait        = 10 * time.Second
)

const (
	idBytes = 32 // session id entropy: 256 bits from crypto/rand
	// touchEvery is how stale the stored last-use time may get before a
	// request without changes rewrites it (idle sliding).
	touchEvery = time.Minute
	// cookieNameSecure needs Secure, Path=/ and no Domain (RFC 6265bis).
	cookieNameSecure = "__Host-portal"
	cookieNamePlain  = "portal"
	maxCookieValue   = 1024 // longer cookie values are not even decoded
)

// StoreOptions configures MemoryStore, RedisStore and Manager. The zero value
// of every field except KeyPairs (and EncryptionKey for Redis) has a default.
type StoreOptions struct {
	// KeyPairs sign and encrypt the session cookie with securecookie: a hash
	// key (at least 32 bytes) then a block key (16, 24 or 32 bytes) per pair.
	// The first pair encodes; every pair decodes, so keys can be rotated by
	// putting a new pair first and keeping the old one for a while.
	KeyPairs [][]byte
	// EncryptionKey (at least 32 bytes) is the root from which the keys that
	// encrypt stored values (AES-256-GCM, one key per session via HKDF) and
	// sign CSRF tokens are derived. Required by NewRedisStore and identical
	// across replicas; NewMemoryStore makes a random one when it is empty.
	EncryptionKey []byte
	// Secure marks the cookie Secure and names it __Host-portal (when the
	// base URL is https); otherwise the cookie is named portal.
	Secure bool
	// IdleTimeout ends a session not used for this long (default 30 min).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, used or not
	// (default 12 h). It also bounds the cookie's Max-Age.
	AbsoluteTimeout time.Duration
	// MaxSessions bounds the MemoryStore; the least recently used session is
	// evicted beyond it (default 10,000). Unused by RedisStore.
	MaxSessions int
	// Now is the clock (default time.Now); tests inject a fake one.
	Now func() time.Time
	// RedisPrefix starts every Redis key (default "portal:session:"); give
	// each app and environment sharing a Redis its own.
	RedisPrefix string
	// LockTTL is how long a per-session lock lives in Redis if its holder
	// dies without releasing it (default 30 s).
	LockTTL time.Duration
	// LockWait bounds how long the Manager waits for a per-session lock when
	// the request's context has no earlier deadline (default 10 s).
	LockWait time.Duration
}

// normalized returns o with defaults filled in, or an error naming the
// first invalid field.
func (o StoreOptions) normalized() (StoreOptions, error) {
	if o.IdleTimeout < 0 || o.AbsoluteTimeout < 0 || o.MaxSessions < 0 || o.LockTTL < 0 || o.LockWait < 0 {
		return o, errors.New("session: negative timeout or bound in StoreOptions")
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.IdleTimeout < time.Second || o.AbsoluteTimeout < time.Second {
		return o, errors.New("session: IdleTimeout and AbsoluteTimeout must be at least 1s")
	}
	if o.MaxSessions == 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = DefaultRedisPrefix
	}
	if o.LockTTL == 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.LockWait == 0 {
		o.LockWait = DefaultLockWait
	}
	if len(o.KeyPairs) == 0 || len(o.KeyPairs)%2 != 0 {
		return o, errors.New("session: KeyPairs needs one or more (hash key, block key) pairs")
	}
	for i := 0; i < len(o.KeyPairs); i += 2 {
		if len(o.KeyPairs[i]) < 32 {
			return o, fmt.Errorf("session: KeyPairs[%d]: hash key must be at least 32 bytes, got %d", i, len(o.KeyPairs[i]))
		}
		switch n := len(o.KeyPairs[i+1]); n {
		case 16, 24, 32:
		default:
			return o, fmt.Errorf("session: KeyPairs[%d]: block key must be 16, 24 or 32 bytes, got %d", i+1, n)
		}
	}
	if len(o.EncryptionKey) != 0 && len(o.EncryptionKey) < 32 {
		return o, fmt.Errorf("session: EncryptionKey must be at least 32 bytes, got %d", len(o.EncryptionKey))
	}
	return o, nil
}

// record is what a store keeps per session, encrypted at rest. Expires is
// the absolute end; Touched the last recorded use (idle sliding).
type record struct {
	Expires time.Time
	Touched time.Time
	Values  map[any]any
}

// portalKey is the Values key under which the Manager keeps its state.
const portalKey = "portal"

// metaKey carries a loaded record's times inside a gorilla session's Values
// between New and Save; it is never serialized.
type metaKey struct{}

type meta struct{ Expires, Touched time.Time }

func init() {
	gob.RegisterName("ppportal/session.state", state{})
}

// backend is what the Manager needs from a store: records by id and a
// per-session lock shared by everyone using the same store.
type backend interface {
	sessions.Store
	core() *storeCore
	// get returns the record for id, nil if absent or unreadable; errors
	// wrap ErrStoreUnavailable.
	get(ctx context.Context, id string) (*record, error)
	// put stores rec under id with a TTL from its times.
	put(ctx context.Context, id string, rec *record) error
	remove(ctx context.Context, id string) error
	// lock takes id's lock, waiting until ctx ends; call unlock once.
	lock(ctx context.Context, id string) (unlock func(), err error)
	ping(ctx context.Context) error
}

// storeCore is what both stores share: options, cookie codecs, the record
// cipher and the CSRF key.
type storeCore struct {
	o          StoreOptions
	codecs     []securecookie.Codec
	master     []byte
	csrfKey    []byte
	cookieName string
}

func newStoreCore(o StoreOptions) (*storeCore, error) {
	o, err := o.normalized()
	if err != nil {
		return nil, err
	}
	c := &storeCore{o: o, master: o.EncryptionKey, cookieName: cookieNamePlain}
	if o.Secure {
		c.cookieName = cookieNameSecure
	}
	if len(c.master) == 0 {
		c.master = make([]byte, 32)
		rand.Read(c.master)
	}
	c.csrfKey, err = hkdf.Key(sha256.New, c.master, nil, "ppportal/session csrf v1", 32)
	if err != nil {
		return nil, fmt.Errorf("session: derive csrf key: %w", err)
	}
	c.codecs = securecookie.CodecsFromPairs(o.KeyPairs...)
	for _, codec := range c.codecs {
		sc := codec.(*securecookie.SecureCookie)
		sc.SetSerializer(securecookie.NopEncoder{})
		// The cookie's own timestamp may not outlive the absolute timeout.
		sc.MaxAge(int(o.AbsoluteTimeout/time.Second) + 60)
	}
	return c, nil
}

func (c *storeCore) now() time.Time { return c.o.Now() }

// newID returns a fresh session id: 256 bits from crypto/rand, base64url.
func newID() string {
	b := make([]byte, idBytes)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookieID returns the session id carried by r's cookie called name, if one
// decodes and verifies with any key pair. It says nothing about whether the
// store knows the id.
func (c *storeCore) cookieID(r *http.Request, name string) (string, bool) {
	for _, ck := range r.CookiesNamed(name) {
		if len(ck.Value) > maxCookieValue {
			continue
		}
		var raw []byte
		if err := securecookie.DecodeMulti(name, ck.Value, &raw, c.codecs...); err != nil {
			continue
		}
		if len(raw) != idBytes {
			continue
		}
		return base64.RawURLEncoding.EncodeToString(raw), true
	}
	return "", false
}

// cookie returns the Set-Cookie for id, valid until expires.
func (c *storeCore) cookie(name, id string, expires time.Time) (*http.Cookie, error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != idBytes {
		return nil, errors.New("session: malformed session id")
	}
	v, err := securecookie.EncodeMulti(name, raw, c.codecs[0])
	if err != nil {
		return nil, fmt.Errorf("session: encode cookie: %w", err)
	}
	maxAge := int((expires.Sub(c.now()) + time.Second - 1) / time.Second)
	if maxAge < 1 {
		maxAge = 1
	}
	// #nosec G124 -- HttpOnly and SameSite=Lax always; Secure whenever the base URL is https (the portal refuses plain http except on loopback)
	return &http.Cookie{
		Name:     name,
		Value:    v,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   c.o.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}, nil
}

// expiredCookie returns the Set-Cookie that removes the cookie called name.
func (c *storeCore) expiredCookie(name string) *http.Cookie {
	// #nosec G124 -- HttpOnly and SameSite=Lax always; Secure whenever the base URL is https (the portal refuses plain http except on loopback)
	return &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   c.o.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// options returns the gorilla options matching the cookie the store sets.
func (c *storeCore) options() *sessions.Options {
	return &sessions.Options{
		Path:     "/",
		MaxAge:   int(c.o.AbsoluteTimeout / time.Second),
		Secure:   c.o.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// expired reports whether rec is past its absolute or idle end at now.
func (c *storeCore) expired(rec *record, now time.Time) bool {
	return !now.Before(rec.Expires) || now.Sub(rec.Touched) >= c.o.IdleTimeout
}

// ttl is how long rec may live in the store from now: until the idle or the
// absolute end, whichever is first.
func (c *storeCore) ttl(rec *record, now time.Time) time.Duration {
	t := rec.Touched.Add(c.o.IdleTimeout).Sub(now)
	if a := rec.Expires.Sub(now); a < t {
		t = a
	}
	return t
}

// recordAEAD returns the AES-256-GCM cipher for id's record; the key is
// derived from the master key and the id, so values cannot be moved between
// sessions and nonces never repeat across sessions.
func (c *storeCore) recordAEAD(id string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, c.master, nil, "ppportal/session record v1 "+id, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal serializes and encrypts rec for id: nonce || ciphertext, with the id
// as additional data.
func (c *storeCore) seal(id string, rec *record) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(rec); err != nil {
		return nil, fmt.Errorf("session: encode record: %w", err)
	}
	aead, err := c.recordAEAD(id)
	if err != nil {
		return nil, fmt.Errorf("session: record cipher: %w", err)
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+buf.Len()+aead.Overhead())
	rand.Read(out)
	return aead.Seal(out, out, buf.Bytes(), []byte(id)), nil
}

// open decrypts and decodes what seal made for id. A value that does not
// open (tampered, other key, other id) is an error; callers treat it as
// absent.
func (c *storeCore) open(id string, data []byte) (*record, error) {
	aead, err := c.recordAEAD(id)
	if err != nil {
		return nil, err
	}
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("session: stored record too short")
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
	if err != nil {
		return nil, fmt.Errorf("session: stored record does not open: %w", err)
	}
	var rec record
	// #nosec G709 -- plain was authenticated by AES-GCM under a key only this portal holds, bound to the id: it is a record seal made, not outside input
	if err := gob.NewDecoder(bytes.NewReader(plain)).Decode(&rec); err != nil {
		return nil, fmt.Errorf("session: decode record: %w", err)
	}
	if rec.Values == nil {
		rec.Values = map[any]any{}
	}
	return &rec, nil
}

// fetch returns id's live record from b: nil when absent, unreadable or
// expired (an expired record is deleted on the way).
func fetch(ctx context.Context, b backend, id string) (*record, error) {
	rec, err := b.get(ctx, id)
	if err != nil || rec == nil {
		return nil, err
	}
	c := b.core()
	if c.expired(rec, c.now()) {
		if err := b.remove(ctx, id); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return rec, nil
}

// unavailable wraps a store failure in ErrStoreUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrStoreUnavailable, op, err)
}

// storeGet implements sessions.Store.Get: New, cached per request.
func storeGet(b backend, r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(b, name)
}

// storeNew implements sessions.Store.New. The session is loaded only when
// the cookie verifies and the store holds a live record under its id;
// otherwise it is new with a fresh id from crypto/rand, so an id the browser
// invents is never adopted. On a store failure the new session comes back
// with an error wrapping ErrStoreUnavailable.
func storeNew(b backend, r *http.Request, name string) (*sessions.Session, error) {
	c := b.core()
	s := sessions.NewSession(b, name)
	s.Options = c.options()
	s.IsNew = true
	s.ID = newID()
	id, ok := c.cookieID(r, name)
	if !ok {
		return s, nil
	}
	rec, err := fetch(r.Context(), b, id)
	if err != nil {
		return s, err
	}
	if rec == nil {
		return s, nil
	}
	s.ID = id
	s.IsNew = false
	s.Values = rec.Values
	s.Values[metaKey{}] = meta{Expires: rec.Expires, Touched: rec.Touched}
	return s, nil
}

// storeSave implements sessions.Store.Save: with Options.MaxAge < 0 it
// deletes the record and the cookie; otherwise it stores Values and sets the
// cookie. A new session gets its absolute end now.
func storeSave(b backend, r *http.Request, w http.ResponseWriter, s *sessions.Session) error {
	c := b.core()
	name := s.Name()
	if s.Options != nil && s.Options.MaxAge < 0 {
		if s.ID != "" {
			if err := b.remove(r.Context(), s.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, c.expiredCookie(name))
		return nil
	}
	if s.ID == "" {
		s.ID = newID()
	}
	now := c.now()
	m, _ := s.Values[metaKey{}].(meta)
	if m.Expires.IsZero() {
		m.Expires = now.Add(c.o.AbsoluteTimeout)
	}
	m.Touched = now
	vals := make(map[any]any, len(s.Values))
	for k, v := range s.Values {
		if _, skip := k.(metaKey); !skip {
			vals[k] = v
		}
	}
	ck, err := c.cookie(name, s.ID, m.Expires)
	if err != nil {
		return err
	}
	if err := b.put(r.Context(), s.ID, &record{Expires: m.Expires, Touched: m.Touched, Values: vals}); err != nil {
		return err
	}
	s.Values[metaKey{}] = m
	http.SetCookie(w, ck)
	return nil
}
