package promrw

import "encoding/binary"

// uvarintEnd decodes a varint of n = len(data)-i bytes, 1 <= n <= 8, that
// ends exactly at len(data) (len(data) >= 8): one word load instead of a
// loop over bytes, for sample timestamps (6 bytes for Unix ms). ok is
// false when the bytes are not such a varint. (The general reader is
// protoscan.Uvarint.)
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
