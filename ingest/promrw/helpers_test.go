package promrw

import (
	"slices"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/premetrics/premetrics/batch"
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

// encodeV2 marshals a remote write 2.0 request with gogo protobuf and
// compresses it like Prometheus.
func encodeV2(tb testing.TB, req *writev2.Request) []byte {
	tb.Helper()
	pb, err := req.Marshal()
	if err != nil {
		tb.Fatalf("cannot marshal: %v", err)
	}
	return snappy.Encode(nil, pb)
}

// toV2 converts a 1.0 request to 2.0 as a sender would, keeping the
// labels in the order sent (empty values and duplicates included).
// Histograms keep only their timestamp and schema; the request's
// metadata is dropped (2.0 carries it per series).
func toV2(req *prompb.WriteRequest) *writev2.Request {
	st := writev2.NewSymbolTable()
	out := &writev2.Request{Timeseries: make([]writev2.TimeSeries, len(req.Timeseries))}
	for i, ts := range req.Timeseries {
		o := &out.Timeseries[i]
		o.LabelsRefs = symbolize(&st, ts.Labels)
		for _, s := range ts.Samples {
			o.Samples = append(o.Samples, writev2.Sample{Value: s.Value, Timestamp: s.Timestamp})
		}
		for _, h := range ts.Histograms {
			o.Histograms = append(o.Histograms, writev2.Histogram{Timestamp: h.Timestamp, Schema: h.Schema,
				Count: &writev2.Histogram_CountInt{CountInt: 1}})
		}
		for _, e := range ts.Exemplars {
			o.Exemplars = append(o.Exemplars, writev2.Exemplar{LabelsRefs: symbolize(&st, e.Labels), Value: e.Value, Timestamp: e.Timestamp})
		}
	}
	out.Symbols = st.Symbols()
	return out
}

func symbolize(st *writev2.SymbolsTable, ls []prompb.Label) []uint32 {
	refs := make([]uint32, 0, 2*len(ls))
	for _, l := range ls {
		refs = append(refs, st.Symbolize(l.Name), st.Symbolize(l.Value))
	}
	return refs
}

// Raw 2.0 builders for what gogo cannot marshal.
func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func pbPacked(b []byte, num protowire.Number, vs ...uint64) []byte {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, v)
	}
	return pbBytes(b, num, p)
}

// pbSymbols encodes Request.symbols.
func pbSymbols(syms ...string) []byte {
	var b []byte
	for _, s := range syms {
		b = pbBytes(b, 4, []byte(s))
	}
	return b
}

// withoutIdents returns a copy of series with every Ident zero, to compare
// with decoders that set none (2.0) or with literal series.
func withoutIdents(series []batch.Series) []batch.Series {
	out := slices.Clone(series)
	for i := range out {
		out[i].Ident = batch.Ident{}
	}
	return out
}
