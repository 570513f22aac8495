package aggregate

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
)

// labelArena holds the packed labels (labels.go) of one shard's groups
// back to back, each after its length as a uvarint, so a group record
// keeps a 4-byte reference instead of a string header and its own heap
// object: 8 bytes for the record and the allocator's rounding per group.
//
// Bytes once written never change, so strings returned by get stay valid
// (they keep the array they alias alive) while the arena grows or is
// compacted into a new array. The caller holds the shard lock.
type labelArena struct {
	b    []byte
	dead int // bytes of entries whose group is gone
}

// maxArenaBytes keeps every reference (offset + 1) within a uint32; a
// variable so that tests can fill an arena.
var maxArenaBytes = math.MaxUint32 - 1

// arenaCompactMin is the least number of dead bytes worth a compaction.
const arenaCompactMin = 64 << 10

// add stores p and returns its reference (never 0), or false when the
// arena is full.
func (ar *labelArena) add(p []byte) (uint32, bool) {
	if len(ar.b)+binary.MaxVarintLen32+len(p) > maxArenaBytes {
		return 0, false
	}
	ref := uint32(len(ar.b)) + 1
	ar.b = binary.AppendUvarint(ar.b, uint64(len(p)))
	ar.b = append(ar.b, p...)
	return ref, true
}

// get returns the entry of ref, aliasing the arena.
func (ar *labelArena) get(ref uint32) string {
	s, _ := ar.entry(ref)
	return s
}

// entry returns the entry of ref and the bytes it takes with its length.
func (ar *labelArena) entry(ref uint32) (string, int) {
	off := int(ref - 1)
	n, k := binary.Uvarint(ar.b[off:])
	return unsafe.String(unsafe.SliceData(ar.b[off+k:]), int(n)), k + int(n)
}

// remove marks the entry of ref as dead.
func (ar *labelArena) remove(ref uint32) {
	_, size := ar.entry(ref)
	ar.dead += size
}

// wasteful reports whether dead entries take most of the arena.
func (ar *labelArena) wasteful() bool {
	return ar.dead >= arenaCompactMin && ar.dead > len(ar.b)-ar.dead
}

// roomFor reports whether the labels of a new group with key fit in the
// arena, compacting it first if they do not. A shard whose live labels
// fill 4 GiB creates no more groups (pushSeries counts them as over the
// group limit).
func (sh *shard) roomFor(key []batch.Label) bool {
	if sh.labels.fits(key) {
		return true
	}
	if sh.labels.dead > 0 {
		sh.compactLabels()
	}
	return sh.labels.fits(key)
}

// fits reports whether the packed form of key (at most its label bytes
// and two uvarints per label, plus the name index, the length and the
// metric ref) certainly fits.
func (ar *labelArena) fits(key []batch.Label) bool {
	n := 3 * binary.MaxVarintLen32
	for _, l := range key {
		n += len(l.Name) + len(l.Value) + 2*binary.MaxVarintLen32
	}
	return len(ar.b)+n <= maxArenaBytes
}

// compactLabels copies the labels of sh's groups into a new arena without
// the dead entries.
func (sh *shard) compactLabels() {
	old := sh.labels
	live := len(old.b) - old.dead
	sh.labels = labelArena{b: make([]byte, 0, live+live/8)}
	for gid := range sh.groups {
		g := &sh.groups[gid]
		if g.lref == 0 {
			continue
		}
		_, size := old.entry(g.lref)
		off := int(g.lref - 1)
		g.lref = uint32(len(sh.labels.b)) + 1 // within the old arena's references
		sh.labels.b = append(sh.labels.b, old.b[off:off+size]...)
	}
}
