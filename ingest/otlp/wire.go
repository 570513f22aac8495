package otlp

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

// wireError is a low-level protobuf error at a byte offset of the body.
// The decoder turns it into an *outcome.Error with a path.
type wireError struct {
	off int
	msg string
}

// wireErrorf is kept out of line so that the hot helpers stay small
// enough to inline.
//
//go:noinline
func wireErrorf(off int, format string, args ...any) *wireError {
	return &wireError{off: off, msg: fmt.Sprintf(format, args...)}
}

// uvarint reads a base-128 varint at data[i:] and returns it and the
// offset after it.
func uvarint(data []byte, i int) (uint64, int, *wireError) {
	if uint(i) < uint(len(data)) {
		if c := data[i]; c < 0x80 {
			return uint64(c), i + 1, nil
		}
		if uint(i+1) < uint(len(data)) {
			if d := data[i+1]; d < 0x80 {
				return uint64(data[i]&0x7f) | uint64(d)<<7, i + 2, nil
			}
		}
	}
	return uvarintSlow(data, i)
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
// data[i:] and returns the bounds of its content.
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

// appendVarint appends v as a base-128 varint.
func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendBytesField appends field num of wire type bytes holding s.
func appendBytesField(b []byte, num int, s []byte) []byte {
	b = appendVarint(b, uint64(num)<<3|wireBytes)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}
