package protoscan

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Protobuf wire types, the low 3 bits of a field key.
const (
	VarintType     = 0
	Fixed64Type    = 1
	BytesType      = 2
	StartGroupType = 3 // deprecated, not supported
	EndGroupType   = 4 // deprecated, not supported
	Fixed32Type    = 5
)

// Error is a low-level protobuf error at byte offset Off of the data
// being read. The decoder turns it into its own error, with a path.
type Error struct {
	Off int
	Msg string
}

func (e *Error) Error() string { return e.Msg }

// Errorf returns an *Error at off with a formatted message. It is kept
// out of line so that the hot helpers stay small enough to inline.
//
//go:noinline
func Errorf(off int, format string, args ...any) *Error {
	return &Error{Off: off, Msg: fmt.Sprintf(format, args...)}
}

// Uvarint reads a base-128 varint at data[i:] and returns it and the
// offset after it.
func Uvarint(data []byte, i int) (uint64, int, *Error) {
	if uint(i) < uint(len(data)) {
		if c := data[i]; c < 0x80 {
			return uint64(c), i + 1, nil
		}
		// Two bytes: the length of most nested messages.
		if uint(i+1) < uint(len(data)) {
			if d := data[i+1]; d < 0x80 {
				return uint64(data[i]&0x7f) | uint64(d)<<7, i + 2, nil
			}
		}
	}
	return uvarintSlow(data, i)
}

func uvarintSlow(data []byte, i int) (uint64, int, *Error) {
	start := i
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if i >= len(data) {
			return 0, start, Errorf(start, "truncated varint")
		}
		c := data[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, nil
		}
	}
	return 0, start, Errorf(start, "varint longer than 10 bytes")
}

// Tag reads a field key at data[i:]: field number, wire type, next offset.
func Tag(data []byte, i int) (num uint64, wt int, next int, err *Error) {
	key, next, err := Uvarint(data, i)
	if err != nil {
		return 0, 0, i, err
	}
	num = key >> 3
	if num == 0 || num > math.MaxInt32>>2 {
		return 0, 0, i, Errorf(i, "invalid field number %d", num)
	}
	return num, int(key & 7), next, nil
}

// BytesField reads the length prefix of a length-delimited field at
// data[i:] and returns the bounds of its content, data[start:end].
func BytesField(data []byte, i int) (start, end int, err *Error) {
	n, start, err := Uvarint(data, i)
	if err != nil {
		return 0, 0, err
	}
	if n > uint64(len(data)-start) {
		return 0, 0, Errorf(i, "length %d exceeds the %d remaining bytes", n, len(data)-start)
	}
	return start, start + int(n), nil
}

// Fixed64 reads a little-endian 64-bit value at data[i:].
func Fixed64(data []byte, i int) (uint64, int, *Error) {
	if len(data)-i < 8 {
		return 0, i, Errorf(i, "truncated fixed64: %d bytes left", len(data)-i)
	}
	return binary.LittleEndian.Uint64(data[i:]), i + 8, nil
}

// Skip skips the value of a field of wire type wt at data[i:] and
// returns the offset after it. Groups are refused.
func Skip(data []byte, i int, wt int) (int, *Error) {
	switch wt {
	case VarintType:
		_, next, err := Uvarint(data, i)
		return next, err
	case Fixed64Type:
		_, next, err := Fixed64(data, i)
		return next, err
	case BytesType:
		_, end, err := BytesField(data, i)
		return end, err
	case Fixed32Type:
		if len(data)-i < 4 {
			return i, Errorf(i, "truncated fixed32: %d bytes left", len(data)-i)
		}
		return i + 4, nil
	case StartGroupType, EndGroupType:
		return i, Errorf(i, "unsupported wire type %d (group)", wt)
	}
	return i, Errorf(i, "invalid wire type %d", wt)
}

// WantType returns an error when a known field, named field in the
// message, has wire type got instead of want; off is the field's key.
func WantType(off int, field string, got, want int) *Error {
	if got == want {
		return nil
	}
	return WrongType(off, field, got, want)
}

// WrongType returns the error WantType returns for a mismatch.
//
//go:noinline
func WrongType(off int, field string, got, want int) *Error {
	return Errorf(off, "field %s has wire type %d, want %d", field, got, want)
}
