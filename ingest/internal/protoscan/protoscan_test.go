package protoscan

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/premetrics/premetrics/internal/race"
)

func TestUvarint(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 300, 16383, 16384, 1<<35 + 12345, 1730621749123, 1 << 56, math.MaxUint64}
	for _, v := range values {
		enc := binary.AppendUvarint(nil, v)
		for pad := 0; pad <= 2; pad++ {
			// At the end of data, and followed by a byte.
			for _, data := range [][]byte{append(make([]byte, pad), enc...), append(append(make([]byte, pad), enc...), 0x01)} {
				got, next, err := Uvarint(data, pad)
				if err != nil || got != v || next != pad+len(enc) {
					t.Errorf("Uvarint(%x, %d) = %d, %d, %v; want %d, %d", data, pad, got, next, err, v, pad+len(enc))
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		read func() (int, *Error)
		off  int
		msg  string
	}{
		{"empty varint", func() (int, *Error) { _, n, err := Uvarint(nil, 0); return n, err }, 0, "truncated varint"},
		{"truncated varint", func() (int, *Error) { _, n, err := Uvarint([]byte{0, 0x80, 0x80}, 1); return n, err }, 1, "truncated varint"},
		{"long varint", func() (int, *Error) {
			_, n, err := Uvarint([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 0)
			return n, err
		}, 0, "varint longer than 10 bytes"},
		{"field 0", func() (int, *Error) { _, _, n, err := Tag([]byte{0, 0x02}, 1); return n, err }, 1, "invalid field number 0"},
		{"field too large", func() (int, *Error) {
			_, _, n, err := Tag(binary.AppendUvarint(nil, (math.MaxInt32>>2+1)<<3), 0)
			return n, err
		}, 0, "invalid field number 536870912"},
		{"length past the end", func() (int, *Error) { _, e, err := BytesField([]byte{0, 0x05, 1, 2}, 1); return e, err }, 1,
			"length 5 exceeds the 2 remaining bytes"},
		{"fixed64", func() (int, *Error) { _, n, err := Fixed64(make([]byte, 9), 2); return n, err }, 2, "truncated fixed64: 7 bytes left"},
		{"fixed32", func() (int, *Error) { return Skip(make([]byte, 3), 0, Fixed32Type) }, 0, "truncated fixed32: 3 bytes left"},
		{"group", func() (int, *Error) { return Skip(make([]byte, 3), 1, StartGroupType) }, 1, "unsupported wire type 3 (group)"},
		{"group end", func() (int, *Error) { return Skip(make([]byte, 3), 1, EndGroupType) }, 1, "unsupported wire type 4 (group)"},
		{"wire type 6", func() (int, *Error) { return Skip(make([]byte, 3), 0, 6) }, 0, "invalid wire type 6"},
		{"wrong type", func() (int, *Error) { return 0, WantType(4, "labels", VarintType, BytesType) }, 4, "field labels has wire type 0, want 2"},
	}
	for _, tt := range tests {
		_, err := tt.read()
		if err == nil || err.Off != tt.off || err.Msg != tt.msg || err.Error() != tt.msg {
			t.Errorf("%s: got %+v, want offset %d %q", tt.name, err, tt.off, tt.msg)
		}
	}
}

// A message walked with Tag, the readers and Skip: every field of every
// wire type, offsets relative to the start of data.
func TestWalk(t *testing.T) {
	var data []byte
	data = binary.AppendUvarint(data, 1<<3|VarintType)
	data = binary.AppendUvarint(data, 300)
	data = binary.AppendUvarint(data, 2<<3|Fixed64Type)
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(1.5))
	data = binary.AppendUvarint(data, 3<<3|BytesType)
	data = binary.AppendUvarint(data, 3)
	data = append(data, "abc"...)
	data = binary.AppendUvarint(data, 4<<3|Fixed32Type)
	data = binary.LittleEndian.AppendUint32(data, 7)
	data = binary.AppendUvarint(data, 20000<<3|VarintType)
	data = binary.AppendUvarint(data, 1)

	var nums []uint64
	for i := 0; i < len(data); {
		num, wt, next, err := Tag(data, i)
		if err != nil {
			t.Fatalf("Tag at %d: %v", i, err)
		}
		nums = append(nums, num)
		switch num {
		case 1:
			v, n, err := Uvarint(data, next)
			if err != nil || v != 300 || WantType(i, "a", wt, VarintType) != nil {
				t.Fatalf("field 1: %d, %v, wire type %d", v, err, wt)
			}
			i = n
		case 2:
			v, n, err := Fixed64(data, next)
			if err != nil || math.Float64frombits(v) != 1.5 || WantType(i, "b", wt, Fixed64Type) != nil {
				t.Fatalf("field 2: %x, %v, wire type %d", v, err, wt)
			}
			i = n
		case 3:
			s, e, err := BytesField(data, next)
			if err != nil || string(data[s:e]) != "abc" || WantType(i, "c", wt, BytesType) != nil {
				t.Fatalf("field 3: [%d:%d], %v, wire type %d", s, e, err, wt)
			}
			i = e
		default:
			if i, err = Skip(data, next, wt); err != nil {
				t.Fatalf("Skip field %d: %v", num, err)
			}
		}
	}
	if len(nums) != 5 || nums[4] != 20000 {
		t.Errorf("fields %v, want 1 2 3 4 20000", nums)
	}
}

func TestReadersZeroAlloc(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	data := binary.AppendUvarint(nil, 3<<3|BytesType)
	data = binary.AppendUvarint(data, 200)
	data = append(data, make([]byte, 200)...)
	allocs := testing.AllocsPerRun(100, func() {
		_, wt, next, err := Tag(data, 0)
		if err != nil {
			t.Fatal(err)
		}
		if end, err := Skip(data, next, wt); err != nil || end != len(data) {
			t.Fatal(end, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs, want 0", allocs)
	}
}
