package enrich

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
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
//	                 uint32 (little endian) index into values
//	values []string  the distinct column values, all slices of one string; [0] is ""
//
// A key is the key labels' values in key order, each followed by 0xff.
// A slot is found by linear probing from hash & mask; the tag saves a
// record comparison on most collisions, the key bytes decide. The slots
// are at most 3/4 full. Lookups read only immutable memory: no lock, no
// allocation.
type Table struct {
	slots  []uint64
	mask   uint64
	recs   []byte
	values []string
	nadd   int
	rows   int
	loaded time.Time

	valueBytes int
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
	nkey, nadd int
	keyNames   []string // for messages
	maxRows    int
	recs       []byte
	offs       []uint32
	intern     map[string]uint32
	values     []string
	valueBytes int
}

func newBuilder(keyNames []string, nadd, maxRows int) *builder {
	return &builder{
		nkey: len(keyNames), nadd: nadd, keyNames: keyNames, maxRows: maxRows,
		intern: map[string]uint32{"": 0}, values: []string{""},
	}
}

// add appends a row: nkey key values then nadd column values. An empty
// column value means the row has no value for that column.
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
	if off+binary.MaxVarintLen64+keyLen+4*b.nadd > maxArena {
		return errors.New("table too large: more than 4 GiB of keys")
	}
	b.offs = append(b.offs, uint32(off))
	b.recs = binary.AppendUvarint(b.recs, uint64(keyLen))
	for _, v := range row[:b.nkey] {
		b.recs = append(b.recs, v...)
		b.recs = append(b.recs, keySep)
	}
	for _, v := range row[b.nkey:] {
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
		rows:   n,
		loaded: loaded,

		valueBytes: b.valueBytes,
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
