package otlp

import (
	"encoding/base64"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/premetrics/premetrics/ingest/internal/protoscan"
)

// Attribute values become label values as OpenTelemetry's
// AnyValue.AsString renders them (which Prometheus uses): strings as
// they are, booleans "true"/"false", integers in decimal, doubles like
// JSON numbers (but NaN, +Inf, -Inf as Prometheus writes them), bytes in
// standard base64, arrays and key-value lists as compact JSON (keys
// sorted, as encoding/json writes a map). An unset value is no label.

// maxNesting bounds arrays and key-value lists inside attribute values.
const maxNesting = 64

// anyValue is the value field of a protobuf AnyValue: its field number
// (0 when unset) and either its bytes data[start:end] or its number u.
type anyValue struct {
	num        uint64
	start, end int
	u          uint64
}

// kvRef is an entry of a key-value list being rendered as JSON: its key
// and its value (a protobuf span or a JSON value).
type kvRef struct {
	key string
	pv  anyValue
	jv  *fastjson.Value
}

// protoAnyValue parses the AnyValue message data[start:end].
func (d *decoder) protoAnyValue(start, end int) (anyValue, *protoscan.Error) {
	data := d.data[:end]
	var v anyValue
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return v, werr
		}
		want := -1
		switch num {
		case 1, 5, 6, 7: // string, array, kvlist, bytes
			want = protoscan.BytesType
		case 2, 3: // bool, int
			want = protoscan.VarintType
		case 4: // double
			want = protoscan.Fixed64Type
		}
		if want < 0 {
			if i, werr = protoscan.Skip(data, next, wt); werr != nil {
				return v, werr
			}
			continue
		}
		if werr := protoscan.WantType(i, anyValueField(num), wt, want); werr != nil {
			return v, werr
		}
		v = anyValue{num: num}
		switch want {
		case protoscan.BytesType:
			v.start, v.end, werr = protoscan.BytesField(data, next)
			i = v.end
		case protoscan.VarintType:
			v.u, i, werr = protoscan.Uvarint(data, next)
		default:
			v.u, i, werr = protoscan.Fixed64(data, next)
		}
		if werr != nil {
			return v, werr
		}
	}
	return v, nil
}

func anyValueField(num uint64) string {
	switch num {
	case 1:
		return "string_value"
	case 2:
		return "bool_value"
	case 3:
		return "int_value"
	case 4:
		return "double_value"
	case 5:
		return "array_value"
	case 6:
		return "kvlist_value"
	}
	return "bytes_value"
}

// protoLabelValue renders v as a label value in the batch arena. deep
// reports a value nested more than maxNesting levels.
func (d *decoder) protoLabelValue(v anyValue) (s string, deep bool, werr *protoscan.Error) {
	switch v.num {
	case 0:
		return "", false, nil
	case 1:
		return d.str(d.data[v.start:v.end]), false, nil
	case 2:
		return formatBool(v.u != 0), false, nil
	case 3:
		d.scratch = strconv.AppendInt(d.scratch[:0], int64(v.u), 10)
	case 4:
		d.scratch = appendDouble(d.scratch[:0], math.Float64frombits(v.u))
	case 7:
		return d.base64(d.data[v.start:v.end]), false, nil
	default: // 5, 6
		buf, ok, deep, werr := d.appendProtoJSON(d.scratch[:0], v, 1)
		d.scratch = buf
		if werr != nil || deep {
			return "", deep, werr
		}
		if !ok {
			return "", false, nil // NaN or Inf inside: encoding/json fails, AsString gives ""
		}
	}
	return d.str(d.scratch), false, nil
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// base64 returns src in standard base64 in the batch arena.
func (d *decoder) base64(src []byte) string {
	if len(src) == 0 {
		return ""
	}
	buf := d.b.Bytes(base64.StdEncoding.EncodedLen(len(src)))
	base64.StdEncoding.Encode(buf, src)
	return unsafe.String(&buf[0], len(buf))
}

// appendProtoJSON appends v as JSON, the way encoding/json marshals
// AnyValue.AsRaw. ok is false for a NaN or infinite double, which JSON
// cannot hold.
func (d *decoder) appendProtoJSON(buf []byte, v anyValue, depth int) (_ []byte, ok, deep bool, werr *protoscan.Error) {
	if depth > maxNesting {
		return buf, false, true, nil
	}
	switch v.num {
	case 0:
		return append(buf, "null"...), true, false, nil
	case 1:
		return appendJSONString(buf, d.data[v.start:v.end]), true, false, nil
	case 2:
		return append(buf, formatBool(v.u != 0)...), true, false, nil
	case 3:
		return strconv.AppendInt(buf, int64(v.u), 10), true, false, nil
	case 4:
		f := math.Float64frombits(v.u)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return buf, false, false, nil
		}
		return appendES6Float(buf, f), true, false, nil
	case 7:
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, d.data[v.start:v.end])
		return append(buf, '"'), true, false, nil
	case 5: // ArrayValue{repeated AnyValue values = 1}
		data := d.data[:v.end]
		buf = append(buf, '[')
		n := 0
		for i := v.start; i < v.end; {
			num, wt, next, werr := protoscan.Tag(data, i)
			if werr != nil {
				return buf, false, false, werr
			}
			if num != 1 {
				if i, werr = protoscan.Skip(data, next, wt); werr != nil {
					return buf, false, false, werr
				}
				continue
			}
			if werr := protoscan.WantType(i, "values", wt, protoscan.BytesType); werr != nil {
				return buf, false, false, werr
			}
			s, e, werr := protoscan.BytesField(data, next)
			if werr != nil {
				return buf, false, false, werr
			}
			ev, werr := d.protoAnyValue(s, e)
			if werr != nil {
				return buf, false, false, werr
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			n++
			if buf, ok, deep, werr = d.appendProtoJSON(buf, ev, depth+1); !ok {
				return buf, false, deep, werr
			}
			i = e
		}
		return append(buf, ']'), true, false, nil
	}
	// 6: KeyValueList{repeated KeyValue values = 1}
	data := d.data[:v.end]
	base := len(d.kvs)
	for i := v.start; i < v.end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr == nil && num != 1 {
			i, werr = protoscan.Skip(data, next, wt)
			if werr == nil {
				continue
			}
		}
		if werr == nil {
			werr = protoscan.WantType(i, "values", wt, protoscan.BytesType)
		}
		var s, e int
		if werr == nil {
			s, e, werr = protoscan.BytesField(data, next)
		}
		var key []byte
		var ev anyValue
		if werr == nil {
			key, ev, werr = d.protoKeyValue(s, e)
		}
		if werr != nil {
			d.truncKVs(base)
			return buf, false, false, werr
		}
		d.kvs = append(d.kvs, kvRef{key: alias(key), pv: ev})
		i = e
	}
	d.sortKVs(base)
	buf = append(buf, '{')
	for i := base; i < len(d.kvs); i++ {
		if i > base {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, bytesOf(d.kvs[i].key))
		buf = append(buf, ':')
		if buf, ok, deep, werr = d.appendProtoJSON(buf, d.kvs[i].pv, depth+1); !ok {
			d.truncKVs(base)
			return buf, false, deep, werr
		}
	}
	d.truncKVs(base)
	return append(buf, '}'), true, false, nil
}

// bytesOf returns the bytes of s without copying; they must not be
// modified.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// sortKVs sorts d.kvs[base:] by key and keeps the last entry of each key,
// as a Go map built from the list would.
func (d *decoder) sortKVs(base int) {
	kvs := d.kvs[base:]
	slices.SortStableFunc(kvs, func(a, b kvRef) int { return strings.Compare(a.key, b.key) })
	out := kvs[:0]
	for i := range kvs {
		if i+1 < len(kvs) && kvs[i+1].key == kvs[i].key {
			continue
		}
		out = append(out, kvs[i])
	}
	clear(kvs[len(out):])
	d.kvs = d.kvs[:base+len(out)]
}

// protoKeyValue parses the KeyValue message data[start:end]: its key
// (aliasing the body) and its value.
func (d *decoder) protoKeyValue(start, end int) (key []byte, v anyValue, werr *protoscan.Error) {
	data := d.data[:end]
	for i := start; i < end; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return nil, v, werr
		}
		switch num {
		case 1, 2:
			field := "key"
			if num == 2 {
				field = "value"
			}
			if werr := protoscan.WantType(i, field, wt, protoscan.BytesType); werr != nil {
				return nil, v, werr
			}
			s, e, werr := protoscan.BytesField(data, next)
			if werr != nil {
				return nil, v, werr
			}
			if num == 1 {
				key = data[s:e]
			} else if v, werr = d.protoAnyValue(s, e); werr != nil {
				return nil, v, werr
			}
			i = e
		default:
			if i, werr = protoscan.Skip(data, next, wt); werr != nil {
				return nil, v, werr
			}
		}
	}
	return key, v, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json
// does (HTML characters escaped, invalid UTF-8 replaced by U+FFFD).
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
