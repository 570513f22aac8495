package aggregate

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/premetrics/premetrics/batch"
)

// A group keeps its labels as one packed string instead of a []batch.Label
// with a string per name and value: label names and low-cardinality values
// are interned in the aggregation's symbol tables and stored as a 1–3 byte
// reference, high-cardinality values (vehicle ids) inline.
//
//	packed  = uvarint(index of __name__ in the sorted labels) metric { name value }
//	metric  = ref into symbols.metrics
//	name    = ref into symbols.values
//	value   = ref into symbols.values
//	ref     = uvarint(id<<1) | uvarint(len<<1 | 1) bytes
//
// Decoded labels alias the symbol tables and the packed string, both
// immutable, so outputs may keep them.

// Symbol table limits: a table stops interning when full, and a label name
// stops interning new values after maxValuesPerName of them, so a label
// like a vehicle id is stored inline and the tables stay small and bounded
// even under a cardinality explosion.
const (
	symChunkBits     = 10
	symChunkSize     = 1 << symChunkBits
	symMaxChunks     = 64
	symMax           = symChunkSize * symMaxChunks // 65,536 symbols per table
	maxValuesPerName = 256
)

// symbols are the two symbol tables of one aggregation.
type symbols struct {
	mu      sync.Mutex // guards the fields below and table growth
	metrics symtab     // metric names, with their output names
	values  symtab     // label names and values
	perName map[uint32]int
	buf     []byte // pack's scratch
}

// symtab is an append-only table of interned strings. Readers index it
// without the lock: a symbol id is only published (in a packed string
// written under a shard lock) after its entry was stored.
type symtab struct {
	ids    map[string]uint32
	n      uint32
	chunks [symMaxChunks]atomic.Pointer[[symChunkSize]symbol]
}

type symbol struct {
	s   string
	out []string // metrics table: the output metric name per configured output
}

func newSymbols() *symbols {
	return &symbols{
		metrics: symtab{ids: make(map[string]uint32)},
		values:  symtab{ids: make(map[string]uint32)},
		perName: make(map[uint32]int),
	}
}

func (t *symtab) get(id uint32) *symbol {
	return &t.chunks[id>>symChunkBits].Load()[id&(symChunkSize-1)]
}

// add interns s (cloned) and returns its id; ok is false when the table is
// full. The caller holds symbols.mu.
func (t *symtab) add(s string, out []string) (uint32, bool) {
	if id, ok := t.ids[s]; ok {
		return id, true
	}
	if t.n == symMax {
		return 0, false
	}
	id := t.n
	c := t.chunks[id>>symChunkBits].Load()
	if c == nil {
		c = new([symChunkSize]symbol)
		t.chunks[id>>symChunkBits].Store(c)
	}
	s = strings.Clone(s)
	c[id&(symChunkSize-1)] = symbol{s: s, out: out}
	t.ids[s] = id
	t.n++
	return id, true
}

// pack encodes key (sorted group labels with a __name__) into a packed
// string stored in ar, interning what the limits allow, and returns its
// reference in ar (false: ar is full). outNames returns the output names
// of a metric name being interned. The caller holds the lock of ar's shard.
func (sy *symbols) pack(key []batch.Label, outNames func(metric string) []string, ar *labelArena) (uint32, bool) {
	sy.mu.Lock()
	defer sy.mu.Unlock()
	buf := sy.buf[:0]
	nameIdx := 0
	for i, l := range key {
		if l.Name == batch.MetricName {
			nameIdx = i
		}
	}
	buf = binary.AppendUvarint(buf, uint64(nameIdx))
	metric := key[nameIdx].Value
	if id, ok := sy.metrics.ids[metric]; ok {
		buf = appendSymRef(buf, id)
	} else if id, ok := sy.metrics.add(metric, outNames(metric)); ok {
		buf = appendSymRef(buf, id)
	} else { // the table is full
		buf = appendInline(buf, metric)
	}
	for i, l := range key {
		if i == nameIdx {
			continue
		}
		nameID, ok := sy.values.add(l.Name, nil)
		if !ok {
			buf = appendInline(buf, l.Name)
			buf = appendInline(buf, l.Value)
			continue
		}
		buf = appendSymRef(buf, nameID)
		if id, ok := sy.values.ids[l.Value]; ok {
			buf = appendSymRef(buf, id)
			continue
		}
		if sy.perName[nameID] < maxValuesPerName {
			if id, ok := sy.values.add(l.Value, nil); ok {
				sy.perName[nameID]++
				buf = appendSymRef(buf, id)
				continue
			}
		}
		buf = appendInline(buf, l.Value)
	}
	sy.buf = buf
	return ar.add(buf)
}

func appendSymRef(buf []byte, id uint32) []byte {
	return binary.AppendUvarint(buf, uint64(id)<<1)
}

func appendInline(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s))<<1|1)
	return append(buf, s...)
}

// packedReader walks a packed label string.
type packedReader struct {
	p   string
	off int
}

func (r *packedReader) uvarint() uint64 {
	// Packed strings are written by pack: the varints are well formed.
	var x uint64
	var s uint
	for {
		b := r.p[r.off]
		r.off++
		if b < 0x80 {
			return x | uint64(b)<<s
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
}

// str reads one ref: an interned string of t, or an inline one aliasing p.
func (r *packedReader) str(t *symtab) string {
	x := r.uvarint()
	if x&1 == 0 {
		return t.get(uint32(x >> 1)).s
	}
	n := int(x >> 1)
	s := r.p[r.off : r.off+n]
	r.off += n
	return s
}

// metric reads the metric ref and returns its symbol, or nil and the
// inline name.
func (r *packedReader) metric(t *symtab) (*symbol, string) {
	x := r.uvarint()
	if x&1 == 0 {
		sym := t.get(uint32(x >> 1))
		return sym, sym.s
	}
	n := int(x >> 1)
	s := r.p[r.off : r.off+n]
	r.off += n
	return nil, s
}

// unpack appends the labels of packed to dst, in sorted order, and
// returns them with the index of __name__ and the metric's symbol (nil
// when the metric name is inline).
func (sy *symbols) unpack(packed string, dst []batch.Label) ([]batch.Label, int, *symbol) {
	r := packedReader{p: packed}
	nameIdx := int(r.uvarint())
	sym, metric := r.metric(&sy.metrics)
	base := len(dst)
	for r.off < len(r.p) {
		if len(dst)-base == nameIdx {
			dst = append(dst, batch.Label{Name: batch.MetricName, Value: metric})
		}
		n := r.str(&sy.values)
		v := r.str(&sy.values)
		dst = append(dst, batch.Label{Name: n, Value: v})
	}
	if len(dst)-base == nameIdx {
		dst = append(dst, batch.Label{Name: batch.MetricName, Value: metric})
	}
	return dst, nameIdx, sym
}
