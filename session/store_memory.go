package session

import (
	"container/list"
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/gorilla/sessions"
)

// MemoryStore is a sessions.Store keeping sessions in this process: a
// bounded map (least recently used evicted first) of encrypted records, the
// same bytes RedisStore would keep. It suits one replica; several replicas
// need RedisStore.
type MemoryStore struct {
	c     *storeCore
	mu    sync.Mutex
	items map[string]*list.Element // of *memItem
	lru   *list.List               // front: most recently used
	locks lockMap
}

type memItem struct {
	id   string
	data []byte
}

var _ sessions.Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore configured by o.
func NewMemoryStore(o StoreOptions) (*MemoryStore, error) {
	c, err := newStoreCore(o)
	if err != nil {
		return nil, err
	}
	return &MemoryStore{c: c, items: map[string]*list.Element{}, lru: list.New()}, nil
}

// Get returns the session for name from r, cached per request (see New).
func (s *MemoryStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return storeGet(s, r, name)
}

// New loads the session for name from r's cookie if the cookie verifies and
// names a live session; otherwise it returns a new session with a fresh id.
func (s *MemoryStore) New(r *http.Request, name string) (*sessions.Session, error) {
	return storeNew(s, r, name)
}

// Save stores sess and sets its cookie; Options.MaxAge < 0 deletes both.
func (s *MemoryStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	return storeSave(s, r, w, sess)
}

// CookieName is the name of the session cookie: __Host-portal when Secure,
// else portal.
func (s *MemoryStore) CookieName() string { return s.c.cookieName }

// Len returns the number of sessions held, live or not yet found expired.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

func (s *MemoryStore) core() *storeCore { return s.c }

func (s *MemoryStore) ping(context.Context) error { return nil }

func (s *MemoryStore) get(_ context.Context, id string) (*record, error) {
	s.mu.Lock()
	e, ok := s.items[id]
	var data []byte
	if ok {
		s.lru.MoveToFront(e)
		data = e.Value.(*memItem).data
	}
	s.mu.Unlock()
	if !ok {
		return nil, nil
	}
	rec, err := s.c.open(id, data)
	if err != nil {
		return nil, nil
	}
	return rec, nil
}

func (s *MemoryStore) put(ctx context.Context, id string, rec *record) error {
	if s.c.ttl(rec, s.c.now()) <= 0 {
		return s.remove(ctx, id)
	}
	data, err := s.c.seal(id, rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[id]; ok {
		e.Value.(*memItem).data = data
		s.lru.MoveToFront(e)
		return nil
	}
	s.items[id] = s.lru.PushFront(&memItem{id: id, data: data})
	for len(s.items) > s.c.o.MaxSessions {
		back := s.lru.Back()
		delete(s.items, back.Value.(*memItem).id)
		s.lru.Remove(back)
	}
	return nil
}

func (s *MemoryStore) remove(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[id]; ok {
		delete(s.items, id)
		s.lru.Remove(e)
	}
	return nil
}

func (s *MemoryStore) lock(ctx context.Context, id string) (func(), error) {
	return s.locks.lock(ctx, id)
}

// lockMap is a set of per-key mutexes that can be waited on with a
// context; entries disappear when nobody holds or waits for them.
type lockMap struct {
	mu sync.Mutex
	m  map[string]*lockEntry
}

type lockEntry struct {
	ch   chan struct{} // holds one token while locked
	refs int
}

func (l *lockMap) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*lockEntry{}
	}
	e := l.m[key]
	if e == nil {
		e = &lockEntry{ch: make(chan struct{}, 1)}
		l.m[key] = e
	}
	e.refs++
	l.mu.Unlock()

	select {
	case e.ch <- struct{}{}:
		var once sync.Once
		return func() {
			once.Do(func() {
				<-e.ch
				l.release(key, e)
			})
		}, nil
	case <-ctx.Done():
		l.release(key, e)
		return nil, fmt.Errorf("session: waiting for session lock: %w", ctx.Err())
	}
}

func (l *lockMap) release(key string, e *lockEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		delete(l.m, key)
	}
}
