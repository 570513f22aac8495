package promrw

import (
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"google.golang.org/protobuf/encoding/protowire"
)

// encode marshals req with gogo protobuf and compresses it like Prometheus.
func encode(tb testing.TB, req *prompb.WriteRequest) []byte {
	tb.Helper()
	pb, err := req.Marshal()
	if err != nil {
		tb.Fatalf("cannot marshal: %v", err)
	}
	return snappy.Encode(nil, pb)
}

func lbls(kv ...string) []prompb.Label {
	ls := make([]prompb.Label, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	return ls
}

func smpls(vs ...float64) []prompb.Sample {
	ss := make([]prompb.Sample, len(vs))
	for i, v := range vs {
		ss[i] = prompb.Sample{Timestamp: int64(1000 * (i + 1)), Value: v}
	}
	return ss
}

// Raw protobuf builders for malformed input.
func pbBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func pbLabel(name, value string) []byte {
	b := pbBytes(nil, 1, []byte(name))
	return pbBytes(b, 2, []byte(value))
}

func pbSample(ts int64, v uint64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, v)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(ts))
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
