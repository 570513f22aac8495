package promrw

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// fuzzLimits are small so the fuzzer reaches every rejection.
var fuzzLimits = outcome.Limits{MaxLabelsPerSeries: 5, MaxLabelNameLength: 12, MaxLabelValueLength: 20, MaxDecodedBytes: 1 << 16}

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
		var res outcome.Result
		err := Decode(body, b, fuzzLimits, &res)
		if err != nil {
			var de *outcome.Error
			if !errors.As(err, &de) || !(errors.Is(err, outcome.ErrMalformed) || errors.Is(err, outcome.ErrTooLarge)) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if b.Len() != 0 {
				t.Fatalf("failed decode left %d series", b.Len())
			}
			return
		}
		checkAccepted(t, b, &res)
		crossCheck(t, body, &res)
		checkKnownDecode(t, body, b, &res)
	})
}

// checkKnownDecode decodes body again with an IdentIndex that knows every
// series of the first decode (b, res): with the labels loaded, the batch
// and the result must be the same.
func checkKnownDecode(t *testing.T, body []byte, b *batch.Batch, res *outcome.Result) {
	t.Helper()
	ix := &fakeIndex{known: map[batch.Ident]bool{}}
	for _, s := range b.Series {
		if s.Ident != (batch.Ident{}) {
			ix.known[s.Ident] = true
		}
	}
	again := &batch.Batch{}
	again.SetIdentIndex(ix)
	var res2 outcome.Result
	if err := Decode(body, again, fuzzLimits, &res2); err != nil {
		t.Fatalf("decodes once, fails with an index: %v", err)
	}
	again.LoadAllLabels()
	if !reflect.DeepEqual(again.Series, b.Series) {
		t.Fatalf("with an index:\n%+v\nwithout:\n%+v", again.Series, b.Series)
	}
	if !reflect.DeepEqual(&res2, res) {
		t.Fatalf("result with an index %+v, without %+v", res2, *res)
	}
}

// checkAccepted asserts the decoder's output contract.
func checkAccepted(t *testing.T, b *batch.Batch, res *outcome.Result) {
	t.Helper()
	if res.Series != b.Len() || res.Samples != b.SampleCount() {
		t.Fatalf("result says %d series %d samples, batch has %d, %d", res.Series, res.Samples, b.Len(), b.SampleCount())
	}
	byIdent := map[batch.Ident][]batch.Label{}
	for _, s := range b.Series {
		if len(s.Samples) == 0 {
			t.Fatalf("series without samples: %v", s.Labels)
		}
		if s.Ident != (batch.Ident{}) {
			if ls, ok := byIdent[s.Ident]; ok && !batch.Equal(ls, s.Labels) {
				t.Fatalf("one Ident for %v and %v", ls, s.Labels)
			}
			byIdent[s.Ident] = s.Labels
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
	if sum != res.RejectedSamples || res.RejectedByReason[outcome.ReasonNone] != 0 {
		t.Fatalf("rejected samples by reason %v do not add up to %d", res.RejectedByReason, res.RejectedSamples)
	}
	if len(res.Rejected) > outcome.MaxRejectionDetails || len(res.Rejected) > res.RejectedItems {
		t.Fatalf("%d rejection details for %d rejected series", len(res.Rejected), res.RejectedItems)
	}
	for _, r := range res.Rejected {
		if r.Reason == outcome.ReasonNone || r.Reason >= outcome.NumReasons || r.Detail == "" || len(r.Series) > 4*maxRenderSeries {
			t.Fatalf("bad rejection %+v", r)
		}
	}
}

// crossCheck compares with gogo protobuf when it also parses the body:
// every float and histogram sample is either kept or rejected.
func crossCheck(t *testing.T, body []byte, res *outcome.Result) {
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

// decodedByte finds the decoded byte offset a protobuf error names.
var decodedByte = regexp.MustCompile(` at decoded byte (\d+): `)

// checkProtoError asserts that err is a malformed-protobuf *outcome.Error
// for message msg, at an offset inside the n decoded bytes.
func checkProtoError(t *testing.T, err error, msg string, n int) {
	t.Helper()
	var de *outcome.Error
	if !errors.As(err, &de) || de.Kind != outcome.KindMalformed || !errors.Is(err, outcome.ErrMalformed) ||
		!strings.HasPrefix(de.Error(), "cannot parse "+msg) {
		t.Fatalf("unexpected error %T: %v", err, err)
	}
	m := decodedByte.FindStringSubmatch(de.Msg)
	if m == nil {
		t.Fatalf("error names no offset: %v", err)
	}
	if off, _ := strconv.Atoi(m[1]); off < 0 || off > n {
		t.Fatalf("offset %d outside the %d decoded bytes: %v", off, n, err)
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
		var res outcome.Result
		err := Decode(body, b, fuzzLimits, &res)
		if err != nil {
			if errors.Is(err, outcome.ErrTooLarge) {
				return
			}
			checkProtoError(t, err, msgV1, len(pb))
			if b.Len() != 0 {
				t.Fatalf("failed decode left %d series", b.Len())
			}
			return
		}
		checkAccepted(t, b, &res)
		crossCheck(t, body, &res)
	})
}
