package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/sessions"
)

// Bounds on what a session keeps, so that its stored size stays small.
const (
	maxLists       = 16  // Remember lists per session, least recently used dropped
	maxListLen     = 50  // values per list
	defaultListLen = 10  // when Remember is given max <= 0
	maxItemLen     = 256 // longer list keys or values are ignored
	maxFlashLen    = 1024
	maxOnceTokens  = 32 // outstanding one-time form tokens, oldest dropped
)

// state is what the Manager keeps in a session's record.
type state struct {
	User     User
	Tokens   Tokens
	AuthTime time.Time
	Recent   []recentList // most recently used list first
	Flash    string
	Once     []string // outstanding one-time form tokens, oldest first
}

type recentList struct {
	Key    string
	Values []string // most recent first
}

// Manager is what the web layer uses for signed-in sessions: load, start at
// sign-in, save when changed, destroy at sign-out. It is safe for concurrent
// use; several Managers (one per replica) may share one RedisStore's Redis.
type Manager struct {
	b        backend
	err      error // the store is not one this package made
	lockWait time.Duration
}

// NewManager returns a Manager over store, which must be a *MemoryStore or a
// *RedisStore (with any other store every method returns an error). The
// cookie, keys, clock and timeouts are the ones store was built with; o
// should be the same options, and its LockWait, when set, bounds how long
// the Manager waits for a per-session lock.
func NewManager(store sessions.Store, o StoreOptions) *Manager {
	b, ok := store.(backend)
	if !ok || b == nil {
		return &Manager{err: fmt.Errorf("session: NewManager: unsupported store %T (use NewMemoryStore or NewRedisStore)", store)}
	}
	wait := o.LockWait
	if wait <= 0 {
		wait = b.core().o.LockWait
	}
	return &Manager{b: b, lockWait: wait}
}

// CookieName is the name of the session cookie.
func (m *Manager) CookieName() string {
	if m.err != nil {
		return ""
	}
	return m.b.core().cookieName
}

// Ping checks that the store answers (for readiness checks); the error wraps
// ErrStoreUnavailable.
func (m *Manager) Ping(ctx context.Context) error {
	if m.err != nil {
		return m.err
	}
	return m.b.ping(ctx)
}

// Load returns r's signed-in session, or (nil, nil) when there is none: no
// cookie, a cookie that does not verify, an id the store does not know, an
// expired session. When the store fails, the error wraps
// ErrStoreUnavailable. The session keeps r's context for UseOnceToken.
func (m *Manager) Load(r *http.Request) (*Session, error) {
	if m.err != nil {
		return nil, m.err
	}
	c := m.b.core()
	id, ok := c.cookieID(r, c.cookieName)
	if !ok {
		return nil, nil
	}
	rec, err := fetch(r.Context(), m.b, id)
	if err != nil || rec == nil {
		return nil, err
	}
	st, ok := rec.Values[portalKey].(state)
	if !ok || st.User.OID == "" {
		return nil, nil
	}
	return m.newSession(r.Context(), id, st, rec.Touched), nil
}

// Start begins the session for a completed sign-in: it deletes the record
// of any session r's cookie names, stores user, tokens and auth time under a
// new id, and sets the cookie.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, in *SignIn) (*Session, error) {
	if m.err != nil {
		return nil, m.err
	}
	if in == nil || in.User.OID == "" || in.User.TenantID == "" {
		return nil, errors.New("session: Start: sign-in without tenant and object id")
	}
	c := m.b.core()
	ctx := r.Context()
	if old, ok := c.cookieID(r, c.cookieName); ok {
		if err := m.b.remove(ctx, old); err != nil {
			return nil, err
		}
	}
	id := newID()
	now := c.now()
	auth := in.AuthTime
	if auth.IsZero() {
		auth = now
	}
	st := state{User: in.User, Tokens: in.Tokens, AuthTime: auth}
	rec := &record{Expires: now.Add(c.o.AbsoluteTimeout), Touched: now, Values: map[any]any{portalKey: st}}
	ck, err := c.cookie(c.cookieName, id, rec.Expires)
	if err != nil {
		return nil, err
	}
	if err := m.b.put(ctx, id, rec); err != nil {
		return nil, err
	}
	http.SetCookie(w, ck)
	return m.newSession(ctx, id, st, now), nil
}

// Save stores s's changes (Remember, SetFlash, TakeFlash, OnceToken) if
// there are any, merged into the freshest stored record under the session's
// lock so that tokens refreshed meanwhile are kept. Without changes it
// writes nothing, except to record the session's use once a minute (idle
// sliding). A session ended meanwhile is not brought back. s may be nil.
func (m *Manager) Save(w http.ResponseWriter, r *http.Request, s *Session) error {
	if m.err != nil {
		return m.err
	}
	if s == nil {
		return nil
	}
	now := m.b.core().now()
	s.mu.Lock()
	dirty := len(s.ops) > 0
	due := now.Sub(s.touched) >= touchEvery
	s.mu.Unlock()
	if !dirty && !due {
		return nil
	}
	err := s.update(r.Context(), nil)
	if errors.Is(err, ErrSessionEnded) {
		return nil
	}
	return err
}

// Destroy deletes the session's record (s's, and the one r's cookie names,
// when they differ) and expires the cookie. s may be nil. A replay of the
// old cookie afterwards loads nothing.
func (m *Manager) Destroy(w http.ResponseWriter, r *http.Request, s *Session) error {
	if m.err != nil {
		return m.err
	}
	c := m.b.core()
	http.SetCookie(w, c.expiredCookie(c.cookieName))
	var errs []error
	if s != nil {
		errs = append(errs, m.b.remove(r.Context(), s.id))
	}
	if id, ok := c.cookieID(r, c.cookieName); ok && (s == nil || id != s.id) {
		errs = append(errs, m.b.remove(r.Context(), id))
	}
	return errors.Join(errs...)
}

func (m *Manager) newSession(ctx context.Context, id string, st state, touched time.Time) *Session {
	return &Session{
		m:       m,
		ctx:     ctx,
		id:      id,
		csrf:    csrfToken(m.b.core().csrfKey, id),
		st:      st,
		touched: touched,
	}
}

// Session is one signed-in session as loaded for one request. It implements
// TokenHolder. Its methods are safe for concurrent use. Changes made with
// Remember, SetFlash, TakeFlash and OnceToken are kept by Manager.Save;
// UpdateTokens and UseOnceToken write through at once.
type Session struct {
	m    *Manager
	ctx  context.Context // the loading request's, for UseOnceToken
	id   string
	csrf string

	mu      sync.Mutex
	st      state
	touched time.Time
	ops     []func(*state) // changes not yet stored, replayed on the fresh record
}

var _ TokenHolder = (*Session)(nil)

// SessionID identifies the session (for locks and caches); never show it.
func (s *Session) SessionID() string { return s.id }

// User returns the signed-in user.
func (s *Session) User() User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.User
}

// Tokens returns the tokens as last loaded or updated.
func (s *Session) Tokens() Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Tokens
}

// AuthTime returns when the user last authenticated (for step-up checks).
func (s *Session) AuthTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.AuthTime
}

// UpdateTokens takes the session's lock (shared by every Manager on the
// same store), re-reads the stored tokens, calls fn with them, stores what
// fn returns and returns it. If fn fails, nothing is stored and fn's error
// is returned. fn must not call UpdateTokens or UseOnceToken on the same
// session. If the session ended meanwhile, the error is ErrSessionEnded.
func (s *Session) UpdateTokens(ctx context.Context, fn func(current Tokens) (Tokens, error)) (Tokens, error) {
	var out Tokens
	err := s.update(ctx, func(st *state) (bool, error) {
		nt, err := fn(st.Tokens)
		if err != nil {
			return false, err
		}
		st.Tokens = nt
		out = nt
		return true, nil
	})
	if err != nil {
		return Tokens{}, err
	}
	return out, nil
}

// Remember puts value first in the list called list (for example recent
// workflow ids per environment, "wf:<envID>"), removing an earlier copy and
// keeping at most max values (10 when max <= 0, never more than 50). Empty
// or over-long keys and values are ignored.
func (s *Session) Remember(list, value string, max int) {
	if list == "" || value == "" || len(list) > maxItemLen || len(value) > maxItemLen {
		return
	}
	if max <= 0 {
		max = defaultListLen
	}
	max = min(max, maxListLen)
	s.change(func(st *state) { remember(st, list, value, max) })
}

func remember(st *state, list, value string, max int) {
	var old []string
	rest := make([]recentList, 0, len(st.Recent)+1)
	for _, l := range st.Recent {
		if l.Key == list {
			old = l.Values
		} else {
			rest = append(rest, l)
		}
	}
	vals := make([]string, 0, min(len(old)+1, max))
	vals = append(vals, value)
	for _, v := range old {
		if len(vals) == max {
			break
		}
		if v != value {
			vals = append(vals, v)
		}
	}
	lists := append([]recentList{{Key: list, Values: vals}}, rest...)
	if len(lists) > maxLists {
		lists = lists[:maxLists]
	}
	st.Recent = lists
}

// Recent returns the list called list, most recent first (nil if none).
func (s *Session) Recent(list string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.st.Recent {
		if l.Key == list {
			return slices.Clone(l.Values)
		}
	}
	return nil
}

// SetFlash keeps msg (cut to 1 KB) for the next page, the one after a
// redirect.
func (s *Session) SetFlash(msg string) {
	if len(msg) > maxFlashLen {
		msg = strings.ToValidUTF8(msg[:maxFlashLen], "")
	}
	s.change(func(st *state) { st.Flash = msg })
}

// TakeFlash returns the notice kept by SetFlash and removes it ("" if none).
func (s *Session) TakeFlash() string {
	s.mu.Lock()
	msg := s.st.Flash
	s.mu.Unlock()
	if msg == "" {
		return ""
	}
	// Remove only this notice: one set meanwhile by another request stays.
	s.change(func(st *state) {
		if st.Flash == msg {
			st.Flash = ""
		}
	})
	return msg
}

// OnceToken issues a one-time form token (128 bits from crypto/rand) for a
// create form; Save stores it. At most 32 stay outstanding, oldest dropped.
func (s *Session) OnceToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	s.change(func(st *state) {
		once := append(slices.Clone(st.Once), tok)
		if len(once) > maxOnceTokens {
			once = once[len(once)-maxOnceTokens:]
		}
		st.Once = once
	})
	return tok
}

// UseOnceToken consumes tok: it is true exactly once per token issued by
// OnceToken, across concurrent requests and replicas, and false for an
// unknown or used token or when the store cannot be reached (fail closed).
func (s *Session) UseOnceToken(tok string) bool {
	if tok == "" || len(tok) > 64 {
		return false
	}
	used := false
	err := s.update(s.ctx, func(st *state) (bool, error) {
		i := slices.Index(st.Once, tok)
		if i < 0 {
			return false, nil
		}
		st.Once = slices.Delete(slices.Clone(st.Once), i, i+1)
		used = true
		return true, nil
	})
	return err == nil && used
}

// change applies op to the local state now and queues it for Save.
func (s *Session) change(op func(*state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op(&s.st)
	s.ops = append(s.ops, op)
}

// update runs a read-modify-write of the stored record under the session's
// lock: it replays the queued changes on the freshest record, then runs
// extra (if any), and writes when anything changed (always when extra is
// nil: a save or touch). On failure the queued changes stay queued.
func (s *Session) update(ctx context.Context, extra func(*state) (bool, error)) error {
	m := s.m
	if m.err != nil {
		return m.err
	}
	lctx, cancel := context.WithTimeout(ctx, m.lockWait)
	defer cancel()
	unlock, err := m.b.lock(lctx, s.id)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := fetch(ctx, m.b, s.id)
	if err != nil {
		return err
	}
	if rec == nil {
		return ErrSessionEnded
	}
	st, ok := rec.Values[portalKey].(state)
	if !ok {
		return ErrSessionEnded
	}
	s.mu.Lock()
	ops := s.ops
	s.ops = nil
	s.mu.Unlock()
	requeue := func() {
		s.mu.Lock()
		s.ops = append(ops, s.ops...)
		s.mu.Unlock()
	}
	for _, op := range ops {
		op(&st)
	}
	write := len(ops) > 0 || extra == nil
	if extra != nil {
		w, err := extra(&st)
		if err != nil {
			requeue()
			return err
		}
		write = write || w
	}
	now := m.b.core().now()
	if write {
		rec.Values[portalKey] = st
		rec.Touched = now
		if err := m.b.put(ctx, s.id, rec); err != nil {
			requeue()
			return err
		}
	}
	s.mu.Lock()
	s.st = st
	for _, op := range s.ops { // queued while we worked
		op(&s.st)
	}
	if write {
		s.touched = now
	}
	s.mu.Unlock()
	return nil
}
