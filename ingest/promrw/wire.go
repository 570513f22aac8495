package promrw

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireStart   = 3 // group start, deprecated
	wireEnd     = 4 // group end, deprecated
	wireFixed32 = 5
)

// wireError is a low-level protobuf error at a byte offset of the message
// being parsed. The parser turns it into an *Error with a path.
type wireError struct {
	off int
	msg string
}

func (e *wireError) Error() string { return e.msg }

// wireErrorf is kept out of line so that the hot helpers stay small
// enough to inline.
//
//go:noinline
func wireErrorf(off int, format string, args ...any) *wireError {
	return &wireError{off: off, msg: fmt.Sprintf(format, args...)}
}

// uvarint reads a base-128 varint at data[i:] and returns it and the offset
// after it.
func uvarint(data []byte, i int) (uint64, int, *wireError) {
	if uint(i+1) < uint(len(data)) {
		c := data[i]
		if c < 0x80 {
			return uint64(c), i + 1, nil
		}
		// Two bytes: the length of most TimeSeries messages.
		if d := data[i+1]; d < 0x80 {
			return uint64(c&0x7f) | uint64(d)<<7, i + 2, nil
		}
	}
	return uvarintSlow(data, i)
}

// uvarintEnd decodes a varint of n = len(data)-i bytes, 1 <= n <= 8, that
// ends exactly at len(data) (len(data) >= 8): one word load instead of a
// loop over bytes, for sample timestamps (6 bytes for Unix ms). ok is
// false when the bytes are not such a varint.
func uvarintEnd(data []byte, i int) (v uint64, ok bool) {
	n := len(data) - i
	if n < 1 || n > 8 || len(data) < 8 {
		return 0, false
	}
	x := binary.LittleEndian.Uint64(data[len(data)-8:]) >> (8 * (8 - n))
	// Continuation bits: set in every byte but the last.
	if x&0x8080808080808080 != 0x8080808080808080>>(8*(9-n)) {
		return 0, false
	}
	return x&0x7f | x>>1&0x3f80 | x>>2&0x1fc000 | x>>3&0xfe00000 |
		x>>4&0x7f0000000 | x>>5&0x3f800000000 | x>>6&0x1fc0000000000 | x>>7&0xfe000000000000, true
}

func uvarintSlow(data []byte, i int) (uint64, int, *wireError) {
	start := i
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if i >= len(data) {
			return 0, start, wireErrorf(start, "truncated varint")
		}
		c := data[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, nil
		}
	}
	return 0, start, wireErrorf(start, "varint longer than 10 bytes")
}

// tag reads a field key at data[i:]: field number, wire type, next offset.
func tag(data []byte, i int) (num uint64, wt int, next int, err *wireError) {
	key, next, err := uvarint(data, i)
	if err != nil {
		return 0, 0, i, err
	}
	num = key >> 3
	if num == 0 || num > math.MaxInt32>>2 {
		return 0, 0, i, wireErrorf(i, "invalid field number %d", num)
	}
	return num, int(key & 7), next, nil
}

// bytesField reads the length prefix of a length-delimited field at
// data[i:] and returns the field's content bounds.
func bytesField(data []byte, i int) (start, end int, err *wireError) {
	n, start, err := uvarint(data, i)
	if err != nil {
		return 0, 0, err
	}
	if n > uint64(len(data)-start) {
		return 0, 0, wireErrorf(i, "length %d exceeds the %d remaining bytes", n, len(data)-start)
	}
	return start, start + int(n), nil
}

// fixed64 reads a little-endian 64-bit value at data[i:].
func fixed64(data []byte, i int) (uint64, int, *wireError) {
	if len(data)-i < 8 {
		return 0, i, wireErrorf(i, "truncated fixed64: %d bytes left", len(data)-i)
	}
	return binary.LittleEndian.Uint64(data[i:]), i + 8, nil
}

// skip skips the value of a field of wire type wt at data[i:].
func skip(data []byte, i int, wt int) (int, *wireError) {
	switch wt {
	case wireVarint:
		_, next, err := uvarint(data, i)
		return next, err
	case wireFixed64:
		_, next, err := fixed64(data, i)
		return next, err
	case wireBytes:
		_, end, err := bytesField(data, i)
		return end, err
	case wireFixed32:
		if len(data)-i < 4 {
			return i, wireErrorf(i, "truncated fixed32: %d bytes left", len(data)-i)
		}
		return i + 4, nil
	case wireStart, wireEnd:
		return i, wireErrorf(i, "unsupported wire type %d (group)", wt)
	}
	return i, wireErrorf(i, "invalid wire type %d", wt)
}

// wantWire returns an error when a known field has the wrong wire type.
func wantWire(off int, field string, got, want int) *wireError {
	if got == want {
		return nil
	}
	return wrongWire(off, field, got, want)
}

//go:noinline
func wrongWire(off int, field string, got, want int) *wireError {
	return wireErrorf(off, "field %s has wire type %d, want %d", field, got, want)
}
