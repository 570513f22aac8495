package aggregate

import "math/bits"

// table is an open-addressing hash table of flat entries keyed by a
// 64-bit hash: linear probing, the home slot of key k is k·cap/2^64 (keys
// are xxhash values, so their high bits are uniform), backward-shift
// deletion, no tombstones. Entries hold no pointers unless V does, so a
// table of a million entries is one allocation the GC does not scan.
//
// Key 0 marks an empty slot; a caller's key 0 is stored as 1 (see
// tableKey). Several entries may share a key: find and next enumerate
// them. A position returned by find/next/insert is valid until the next
// insert, remove or resize.
type table[V any] struct {
	slots []tableSlot[V]
	n     int
}

type tableSlot[V any] struct {
	key uint64
	val V
}

// Growth: the table grows by 3/2 when an insert would exceed 4/5 load, so
// a steady table is 53–80% full; it shrinks when a sweep leaves it below
// 1/8 full.
const (
	tableMinCap  = 16
	tableMaxLoad = 0.8
)

// tableKey maps a hash to a stored key: 0 is reserved for empty slots.
func tableKey(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

func (t *table[V]) len() int { return t.n }

func (t *table[V]) home(key uint64) int {
	hi, _ := bits.Mul64(key, uint64(len(t.slots)))
	return int(hi)
}

// find returns the position of the first entry with key h, or -1.
func (t *table[V]) find(h uint64) int {
	if t.n == 0 {
		return -1
	}
	key := tableKey(h)
	for i := t.home(key); ; {
		switch t.slots[i].key {
		case key:
			return i
		case 0:
			return -1
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// next returns the position of the next entry with key h after pos, or -1.
func (t *table[V]) next(h uint64, pos int) int {
	key := tableKey(h)
	for i := pos + 1; ; i++ {
		if i == len(t.slots) {
			i = 0
		}
		switch t.slots[i].key {
		case key:
			return i
		case 0:
			return -1
		}
	}
}

// at returns the value at pos.
func (t *table[V]) at(pos int) *V { return &t.slots[pos].val }

// insert adds an entry (even when one with the same key exists) and
// returns its position.
func (t *table[V]) insert(h uint64, v V) int {
	if float64(t.n+1) > tableMaxLoad*float64(len(t.slots)) {
		t.resize(max(tableMinCap, len(t.slots)*3/2, int(float64(t.n+1)/tableMaxLoad)+1))
	}
	key := tableKey(h)
	i := t.home(key)
	for t.slots[i].key != 0 {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	t.slots[i] = tableSlot[V]{key: key, val: v}
	t.n++
	return i
}

// remove deletes the entry at pos, shifting later entries of its probe
// run back, so lookups never need tombstones.
func (t *table[V]) remove(pos int) {
	n := len(t.slots)
	i := pos
	for j := i + 1; ; j++ {
		if j == n {
			j = 0
		}
		k := t.slots[j].key
		if k == 0 {
			break
		}
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		h := t.home(k)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	var zero tableSlot[V]
	t.slots[i] = zero
	t.n--
}

// sweep removes every entry for which drop returns true and shrinks the
// table when it is mostly empty. drop may see an entry twice (after a
// removal shifts it back), so it must not have side effects that count.
func (t *table[V]) sweep(drop func(key uint64, v *V) bool) (removed int) {
	for i := 0; i < len(t.slots); {
		s := &t.slots[i]
		if s.key != 0 && drop(s.key, &s.val) {
			t.remove(i) // an entry from a later slot may have moved into i: look again
			removed++
			continue
		}
		i++
	}
	if len(t.slots) > tableMinCap && t.n < len(t.slots)/8 {
		t.resize(max(tableMinCap, int(float64(t.n)/tableMaxLoad*1.5)+1))
	}
	return removed
}

// resize rehashes every entry into a table of capacity c.
func (t *table[V]) resize(c int) {
	old := t.slots
	t.slots = make([]tableSlot[V], c)
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := t.home(s.key)
		for t.slots[i].key != 0 {
			if i++; i == c {
				i = 0
			}
		}
		t.slots[i] = s
	}
}

// reset empties the table and releases its memory.
func (t *table[V]) reset() {
	t.slots = nil
	t.n = 0
}

// each calls fn for every entry, in slot order, with its stored key
// (tableKey of the hash it was inserted with).
func (t *table[V]) each(fn func(key uint64, v *V)) {
	for i := range t.slots {
		if s := &t.slots[i]; s.key != 0 {
			fn(s.key, &s.val)
		}
	}
}
