package load

import (
	"encoding/binary"
	"fmt"
)

// hole is a byte range [start, end) of an uncompressed body whose content
// changes from one send to the next. A unique hole (shared == false, e.g. a
// sample value or a device id) is always rewritten with its own content;
// the holes of the shared class (the timestamps of a body) are always
// rewritten with one and the same content, so one may be copied from
// another.
type hole struct {
	start, end int
	shared     bool
}

// span is a part of a shared hole that is stored verbatim in a block:
// bytes [off, off+n) of the hole's content go to [dst, dst+n).
type span struct{ dst, off, n int }

// Parameters of the block encoder: a 16k-entry hash table of 4-byte
// sequences, and copies within 64 KiB (2-byte offsets), as golang/snappy.
const (
	hashBits      = 14
	maxCopyOffset = 1<<16 - 1
	minMatch      = 4
	maxSharedLen  = 255
)

// Byte classes of the encoder: stable bytes match equal stable bytes; a
// byte of the shared class at offset k of its hole matches only bytes at
// offset k of shared holes; unique hole bytes match nothing.
const (
	clsStable = 0
	clsUnique = 0xffff
	// clsShared + k: offset k of a shared hole.
	clsShared = 1
)

// appendBlock appends to dst src compressed as one snappy block (the
// format of remote write bodies; no framing, no checksum). It returns the
// block, for each unique hole the offset in the block where its bytes are
// stored verbatim (-1 for shared holes), and the spans of the block that
// hold shared-hole bytes verbatim.
//
// Unique holes are never part of a copy, neither as the copied bytes nor
// as the source of a later copy: each lies inside one literal. Shared-hole
// bytes are copied only from the same offset of another shared hole.
// Rewriting every unique hole at its offset and every shared span with
// the shared content therefore decodes to src with exactly those bytes
// rewritten. holes must be sorted, disjoint and within src; shared holes
// are at most 255 bytes long.
//
// Compression is greedy LZ77, close to golang/snappy's ratio on remote
// write bodies.
func appendBlock(dst, src []byte, holes []hole) ([]byte, []int, []span, error) {
	cls := make([]uint16, len(src))
	prev := 0
	for _, h := range holes {
		if h.start < prev || h.end < h.start || h.end > len(src) || h.shared && h.end-h.start > maxSharedLen {
			return dst, nil, nil, fmt.Errorf("cannot compress body: hole [%d, %d) out of order, out of range %d or too long", h.start, h.end, len(src))
		}
		prev = h.end
		for k := h.start; k < h.end; k++ {
			if h.shared {
				cls[k] = uint16(clsShared + k - h.start)
			} else {
				cls[k] = clsUnique
			}
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(src)))
	offs := make([]int, len(holes))
	for k, h := range holes {
		if h.shared {
			offs[k] = -1
		}
	}
	e := blockEncoder{src: src, cls: cls, holes: holes, dst: dst, offs: offs}
	e.encode()
	return e.dst, offs, e.spans, nil
}

type blockEncoder struct {
	src   []byte
	cls   []uint16
	holes []hole
	dst   []byte
	offs  []int
	spans []span
	// nextHole is the index of the first hole not yet passed by literals.
	nextHole int
	table    [1 << hashBits]int32 // position+1 of the last 4-byte sequence with this hash
}

// same reports whether the decoded bytes at a and b are equal on every send.
func (e *blockEncoder) same(a, b int) bool {
	ca, cb := e.cls[a], e.cls[b]
	if ca != cb || ca == clsUnique {
		return false
	}
	return ca != clsStable || e.src[a] == e.src[b]
}

func (e *blockEncoder) encode() {
	src, cls := e.src, e.cls
	litStart := 0
	i := 0
	for i+minMatch <= len(src) {
		if cls[i+3] == clsUnique || cls[i+2] == clsUnique || cls[i+1] == clsUnique || cls[i] == clsUnique {
			i++
			continue
		}
		cur := binary.LittleEndian.Uint32(src[i:])
		h := hash4(cur ^ uint32(cls[i])<<8)
		cand := int(e.table[h]) - 1
		e.table[h] = int32(i + 1)
		if cand < 0 || i-cand > maxCopyOffset || !e.same(cand, i) || !e.same(cand+1, i+1) || !e.same(cand+2, i+2) || !e.same(cand+3, i+3) {
			i++
			continue
		}
		n := minMatch
		for i+n < len(src) && e.same(cand+n, i+n) {
			n++
		}
		e.literal(litStart, i)
		e.copyElem(i-cand, n)
		i += n
		litStart = i
	}
	e.literal(litStart, len(src))
}

func hash4(u uint32) uint32 { return (u * 0x1e35a7bd) >> (32 - hashBits) }

// literal emits src[lo:hi] as one literal element and records where the
// holes inside it went.
func (e *blockEncoder) literal(lo, hi int) {
	if hi <= lo {
		return
	}
	n := uint32(hi - lo - 1)
	switch {
	case n < 60:
		e.dst = append(e.dst, byte(n<<2))
	case n < 1<<8:
		e.dst = append(e.dst, 60<<2, byte(n))
	case n < 1<<16:
		e.dst = append(e.dst, 61<<2, byte(n), byte(n>>8))
	case n < 1<<24:
		e.dst = append(e.dst, 62<<2, byte(n), byte(n>>8), byte(n>>16))
	default:
		e.dst = append(e.dst, 63<<2, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	}
	base := len(e.dst)
	e.dst = append(e.dst, e.src[lo:hi]...)
	for e.nextHole < len(e.holes) && e.holes[e.nextHole].end <= lo {
		e.nextHole++
	}
	for k := e.nextHole; k < len(e.holes) && e.holes[k].start < hi; k++ {
		h := e.holes[k]
		if !h.shared {
			e.offs[k] = base + h.start - lo // a unique hole lies inside one literal
			continue
		}
		s, t := max(h.start, lo), min(h.end, hi)
		e.spans = append(e.spans, span{dst: base + s - lo, off: s - h.start, n: t - s})
	}
}

// copyElem emits a back-reference of length n at distance offset, split
// into elements as the snappy format allows (copy-1: length 4..11 and
// offset < 2048; copy-2: length 1..64).
func (e *blockEncoder) copyElem(offset, n int) {
	for n >= 68 {
		e.dst = append(e.dst, 63<<2|2, byte(offset), byte(offset>>8))
		n -= 64
	}
	if n > 64 {
		e.dst = append(e.dst, 59<<2|2, byte(offset), byte(offset>>8))
		n -= 60
	}
	if n >= 12 || offset >= 2048 {
		e.dst = append(e.dst, byte(n-1)<<2|2, byte(offset), byte(offset>>8))
		return
	}
	e.dst = append(e.dst, byte(offset>>8)<<5|byte(n-4)<<2|1, byte(offset))
}
