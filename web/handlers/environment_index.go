package handlers

import (
	"sync"
	"time"

	"ppportal/ppapi"
	"ppportal/web/views/pages"
)

// envIndexMemo keeps the overview's index (search keys, totals, sort
// orders) of the few environment lists fetched last, so that requests
// served the same list by the per-user read cache do not rebuild it. A
// list is known by its backing array; an entry is dropped after the read
// cache's longest lifetime, and at most envIndexMemoSize are kept, so the
// memo never holds a list much longer than the cache itself would.
type envIndexMemo struct {
	mu      sync.Mutex
	entries []envIndexEntry // oldest first
}

type envIndexEntry struct {
	first *ppapi.Environment
	n     int
	ix    *pages.EnvironmentIndex
	at    time.Time
}

const (
	envIndexMemoSize = 8
	envIndexMemoTTL  = 30 * time.Second
)

// index returns the index of envs, built now or earlier for the same list.
func (m *envIndexMemo) index(envs []ppapi.Environment, now time.Time) *pages.EnvironmentIndex {
	if len(envs) == 0 {
		return pages.NewEnvironmentIndex(envs)
	}
	first := &envs[0]
	m.mu.Lock()
	kept := m.entries[:0]
	var found *pages.EnvironmentIndex
	for _, e := range m.entries {
		if now.Sub(e.at) >= envIndexMemoTTL {
			continue
		}
		if e.first == first && e.n == len(envs) {
			found = e.ix
		}
		kept = append(kept, e)
	}
	clear(m.entries[len(kept):])
	m.entries = kept
	m.mu.Unlock()
	if found != nil {
		return found
	}
	ix := pages.NewEnvironmentIndex(envs)
	m.mu.Lock()
	m.entries = append(m.entries, envIndexEntry{first: first, n: len(envs), ix: ix, at: now})
	if over := len(m.entries) - envIndexMemoSize; over > 0 {
		clear(m.entries[:over])
		m.entries = m.entries[over:]
	}
	m.mu.Unlock()
	return ix
}
