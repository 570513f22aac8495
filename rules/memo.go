package rules

import (
	"maps"
	"strings"
	"sync"
	"sync/atomic"
)

// memoLimit bounds a memo: beyond it, new inputs are computed every time.
// Label names and the values regex replacements usually work on (metric
// names, regions, models) have far fewer distinct values.
const memoLimit = 4096

// memoResult is the outcome of a regex replacement.
type memoResult struct {
	matched     bool
	name, value string
}

// memo remembers regex replacements by input so that steady-state
// relabeling does not run the regex engine or allocate. Reads take no
// lock: an immutable map behind an atomic pointer. New entries collect in
// a pending map and are published by copying once pending is as large as
// the published map, so publishing costs O(1) amortised per entry.
// Inputs not yet published are simply computed again.
type memo struct {
	m       atomic.Pointer[map[string]memoResult]
	mu      sync.Mutex
	pending map[string]memoResult
	full    atomic.Bool
}

func newMemo() *memo {
	m := &memo{pending: map[string]memoResult{}}
	empty := map[string]memoResult{}
	m.m.Store(&empty)
	return m
}

func (m *memo) get(in string) (memoResult, bool) {
	r, ok := (*m.m.Load())[in]
	return r, ok
}

// put remembers r for in; in is copied, r's strings must be stable.
func (m *memo) put(in string, r memoResult) {
	if m.full.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	published := *m.m.Load()
	if len(published)+len(m.pending) >= memoLimit {
		m.full.Store(true)
		return
	}
	if _, ok := m.pending[in]; ok {
		return
	}
	m.pending[strings.Clone(in)] = r
	if len(m.pending) < len(published) && len(published)+len(m.pending) < memoLimit {
		return
	}
	next := make(map[string]memoResult, len(published)+len(m.pending))
	maps.Copy(next, published)
	maps.Copy(next, m.pending)
	m.m.Store(&next)
	clear(m.pending)
}
