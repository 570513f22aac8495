package remotewrite

import (
	"github.com/premetrics/premetrics/batch"
)

// seriesTable interns the label sets of one shard. An entry lives while
// samples in the shard reference it (refs > 0) and is kept afterwards as a
// cache for the next samples of the same series, until the table reaches
// its limit; then every unreferenced entry is freed at once. Referenced
// entries are at most the shard's capacity, so a sweep frees at least
// limit-capacity entries and the work is amortised. Guarded by shard.mu.
type seriesTable struct {
	index   map[uint64]int32 // hash -> entry, for entries with indexed set
	entries []seriesEntry
	free    []int32
	limit   int
	live    int // entries in use (not on the free list)
	gen     uint32
}

type seriesEntry struct {
	labels  []batch.Label // immutable; strings owned by this entry
	hash    uint64
	refs    int32 // samples in the shard's ring that point here
	indexed bool  // false for the rare 64-bit hash collision: not reachable via index

	// Scratch of the sender while it collects a batch (under shard.mu).
	mark uint32
	pos  int32
}

func newSeriesTable(limit int) seriesTable {
	return seriesTable{index: map[uint64]int32{}, limit: limit}
}

// intern returns the entry for ls (hash h), creating it with a private
// copy of the labels when needed. The caller adds refs before unlocking.
func (t *seriesTable) intern(h uint64, ls []batch.Label) int32 {
	ref, ok := t.index[h]
	if ok && batch.Equal(t.entries[ref].labels, ls) {
		return ref
	}
	if t.live >= t.limit {
		t.sweep()
	}
	var e *seriesEntry
	if n := len(t.free); n > 0 {
		ref = t.free[n-1]
		t.free = t.free[:n-1]
		e = &t.entries[ref]
	} else {
		ref = int32(len(t.entries))
		t.entries = append(t.entries, seriesEntry{})
		e = &t.entries[ref]
	}
	t.live++
	*e = seriesEntry{labels: batch.Clone(ls), hash: h}
	if _, taken := t.index[h]; !taken {
		e.indexed = true
		t.index[h] = ref
	}
	return ref
}

// sweep frees every entry that no buffered sample references.
func (t *seriesTable) sweep() {
	for i := range t.entries {
		e := &t.entries[i]
		if e.labels == nil || e.refs > 0 {
			continue
		}
		if e.indexed {
			delete(t.index, e.hash)
		}
		*e = seriesEntry{}
		t.free = append(t.free, int32(i))
		t.live--
	}
}

// nextGen returns a new mark for the sender's collect pass.
func (t *seriesTable) nextGen() uint32 {
	t.gen++
	if t.gen == 0 { // wrapped: no stale mark may equal a live generation
		for i := range t.entries {
			t.entries[i].mark = 0
		}
		t.gen = 1
	}
	return t.gen
}
