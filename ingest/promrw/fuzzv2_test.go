package promrw

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// fuzzSeedsV2 are uncompressed io.prometheus.write.v2.Request messages.
func fuzzSeedsV2(tb testing.TB) [][]byte {
	var seeds [][]byte
	add := func(req *writev2.Request) {
		pb, err := req.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, pb)
	}
	for _, s := range fuzzSeeds(tb) {
		pb, err := snappy.Decode(nil, s)
		if err != nil {
			continue
		}
		var req prompb.WriteRequest
		if req.Unmarshal(pb) == nil && len(req.Timeseries) > 0 {
			add(toV2(&req))
		}
	}
	add(&writev2.Request{
		Symbols: []string{"", "__name__", "m", "a", "1", "help", "unit", "trace_id", "t", "\xff"},
		Timeseries: []writev2.TimeSeries{
			{LabelsRefs: []uint32{1, 2, 3, 4}, Samples: []writev2.Sample{{Value: 1, Timestamp: 2, StartTimestamp: 1}},
				Exemplars: []writev2.Exemplar{{LabelsRefs: []uint32{7, 8}, Value: 1, Timestamp: 2}},
				Metadata:  writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_COUNTER, HelpRef: 5, UnitRef: 6}},
			{LabelsRefs: []uint32{1, 2, 3}, Samples: []writev2.Sample{{Value: 1, Timestamp: 2}}},
			{LabelsRefs: []uint32{1, 2, 3, 10}, Samples: []writev2.Sample{{Value: 1, Timestamp: 2}}},
			{LabelsRefs: []uint32{1, 2, 3, 9}, Samples: []writev2.Sample{{Value: 1, Timestamp: 2}}},
			{LabelsRefs: []uint32{1, 2}, Histograms: []writev2.Histogram{{Timestamp: 1, Count: &writev2.Histogram_CountInt{CountInt: 1}}}},
		},
	})
	// Unpacked references and symbols after the series.
	seeds = append(seeds, cat(pbBytes(nil, 5, cat(pbVarint(nil, 1, 1), pbVarint(nil, 1, 2), pbBytes(nil, 2, pbSample(5, 0)))),
		pbSymbols("", "__name__", "m")))
	return append(seeds, nil, []byte{0}, []byte("garbage"))
}

// FuzzDecodeV2 mutates the protobuf message (the snappy framing is shared
// with Decode, which FuzzDecode explores) and compresses it before
// decoding. Besides the output contract it checks DecodeV2 against gogo
// protobuf and, when every label reference resolves, against Decode of
// the same data as remote write 1.0.
func FuzzDecodeV2(f *testing.F) {
	for _, s := range fuzzSeedsV2(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pb []byte) {
		body := snappy.Encode(nil, pb)
		b := &batch.Batch{}
		var res outcome.Result
		w := Written{Samples: -1}
		err := DecodeV2(body, b, fuzzLimits, &res, &w)
		var req writev2.Request
		gogoErr := req.Unmarshal(pb)
		if err != nil {
			if errors.Is(err, outcome.ErrTooLarge) {
				return
			}
			checkProtoError(t, err, msgV2, len(pb))
			if b.Len() != 0 {
				t.Fatalf("failed decode left %d series", b.Len())
			}
			if gogoErr == nil && !stricterThanGogo(err) {
				t.Fatalf("gogo parses what DecodeV2 rejects: %v", err)
			}
			return
		}
		checkAccepted(t, b, &res)
		if w != (Written{Samples: res.Samples}) {
			t.Fatalf("written %+v, result %+v", w, res)
		}
		if gogoErr != nil {
			return // gogo is stricter inside histograms, exemplars and metadata, which we skip
		}
		total, meta := 0, 0
		for _, ts := range req.Timeseries {
			total += len(ts.Samples) + len(ts.Histograms)
			if md := ts.Metadata; md.Type != 0 || md.HelpRef != 0 || md.UnitRef != 0 {
				meta++
			}
		}
		if res.Items != len(req.Timeseries) || res.Samples+res.RejectedSamples != total {
			t.Fatalf("%d items, kept %d + rejected %d samples; gogo sees %d series, %d samples", res.Items, res.Samples, res.RejectedSamples, len(req.Timeseries), total)
		}
		if res.Metadata < meta || res.Metadata > len(req.Timeseries) {
			t.Fatalf("metadata %d, gogo sees %d non-empty of %d series", res.Metadata, meta, len(req.Timeseries))
		}
		compareWithV1(t, &req, b, &res)
	})
}

// stricterThanGogo reports whether err is a rule DecodeV2 enforces and
// gogo protobuf does not. Besides premetrics' own rules, gogo skips
// groups, and reads the last varint of packed labels_refs past the end
// of the packed field (up to the end of the TimeSeries).
func stricterThanGogo(err error) bool {
	msg := err.Error()
	if strings.Contains(msg, ".labels_refs[") && strings.HasSuffix(msg, ": truncated varint") {
		return true
	}
	for _, s := range []string{"is reserved in remote write 2.0", "the first symbol is", "(group)", "invalid field number"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// compareWithV1 decodes req as remote write 1.0 (labels resolved in the
// order sent) and expects the same batch and rejections, unless some
// series has label references that do not resolve (a 2.0-only problem).
func compareWithV1(t *testing.T, req *writev2.Request, b2 *batch.Batch, r2 *outcome.Result) {
	t.Helper()
	if r2.RejectedByReason[outcome.ReasonMalformed] > 0 {
		return
	}
	v1 := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, len(req.Timeseries))}
	for i, ts := range req.Timeseries {
		if len(ts.LabelsRefs)%2 != 0 {
			return
		}
		o := &v1.Timeseries[i]
		for j := 0; j < len(ts.LabelsRefs); j += 2 {
			n, v := int(ts.LabelsRefs[j]), int(ts.LabelsRefs[j+1])
			if n >= len(req.Symbols) || v >= len(req.Symbols) {
				return
			}
			o.Labels = append(o.Labels, prompb.Label{Name: req.Symbols[n], Value: req.Symbols[v]})
		}
		for _, s := range ts.Samples {
			o.Samples = append(o.Samples, prompb.Sample{Value: s.Value, Timestamp: s.Timestamp})
		}
		for _, h := range ts.Histograms {
			o.Histograms = append(o.Histograms, prompb.Histogram{Timestamp: h.Timestamp})
		}
	}
	b1 := &batch.Batch{}
	var r1 outcome.Result
	if err := Decode(encode(t, &v1), b1, fuzzLimits, &r1); err != nil {
		t.Fatalf("the same data as 1.0 does not decode: %v", err)
	}
	r1.Metadata = r2.Metadata // carried differently
	if !reflect.DeepEqual(withoutIdents(b1.Series), b2.Series) {
		t.Fatalf("batches differ:\n1.0 %+v\n2.0 %+v", b1.Series, b2.Series)
	}
	if !reflect.DeepEqual(&r1, r2) {
		t.Fatalf("results differ:\n1.0 %+v\n2.0 %+v", r1, *r2)
	}
}
