package remotewrite

import (
	"strings"

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
	if ok && labelsEqual(t.entries[ref].labels, ls) {
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
	*e = seriesEntry{labels: cloneLabels(ls), hash: h}
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

func labelsEqual(a, b []batch.Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// cloneLabels copies ls with all strings in one allocation.
func cloneLabels(ls []batch.Label) []batch.Label {
	n := 0
	for _, l := range ls {
		n += len(l.Name) + len(l.Value)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, l := range ls {
		sb.WriteString(l.Name)
		sb.WriteString(l.Value)
	}
	s := sb.String()
	out := make([]batch.Label, len(ls))
	off := 0
	for i, l := range ls {
		out[i].Name = s[off : off+len(l.Name)]
		off += len(l.Name)
		out[i].Value = s[off : off+len(l.Value)]
		off += len(l.Value)
	}
	return out
}
