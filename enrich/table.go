package enrich

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// keySep ends each key value in a key: a byte no UTF-8 string contains,
// so that ("a", "bc") and ("ab", "c") differ.
const keySep = 0xff

// maxArena bounds a table's records: offsets are 32 bits.
const maxArena = math.MaxUint32 - 1

// Table is one immutable snapshot of a lookup table: an open-addressing
// hash table of 64-bit slots over one byte arena of records.
//
//	slots []uint64   tag (high 32 bits of the key hash) << 32 | record offset + 1; 0 is empty
//	recs  []byte     record: uvarint key length, key bytes, then per add column a
//	                 uint32 (little endian) index into values, then per reference
//	                 column a float64 (IEEE 754 bits, little endian; NaN: no value)
//	values []string  the distinct column values, all slices of one string; [0] is ""
//
// A key is the key labels' values in key order, each followed by 0xff.
// A slot is found by linear probing from hash & mask; the tag saves a
// record comparison on most collisions, the key bytes decide. The slots
// are at most 3/4 full. Lookups read only immutable memory: no lock, no
// allocation. Records follow each other in source order, so the reference
// series are a scan of recs (eachRecord).
type Table struct {
	slots  []uint64
	mask   uint64
	recs   []byte
	values []string
	nadd   int
	nref   int // reference columns (columns.ref)
	rows   int
	loaded time.Time

	valueBytes int
	ref        refStats
}

// refStats are a snapshot's counts per reference column (columns.ref).
type refStats struct {
	valid   []int    // rows with a number
	invalid []int    // rows without one: empty, NULL, not a number, NaN
	example []string // per column, the first invalid row: {key} "value"
}

// Rows returns the number of rows.
func (t *Table) Rows() int { return t.rows }

// Bytes returns the memory the table holds: slots, records and values.
func (t *Table) Bytes() int {
	return len(t.slots)*8 + cap(t.recs) + len(t.values)*16 + t.valueBytes
}

// lookup returns the offset of the values of the row whose key is key.
func (t *Table) lookup(key []byte) (int, bool) {
	if t == nil || t.rows == 0 {
		return 0, false
	}
	h := xxhash.Sum64(key)
	tag := h >> 32
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 != tag {
			continue
		}
		off := int(uint32(s)) - 1
		klen, n := binary.Uvarint(t.recs[off:])
		start := off + n
		end := start + int(klen)
		if string(t.recs[start:end]) == string(key) {
			return end, true
		}
	}
}

// value returns the value of add column col of the row at vals (from
// lookup).
func (t *Table) value(vals, col int) string {
	return t.values[binary.LittleEndian.Uint32(t.recs[vals+4*col:])]
}

// refValue returns reference column col of the row at vals (from lookup
// or eachRecord); NaN when the row has no number there.
func (t *Table) refValue(vals, col int) float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(t.recs[vals+4*t.nadd+8*col:]))
}

// eachRecord calls fn with the key bytes and the values offset (as
// lookup returns it) of every row, in source order, until fn returns
// false. key aliases the table's immutable records.
func (t *Table) eachRecord(fn func(key []byte, vals int) bool) {
	stride := 4*t.nadd + 8*t.nref
	for off := 0; off < len(t.recs); {
		klen, n := binary.Uvarint(t.recs[off:])
		start := off + n
		end := start + int(klen)
		if !fn(t.recs[start:end:end], end) {
			return
		}
		off = end + stride
	}
}

// Lookup returns the add column values of the row with the given key
// values (in key order), for tests and tools; the Enricher does not
// allocate this way.
func (t *Table) Lookup(key ...string) ([]string, bool) {
	var buf []byte
	for _, k := range key {
		buf = append(buf, k...)
		buf = append(buf, keySep)
	}
	vals, ok := t.lookup(buf)
	if !ok {
		return nil, false
	}
	out := make([]string, t.nadd)
	for i := range out {
		out[i] = t.value(vals, i)
	}
	return out, true
}

// builder collects rows into a Table.
type builder struct {
	nkey, nadd, nref int
	keyNames         []string // for messages
	maxRows          int
	recs             []byte
	offs             []uint32
	intern           map[string]uint32
	values           []string
	valueBytes       int
	ref              refStats
}

func newBuilder(keyNames []string, nadd, maxRows int) *builder {
	return &builder{
		nkey: len(keyNames), nadd: nadd, keyNames: keyNames, maxRows: maxRows,
		intern: map[string]uint32{"": 0}, values: []string{""},
	}
}

// withReference makes b keep nref reference columns after the add
// columns of each row: numbers, for the reference series.
func (b *builder) withReference(nref int) *builder {
	b.nref = nref
	b.ref = refStats{valid: make([]int, nref), invalid: make([]int, nref), example: make([]string, nref)}
	return b
}

// parseRef parses a reference column value: a float (surrounding spaces
// ignored; Inf allowed, NaN not: it is no value).
func parseRef(v string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// noValue is a reference column without a number.
var noValue = math.NaN()

// add appends a row: nkey key values, nadd column values, then nref
// reference column values. An empty column value means the row has no
// value for that column; a reference value that is not a number is
// counted (refStats) and is no value.
func (b *builder) add(row []string) error {
	if len(b.offs) >= b.maxRows {
		return fmt.Errorf("more than max_rows (%d) rows", b.maxRows)
	}
	keyLen := 0
	for i, v := range row {
		if !utf8.ValidString(v) {
			return fmt.Errorf("value %q is not valid UTF-8", v)
		}
		if i < b.nkey {
			if v == "" {
				return fmt.Errorf("no value for key column %q", b.keyNames[i])
			}
			keyLen += len(v) + 1
		}
	}
	off := len(b.recs)
	if off+binary.MaxVarintLen64+keyLen+4*b.nadd+8*b.nref > maxArena {
		return errors.New("table too large: more than 4 GiB of keys")
	}
	b.offs = append(b.offs, uint32(off))
	b.recs = binary.AppendUvarint(b.recs, uint64(keyLen))
	kstart := len(b.recs)
	for _, v := range row[:b.nkey] {
		b.recs = append(b.recs, v...)
		b.recs = append(b.recs, keySep)
	}
	for _, v := range row[b.nkey : b.nkey+b.nadd] {
		idx, ok := b.intern[v]
		if !ok {
			idx = uint32(len(b.values))
			v = strings.Clone(v) // not the parser's buffer
			b.intern[v] = idx
			b.values = append(b.values, v)
			b.valueBytes += len(v)
		}
		b.recs = binary.LittleEndian.AppendUint32(b.recs, idx)
	}
	for i, v := range row[b.nkey+b.nadd:] {
		f, ok := parseRef(v)
		if ok {
			b.ref.valid[i]++
		} else {
			f = noValue
			if b.ref.invalid[i] == 0 {
				if len(v) > 64 {
					v = v[:64] + "..."
				}
				b.ref.example[i] = fmt.Sprintf("%s %q", b.formatKey(b.recs[kstart:kstart+keyLen]), v)
			}
			b.ref.invalid[i]++
		}
		b.recs = binary.LittleEndian.AppendUint64(b.recs, math.Float64bits(f))
	}
	return nil
}

// finish indexes the rows. Two rows with one key are an error: which of
// them is meant cannot be told.
func (b *builder) finish(loaded time.Time) (*Table, error) {
	n := len(b.offs)
	size := uint64(8)
	if need := uint64(n)*4/3 + 1; need > size {
		size = 1 << bits.Len64(need-1)
	}
	t := &Table{
		slots:  make([]uint64, size),
		mask:   size - 1,
		recs:   append([]byte(nil), b.recs...), // no spare capacity
		values: b.compactValues(),
		nadd:   b.nadd,
		nref:   b.nref,
		rows:   n,
		loaded: loaded,

		valueBytes: b.valueBytes,
		ref:        b.ref,
	}
	for row, off := range b.offs {
		klen, vn := binary.Uvarint(t.recs[off:])
		start := int(off) + vn
		key := t.recs[start : start+int(klen)]
		h := xxhash.Sum64(key)
		tag := h >> 32
		for i := h & t.mask; ; i = (i + 1) & t.mask {
			s := t.slots[i]
			if s == 0 {
				t.slots[i] = tag<<32 | uint64(off+1)
				break
			}
			if s>>32 != tag {
				continue
			}
			o := int(uint32(s)) - 1
			ol, on := binary.Uvarint(t.recs[o:])
			if string(t.recs[o+on:o+on+int(ol)]) == string(key) {
				return nil, fmt.Errorf("rows %d and %d have the same key %s", b.rowOf(uint32(o))+1, row+1, b.formatKey(key))
			}
		}
	}
	b.intern = nil
	return t, nil
}

// compactValues copies the distinct values into one string, so a table
// is a handful of allocations however many distinct values it has.
func (b *builder) compactValues() []string {
	var sb strings.Builder
	sb.Grow(b.valueBytes)
	for _, v := range b.values {
		sb.WriteString(v)
	}
	all := sb.String()
	out := make([]string, len(b.values))
	pos := 0
	for i, v := range b.values {
		out[i] = all[pos : pos+len(v)]
		pos += len(v)
	}
	return out
}

func (b *builder) rowOf(off uint32) int {
	lo, hi := 0, len(b.offs)
	for lo < hi {
		m := (lo + hi) / 2
		if b.offs[m] < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// formatKey renders key bytes as {name="value", ...}.
func (b *builder) formatKey(key []byte) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, name := range b.keyNames {
		j := 0
		for j < len(key) && key[j] != keySep {
			j++
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s=%q", name, key[:j])
		if j < len(key) {
			key = key[j+1:]
		}
	}
	sb.WriteByte('}')
	return sb.String()
}
