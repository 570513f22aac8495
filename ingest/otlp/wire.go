package otlp

import "github.com/premetrics/premetrics/ingest/internal/protoscan"

// The few protobuf fields otlp writes (the response bodies, the family
// cache key); reading is protoscan's.

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
	b = appendVarint(b, uint64(num)<<3|protoscan.BytesType)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}
