package promrw

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
)

// fuzzLimits are small so the fuzzer reaches every rejection.
var fuzzLimits = Limits{MaxLabelsPerSeries: 5, MaxLabelNameLength: 12, MaxLabelValueLength: 20, MaxDecodedBytes: 1 << 16}

func fuzzSeeds(tb testing.TB) [][]byte {
	reqs := []*prompb.WriteRequest{
		{},
		realisticRequest(3, 2, 1),
		{Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "m", Help: "h", Unit: "s"}}},
		{Timeseries: []prompb.TimeSeries{
			{Labels: lbls("__name__", "m", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"), Samples: smpls(1)},
			{Labels: lbls("__name__", "m", "a", "\xff"), Samples: smpls(1)},
			{Labels: lbls("__name__", "m", "a", "1", "a", "2"), Samples: smpls(1)},
			{Labels: lbls("a", "1"), Samples: smpls(1)},
			{Labels: lbls("__name__", "h"), Samples: smpls(2), Histograms: []prompb.Histogram{{Timestamp: 1, Sum: 3,
				PositiveSpans: []prompb.BucketSpan{{Offset: 0, Length: 1}}, PositiveDeltas: []int64{1}}}},
			{Labels: lbls("__name__", "e", "x", ""), Samples: smpls(3),
				Exemplars: []prompb.Exemplar{{Labels: lbls("trace_id", "t"), Value: 1, Timestamp: 2}}},
		}},
	}
	var seeds [][]byte
	for _, r := range reqs {
		seeds = append(seeds, encode(tb, r))
	}
	return append(seeds, nil, []byte{0}, []byte("garbage"))
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := &batch.Batch{}
		var res Result
		err := Decode(body, b, fuzzLimits, &res)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) || !(errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge)) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if b.Len() != 0 {
				t.Fatalf("failed decode left %d series", b.Len())
			}
			return
		}
		checkAccepted(t, b, &res)
		crossCheck(t, body, &res)
	})
}

// checkAccepted asserts the decoder's output contract.
func checkAccepted(t *testing.T, b *batch.Batch, res *Result) {
	t.Helper()
	if res.Series != b.Len() || res.Samples != b.SampleCount() {
		t.Fatalf("result says %d series %d samples, batch has %d, %d", res.Series, res.Samples, b.Len(), b.SampleCount())
	}
	for _, s := range b.Series {
		if len(s.Samples) == 0 {
			t.Fatalf("series without samples: %v", s.Labels)
		}
		if len(s.Labels) > fuzzLimits.MaxLabelsPerSeries {
			t.Fatalf("%d labels", len(s.Labels))
		}
		if batch.Get(s.Labels, batch.MetricName) == "" {
			t.Fatalf("no metric name: %v", s.Labels)
		}
		for i, l := range s.Labels {
			if i > 0 && strings.Compare(s.Labels[i-1].Name, l.Name) >= 0 {
				t.Fatalf("labels not sorted and unique: %v", s.Labels)
			}
			if l.Name == "" || len(l.Name) > fuzzLimits.MaxLabelNameLength || !utf8.ValidString(l.Name) {
				t.Fatalf("bad label name %q", l.Name)
			}
			if l.Value == "" || len(l.Value) > fuzzLimits.MaxLabelValueLength || !utf8.ValidString(l.Value) {
				t.Fatalf("bad label value %q", l.Value)
			}
		}
	}
	sum := 0
	for _, n := range res.RejectedByReason {
		sum += n
	}
	if sum != res.RejectedSamples || res.RejectedByReason[ReasonNone] != 0 {
		t.Fatalf("rejected samples by reason %v do not add up to %d", res.RejectedByReason, res.RejectedSamples)
	}
	if len(res.Rejected) > MaxRejectionDetails || len(res.Rejected) > res.RejectedSeries {
		t.Fatalf("%d rejection details for %d rejected series", len(res.Rejected), res.RejectedSeries)
	}
	for _, r := range res.Rejected {
		if r.Reason == ReasonNone || r.Reason >= NumReasons || r.Detail == "" || len(r.Series) > 4*maxRenderSeries {
			t.Fatalf("bad rejection %+v", r)
		}
	}
}

// crossCheck compares with gogo protobuf when it also parses the body:
// every float and histogram sample is either kept or rejected.
func crossCheck(t *testing.T, body []byte, res *Result) {
	t.Helper()
	if len(body) == 0 {
		return
	}
	pb, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatalf("snappy disagrees: %v", err)
	}
	var req prompb.WriteRequest
	if req.Unmarshal(pb) != nil {
		return // gogo is stricter inside histograms and metadata, which we skip
	}
	total := 0
	for _, ts := range req.Timeseries {
		total += len(ts.Samples) + len(ts.Histograms)
	}
	if res.Samples+res.RejectedSamples != total {
		t.Fatalf("kept %d + rejected %d samples, gogo sees %d", res.Samples, res.RejectedSamples, total)
	}
	if res.Metadata != len(req.Metadata) {
		t.Fatalf("metadata %d, gogo sees %d", res.Metadata, len(req.Metadata))
	}
}

// FuzzDecodeProto mutates the protobuf message itself (FuzzDecode mostly
// explores snappy framing) and compresses it before decoding.
func FuzzDecodeProto(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		if pb, err := snappy.Decode(nil, s); err == nil {
			f.Add(pb)
		}
	}
	f.Fuzz(func(t *testing.T, pb []byte) {
		body := snappy.Encode(nil, pb)
		b := &batch.Batch{}
		var res Result
		err := Decode(body, b, fuzzLimits, &res)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return
			}
			var de *Error
			if !errors.As(err, &de) || de.Kind != KindProtobuf || de.Offset < 0 || de.Offset > len(pb) {
				t.Fatalf("unexpected error %T: %v", err, err)
			}
			if b.Len() != 0 {
				t.Fatalf("failed decode left %d series", b.Len())
			}
			return
		}
		checkAccepted(t, b, &res)
		crossCheck(t, body, &res)
	})
}
