package promrw

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/protoscan"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/race"
)

var testLimits = outcome.Limits{MaxLabelsPerSeries: 4, MaxLabelNameLength: 16, MaxLabelValueLength: 32, MaxDecodedBytes: 1 << 20}

func TestDecodeRoundTrip(t *testing.T) {
	req := &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: lbls("region", "UK", "__name__", "vehicle_rpm", "engine", "ic"), Samples: smpls(1, 2, math.Inf(-1))},
			{Labels: lbls("__name__", "up", "job", "x", "empty", ""), Samples: smpls(0),
				Exemplars: []prompb.Exemplar{{Labels: lbls("trace_id", "abc"), Value: 1, Timestamp: 5}}},
			{Labels: lbls("__name__", "no_samples")},
		},
		Metadata: []prompb.MetricMetadata{{MetricFamilyName: "up", Help: "h"}, {MetricFamilyName: "x"}},
	}
	b := &batch.Batch{}
	var res outcome.Result
	if err := Decode(encode(t, req), b, testLimits, &res); err != nil {
		t.Fatal(err)
	}
	l := func(n, v string) batch.Label { return batch.Label{Name: n, Value: v} }
	smp := func(ts int64, v float64) batch.Sample { return batch.Sample{Timestamp: ts, Value: v} }
	want := []batch.Series{
		{Labels: []batch.Label{l("__name__", "vehicle_rpm"), l("engine", "ic"), l("region", "UK")},
			Samples: []batch.Sample{smp(1000, 1), smp(2000, 2), smp(3000, math.Inf(-1))}},
		{Labels: []batch.Label{l("__name__", "up"), l("job", "x")}, Samples: []batch.Sample{smp(1000, 0)}},
	}
	if !reflect.DeepEqual(withoutIdents(b.Series), want) {
		t.Errorf("series:\n got %+v\nwant %+v", b.Series, want)
	}
	for _, s := range b.Series {
		if s.Ident == (batch.Ident{}) {
			t.Errorf("%s: no Ident", batch.String(s.Labels))
		}
	}
	wantRes := outcome.Result{Items: 3, Series: 2, Samples: 4, Metadata: 2}
	if !reflect.DeepEqual(res, wantRes) {
		t.Errorf("result: got %+v, want %+v", res, wantRes)
	}
}

// A series' Ident names its labels' wire bytes: the same bytes give the
// same Ident in any request, other labels another one, and labels not in
// one run of bytes none.
func TestDecodeIdents(t *testing.T) {
	decode := func(req *prompb.WriteRequest) []batch.Series {
		t.Helper()
		b := &batch.Batch{}
		var res outcome.Result
		if err := Decode(encode(t, req), b, testLimits, &res); err != nil {
			t.Fatal(err)
		}
		return b.Series
	}
	a := prompb.TimeSeries{Labels: lbls("__name__", "m", "job", "a"), Samples: smpls(1)}
	b := prompb.TimeSeries{Labels: lbls("__name__", "m", "job", "b"), Samples: smpls(2, 3)}
	// Empty values are dropped: the same labels as a, other bytes.
	aEmpty := prompb.TimeSeries{Labels: lbls("__name__", "m", "job", "a", "x", ""), Samples: smpls(1)}
	first := decode(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{a, b, aEmpty}})
	again := decode(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{b, a}})
	switch {
	case first[0].Ident == (batch.Ident{}) || first[1].Ident == (batch.Ident{}):
		t.Fatalf("no Ident: %+v", first)
	case first[0].Ident == first[1].Ident:
		t.Error("two label sets share an Ident")
	case again[1].Ident != first[0].Ident || again[0].Ident != first[1].Ident:
		t.Error("the same labels in another request have another Ident")
	case first[2].Ident == first[0].Ident:
		t.Error("other wire bytes have the same Ident")
	}

	// A sample between two labels: the labels are not one run of bytes.
	var ts []byte
	ts = pbBytes(ts, 1, pbBytes(pbBytes(nil, 1, []byte("__name__")), 2, []byte("m")))
	sample := protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), math.Float64bits(1))
	sample = protowire.AppendVarint(protowire.AppendTag(sample, 2, protowire.VarintType), 1000)
	ts = pbBytes(ts, 2, sample)
	ts = pbBytes(ts, 1, pbBytes(pbBytes(nil, 1, []byte("job")), 2, []byte("a")))
	bt := &batch.Batch{}
	var res outcome.Result
	if err := Decode(snappy.Encode(nil, pbBytes(nil, 1, ts)), bt, testLimits, &res); err != nil {
		t.Fatal(err)
	}
	if bt.Len() != 1 || batch.String(bt.Series[0].Labels) != `m{job="a"}` {
		t.Fatalf("decoded %+v", bt.Series)
	}
	if bt.Series[0].Ident != (batch.Ident{}) {
		t.Error("labels around a sample have an Ident")
	}
}

func TestDecodeAppendsAndAliasesArena(t *testing.T) {
	b := &batch.Batch{}
	b.StartSeries()
	b.AddLabel("__name__", "before")
	b.AddSample(1, 1)
	b.FinishSeries()
	body := encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: lbls("__name__", "a"), Samples: smpls(1)}}})
	var res outcome.Result
	if err := Decode(body, b, testLimits, &res); err != nil {
		t.Fatal(err)
	}
	clear(body) // Decode must not retain body.
	if got := batch.String(b.Series[0].Labels) + batch.String(b.Series[1].Labels); got != "before{}a{}" {
		t.Errorf("got %s", got)
	}
}

func TestDecodeEmptyRequests(t *testing.T) {
	for name, body := range map[string][]byte{
		"empty body":    nil,
		"empty message": snappy.Encode(nil, nil),
		"metadata only": encode(t, &prompb.WriteRequest{Metadata: []prompb.MetricMetadata{{MetricFamilyName: "m"}}}),
	} {
		t.Run(name, func(t *testing.T) {
			b := &batch.Batch{}
			var res outcome.Result
			if err := Decode(body, b, testLimits, &res); err != nil {
				t.Fatal(err)
			}
			if b.Len() != 0 || res.Series != 0 || res.Samples != 0 || res.RejectedItems != 0 {
				t.Errorf("got %d series, result %+v", b.Len(), res)
			}
		})
	}
}

// rejectionCase is a bad series sent between two good ones: the
// rejection it gets (its Item is 1) and the float samples of it kept.
type rejectionCase struct {
	name    string
	bad     prompb.TimeSeries
	want    outcome.Rejection
	samples int // good float samples kept from bad, if any
}

// goodSeries surrounds the bad series of a rejectionCase.
var goodSeries = prompb.TimeSeries{Labels: lbls("__name__", "good", "a", "1"), Samples: smpls(7)}

// rejectionCases are shared by the 1.0 and 2.0 decoders: the rules and
// messages are the same.
func rejectionCases() []rejectionCase {
	hist := []prompb.Histogram{{Timestamp: 1, Schema: 3}, {Timestamp: 2}}
	return []rejectionCase{
		{
			name: "too many labels",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "m", "a", "1", "b", "2", "c", "3", "d", "4", "e", ""), Samples: smpls(1, 2)},
			want: outcome.Rejection{Series: `m{a="1", b="2", c="3", d="4", e=""}`, Reason: outcome.ReasonTooManyLabels, Samples: 2, Detail: "5 labels, limit 4"},
		},
		{
			name: "label name too long",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "m", "abcdefghijklmnopq", "1"), Samples: smpls(1)},
			want: outcome.Rejection{Series: `m{abcdefghijklmnopq="1"}`, Reason: outcome.ReasonLabelNameTooLong, Samples: 1, Detail: `label name "abcdefghijklmnopq" is 17 bytes, limit 16`},
		},
		{
			name: "label value too long",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "m", "a", strings.Repeat("v", 33)), Samples: smpls(1)},
			want: outcome.Rejection{Series: `m{a="` + strings.Repeat("v", 33) + `"}`, Reason: outcome.ReasonLabelValueTooLong, Samples: 1, Detail: `value of label "a" is 33 bytes, limit 32`},
		},
		{
			name: "empty label name",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "m", "", "x"), Samples: smpls(1)},
			want: outcome.Rejection{Series: `m{""="x"}`, Reason: outcome.ReasonInvalidLabelName, Samples: 1, Detail: "empty label name"},
		},
		{
			name: "label name not utf-8",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "m", "a\xff", "x"), Samples: smpls(1)},
			want: outcome.Rejection{Series: `m{"a\xff"="x"}`, Reason: outcome.ReasonInvalidLabelName, Samples: 1, Detail: `label name "a\xff" is not valid UTF-8`},
		},
		{
			name: "label value not utf-8",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "m", "a", "\xc3"), Samples: smpls(1)},
			want: outcome.Rejection{Series: `m{a="\xc3"}`, Reason: outcome.ReasonInvalidLabelValue, Samples: 1, Detail: `value of label "a" is not valid UTF-8`},
		},
		{
			name: "missing metric name",
			bad:  prompb.TimeSeries{Labels: lbls("a", "1"), Samples: smpls(1, 2, 3)},
			want: outcome.Rejection{Series: `{a="1"}`, Reason: outcome.ReasonMissingMetricName, Samples: 3, Detail: "no __name__ label"},
		},
		{
			name: "empty metric name",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "", "a", "1"), Samples: smpls(1)},
			want: outcome.Rejection{Series: `{a="1"}`, Reason: outcome.ReasonMissingMetricName, Samples: 1, Detail: "no __name__ label"},
		},
		{
			name: "duplicate label",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "m", "b", "1", "a", "x", "b", "2"), Samples: smpls(1)},
			want: outcome.Rejection{Series: `m{b="1", a="x", b="2"}`, Reason: outcome.ReasonDuplicateLabel, Samples: 1, Detail: `label "b" appears more than once`},
		},
		{
			name: "utf-8 metric name is valid",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "my.metric", "a", "1"), Samples: smpls(1), Histograms: hist[:1]},
			want: outcome.Rejection{Series: `{"my.metric", a="1"}`, Reason: outcome.ReasonNativeHistogramUnsupported, Samples: 1,
				Detail: "1 native histogram samples dropped; 1 float samples kept"},
			samples: 1,
		},
		{
			name: "native histograms only",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "h"), Histograms: hist},
			want: outcome.Rejection{Series: `h{}`, Reason: outcome.ReasonNativeHistogramUnsupported, Samples: 2,
				Detail: "2 native histogram samples dropped; the series has no float samples"},
		},
		{
			name: "native histograms with float samples",
			bad:  prompb.TimeSeries{Labels: lbls("__name__", "h"), Samples: smpls(1, 2, 3), Histograms: hist},
			want: outcome.Rejection{Series: `h{}`, Reason: outcome.ReasonNativeHistogramUnsupported, Samples: 2,
				Detail: "2 native histogram samples dropped; 3 float samples kept"},
			samples: 3,
		},
		{
			name: "invalid labels reject histograms and floats together",
			bad:  prompb.TimeSeries{Labels: lbls("a", "1"), Samples: smpls(1), Histograms: hist},
			want: outcome.Rejection{Series: `{a="1"}`, Reason: outcome.ReasonMissingMetricName, Samples: 3, Detail: "no __name__ label"},
		},
	}
}

func TestDecodeRejectsSeries(t *testing.T) {
	for _, tc := range rejectionCases() {
		t.Run(tc.name, func(t *testing.T) {
			req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{goodSeries, tc.bad, goodSeries}}
			b := &batch.Batch{}
			var res outcome.Result
			if err := Decode(encode(t, req), b, testLimits, &res); err != nil {
				t.Fatal(err)
			}
			checkRejection(t, tc, b, &res)
		})
	}
}

// checkRejection asserts what decoding the request of tc kept and
// rejected.
func checkRejection(t *testing.T, tc rejectionCase, b *batch.Batch, res *outcome.Result) {
	t.Helper()
	tc.want.Item, tc.want.ItemKind = 1, "series"
	if len(res.Rejected) != 1 || !reflect.DeepEqual(res.Rejected[0], tc.want) {
		t.Fatalf("rejected:\n got %#v\nwant %#v", res.Rejected, tc.want)
	}
	keptSeries := 2
	if tc.samples > 0 {
		keptSeries = 3
	}
	if res.Series != keptSeries || b.Len() != keptSeries || res.Samples != 2+tc.samples || b.SampleCount() != 2+tc.samples {
		t.Errorf("kept %d series (result %d), %d samples (result %d); want %d series, %d samples",
			b.Len(), res.Series, b.SampleCount(), res.Samples, keptSeries, 2+tc.samples)
	}
	if batch.String(b.Series[0].Labels) != `good{a="1"}` || batch.String(b.Series[b.Len()-1].Labels) != `good{a="1"}` {
		t.Errorf("good series not kept around the bad one: %v", b.Series)
	}
	if res.Items != 3 || res.RejectedItems != 1 || res.RejectedSamples != tc.want.Samples || res.RejectedByReason[tc.want.Reason] != tc.want.Samples {
		t.Errorf("counts: %+v", res)
	}
}

func TestDecodeBoundsRejectionDetails(t *testing.T) {
	var req prompb.WriteRequest
	for range outcome.MaxRejectionDetails + 5 {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: lbls("a", "1"), Samples: smpls(1, 2)})
	}
	b := &batch.Batch{}
	var res outcome.Result
	if err := Decode(encode(t, &req), b, testLimits, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != outcome.MaxRejectionDetails || res.RejectedItems != outcome.MaxRejectionDetails+5 ||
		res.RejectedSamples != 2*(outcome.MaxRejectionDetails+5) || res.RejectedByReason[outcome.ReasonMissingMetricName] != res.RejectedSamples {
		t.Errorf("got %d details, %+v", len(res.Rejected), res)
	}
}

func TestRenderSeriesTruncates(t *testing.T) {
	var labels []prompb.Label
	labels = append(labels, prompb.Label{Name: "__name__", Value: "m"})
	for i := range 40 {
		labels = append(labels, prompb.Label{Name: "label" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Value: strings.Repeat("é", 40)})
	}
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: labels, Samples: smpls(1)}}}
	b := &batch.Batch{}
	var res outcome.Result
	if err := Decode(encode(t, req), b, outcome.Limits{MaxLabelsPerSeries: 10}, &res); err != nil {
		t.Fatal(err)
	}
	s := res.Rejected[0].Series
	if len(s) > maxRenderSeries+2*maxRenderString+32 || !strings.HasSuffix(s, ", …}") || !strings.Contains(s, `"…`) {
		t.Errorf("not truncated sanely (%d bytes): %s", len(s), s)
	}
	if d := res.Rejected[0].Detail; d != "41 labels, limit 10" {
		t.Errorf("detail %q", d)
	}
}

func TestDecodeMalformed(t *testing.T) {
	series := func(parts ...[]byte) []byte { return pbBytes(nil, 1, cat(parts...)) }
	okSeries := series(pbBytes(nil, 1, pbLabel("__name__", "m")), pbBytes(nil, 2, pbSample(1, 0)))
	sampleVarintValue := cat(protowire.AppendTag(nil, 1, protowire.VarintType), []byte{1})
	tests := []struct {
		name   string
		body   []byte // compressed unless raw
		raw    bool
		limits *outcome.Limits
		want   string
		tooBig bool
	}{
		{name: "not snappy", body: []byte("not snappy"), raw: true,
			want: "cannot decompress snappy body: corrupt input"},
		{name: "bad snappy length header", body: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, raw: true,
			want: "cannot decompress snappy body: invalid length header: corrupt input"},
		{name: "decoded size over limit", body: make([]byte, 100), limits: &outcome.Limits{MaxDecodedBytes: 99}, tooBig: true,
			want: "cannot decode request: decoded body would be 100 bytes, limit 99"},
		{name: "truncated tag", body: []byte{0x8a},
			want: "cannot parse WriteRequest at decoded byte 0: truncated varint"},
		{name: "field number zero", body: cat(okSeries, []byte{0x02, 0x00}),
			want: "cannot parse WriteRequest at decoded byte 30: invalid field number 0"},
		{name: "varint too long", body: []byte{0x78, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
			want: "cannot parse WriteRequest: field 15 at decoded byte 1: varint longer than 10 bytes"},
		{name: "timeseries wrong wire type", body: []byte{0x08, 0x01},
			want: "cannot parse WriteRequest at decoded byte 0: field timeseries has wire type 0, want 2"},
		{name: "timeseries length past end", body: []byte{0x0a, 0x05, 0x00},
			want: "cannot parse WriteRequest: timeseries[0] at decoded byte 1: length 5 exceeds the 1 remaining bytes"},
		{name: "second timeseries past end", body: cat(okSeries, []byte{0x0a, 0x02, 0x0a}),
			want: "cannot parse WriteRequest: timeseries[1] at decoded byte 31: length 2 exceeds the 1 remaining bytes"},
		{name: "label field truncated in second timeseries", body: cat(okSeries, []byte{0x0a, 0x01, 0x0a}),
			want: "cannot parse WriteRequest: timeseries[1].labels[0] at decoded byte 33: truncated varint"},
		{name: "label length past series end", body: series([]byte{0x0a, 0x04, 0x0a, 0x01}),
			want: "cannot parse WriteRequest: timeseries[0].labels[0] at decoded byte 3: length 4 exceeds the 2 remaining bytes"},
		{name: "label name wrong wire type", body: series(pbBytes(nil, 1, []byte{0x08, 0x01})),
			want: "cannot parse WriteRequest: timeseries[0].labels[0] at decoded byte 4: field name has wire type 0, want 2"},
		{name: "sample value wrong wire type", body: series(pbBytes(nil, 1, pbLabel("__name__", "m")), pbBytes(nil, 2, sampleVarintValue)),
			want: "cannot parse WriteRequest: timeseries[0].samples[0] at decoded byte 19: field value has wire type 0, want 1"},
		{name: "sample fixed64 truncated", body: series(pbBytes(nil, 2, []byte{0x09, 1, 2, 3})),
			want: "cannot parse WriteRequest: timeseries[0].samples[0] at decoded byte 5: truncated fixed64: 3 bytes left"},
		{name: "group wire type", body: []byte{0x2b},
			want: "cannot parse WriteRequest: field 5 at decoded byte 1: unsupported wire type 3 (group)"},
		{name: "invalid wire type", body: series([]byte{0x1f}),
			want: "cannot parse WriteRequest: timeseries[0] field 3 at decoded byte 3: invalid wire type 7"},
		{name: "metadata truncated", body: []byte{0x1a, 0x03, 0x00},
			want: "cannot parse WriteRequest: metadata[0] at decoded byte 1: length 3 exceeds the 1 remaining bytes"},
		{name: "histogram truncated", body: series([]byte{0x22, 0x09}),
			want: "cannot parse WriteRequest: timeseries[0].histograms[0] at decoded byte 3: length 9 exceeds the 0 remaining bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if !tc.raw {
				body = snappy.Encode(nil, body)
			}
			lim := testLimits
			if tc.limits != nil {
				lim = *tc.limits
			}
			b := &batch.Batch{}
			var res outcome.Result
			err := Decode(body, b, lim, &res)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got error %v\nwant        %s", err, tc.want)
			}
			var de *outcome.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not an *Error", err)
			}
			if errors.Is(err, outcome.ErrTooLarge) != tc.tooBig || errors.Is(err, outcome.ErrMalformed) == tc.tooBig {
				t.Errorf("errors.Is: outcome.ErrTooLarge=%v outcome.ErrMalformed=%v", errors.Is(err, outcome.ErrTooLarge), errors.Is(err, outcome.ErrMalformed))
			}
			if b.Len() != 0 {
				t.Errorf("a failed request left %d series in the batch", b.Len())
			}
		})
	}
}

func TestDecodeChecksSizeBeforeAllocating(t *testing.T) {
	// A 6-byte body whose header claims 4 GiB - 1 decoded bytes.
	body := []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}
	b := &batch.Batch{}
	var res outcome.Result
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := Decode(body, b, outcome.Limits{MaxDecodedBytes: 1 << 20}, &res); !errors.Is(err, outcome.ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("allocated %d bytes for a request rejected by its size header", n)
	}
}

func TestDecodeZeroAllocSteadyState(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	body := encode(t, realisticRequest(100, 2, 0))
	b := &batch.Batch{}
	var res outcome.Result
	allocs := testing.AllocsPerRun(20, func() {
		b.Reset()
		if err := Decode(body, b, testLimitsLarge, &res); err != nil || res.Series != 100 {
			t.Fatalf("err %v, %d series", err, res.Series)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs/op, want 0", allocs)
	}
}

// TestDecodeLabelFastPathBoundaries: labels at the limits, longer than a
// one-byte length, or non-ASCII are decoded like any other; one byte
// over a limit is rejected (the fast path falls back to the general one).
func TestDecodeLabelFastPathBoundaries(t *testing.T) {
	lim := outcome.Limits{MaxLabelsPerSeries: 4, MaxLabelNameLength: 16, MaxLabelValueLength: 200, MaxDecodedBytes: 1 << 20}
	long := strings.Repeat("v", 200) // a label message over 127 bytes
	kept := []prompb.TimeSeries{
		{Labels: lbls("__name__", "m", "abcdefghijklmnop", "1"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a", long), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a", "1", "b", "2", "c", "3"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "région", "Zürich", "z", "日本"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "b", "1", "a", "2"), Samples: smpls(1)}, // unsorted
		{Labels: lbls("__name__", "m", "a", "é", "b", long, "c", "1"), Samples: smpls(1)},
	}
	rejected := []prompb.TimeSeries{
		{Labels: lbls("__name__", "m", "abcdefghijklmnopq", "1"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a", long+"v"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a", "1", "b", "2", "c", "3", "d", "4"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a", "\x80"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a\x80", "1"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a", "1", "a", "2"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "a", "\x80", "b", long, "c", "1"), Samples: smpls(1)},
		{Labels: lbls("__name__", "m", "b", long, "a", "\x80", "c", "1"), Samples: smpls(1)},
	}
	b := &batch.Batch{}
	var res outcome.Result
	if err := Decode(encode(t, &prompb.WriteRequest{Timeseries: append(kept, rejected...)}), b, lim, &res); err != nil {
		t.Fatal(err)
	}
	if res.Series != len(kept) || res.RejectedItems != len(rejected) {
		t.Fatalf("kept %d, rejected %d series; want %d, %d: %+v", res.Series, res.RejectedItems, len(kept), len(rejected), res.Rejected)
	}
	for i, ts := range kept {
		want := make([]batch.Label, 0, len(ts.Labels))
		for _, l := range ts.Labels {
			want = append(want, batch.Label{Name: l.Name, Value: l.Value})
		}
		batch.SortLabels(want)
		if !reflect.DeepEqual(b.Series[i].Labels, want) {
			t.Errorf("series %d: got %v, want %v", i, b.Series[i].Labels, want)
		}
	}
	wantReasons := []outcome.Reason{outcome.ReasonLabelNameTooLong, outcome.ReasonLabelValueTooLong, outcome.ReasonTooManyLabels, outcome.ReasonInvalidLabelValue,
		outcome.ReasonInvalidLabelName, outcome.ReasonDuplicateLabel, outcome.ReasonInvalidLabelValue, outcome.ReasonInvalidLabelValue}
	for i, r := range res.Rejected {
		if r.Reason != wantReasons[i] {
			t.Errorf("rejection %d: %v, want %v", i, r.Reason, wantReasons[i])
		}
	}
}

// The varint fast paths decode what encoding/binary does, and decline
// (for the general decoder) what they do not handle.
func TestVarintFastPaths(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 300, 16383, 16384, 1<<35 + 12345, 1730621749123, 1<<42 - 1, 1<<49 + 7, 1<<56 - 1, 1 << 56, math.MaxUint64}
	for _, v := range values {
		enc := binary.AppendUvarint(nil, v)
		for pad := 0; pad <= 9; pad++ {
			data := append(make([]byte, pad), enc...)
			if got, next, err := protoscan.Uvarint(data, pad); err != nil || got != v || next != len(data) {
				t.Errorf("protoscan.Uvarint(%x, %d) = %d, %d, %v; want %d", data, pad, got, next, err, v)
			}
			got, ok := uvarintEnd(data, pad)
			wantOK := len(enc) <= 8 && len(data) >= 8
			if ok != wantOK || (ok && got != v) {
				t.Errorf("uvarintEnd(%x, %d) = %d, %v; want %d, %v", data, pad, got, ok, v, wantOK)
			}
			// A varint that ends before the data does is not one ending there.
			if _, ok := uvarintEnd(append(slices.Clone(data), 0x01), pad); ok {
				t.Errorf("uvarintEnd(%x01, %d) accepted a varint followed by a byte", data, pad)
			}
		}
	}
	// Truncated: the last byte still has its continuation bit.
	if _, ok := uvarintEnd([]byte{0, 0, 0, 0, 0, 0, 0x80, 0x80}, 6); ok {
		t.Error("uvarintEnd accepted a truncated varint")
	}
	if _, _, err := protoscan.Uvarint([]byte{0x80, 0x80}, 0); err == nil {
		t.Error("uvarint accepted a truncated varint")
	}
}

// fakeIndex knows the series whose Idents it holds, and records the
// order of the calls.
type fakeIndex struct {
	known map[batch.Ident]bool
	calls []string
}

func (f *fakeIndex) Prefetch(id batch.Ident) { f.calls = append(f.calls, "prefetch") }
func (f *fakeIndex) Known(id batch.Ident) bool {
	f.calls = append(f.calls, "known")
	return f.known[id]
}

// With an IdentIndex, every series is prefetched before the first is
// parsed, and a series the index knows keeps its labels in Wire, from
// which LoadLabels gives what a decode without the index gives; the
// result counts the same, and a known series' histogram is still
// rejected.
func TestDecodeDefersKnownLabels(t *testing.T) {
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		{Labels: lbls("__name__", "m", "job", "a", "empty", ""), Samples: smpls(1, 2)},
		{Labels: lbls("__name__", "m", "job", "b"), Samples: smpls(3)},
		{Labels: lbls("__name__", "m", "job", "c"), Samples: smpls(4),
			Histograms: []prompb.Histogram{{Timestamp: 5, Count: &prompb.Histogram_CountInt{CountInt: 1}}}},
		{Labels: lbls("__name__", "m", "job", "\x80"), Samples: smpls(6)}, // invalid: not known
	}}
	body := encode(t, req)
	plain := &batch.Batch{}
	var wantRes outcome.Result
	if err := Decode(body, plain, testLimits, &wantRes); err != nil {
		t.Fatal(err)
	}
	if plain.Len() != 3 {
		t.Fatalf("decoded %d series", plain.Len())
	}
	ix := &fakeIndex{known: map[batch.Ident]bool{plain.Series[0].Ident: true, plain.Series[2].Ident: true}}
	b := &batch.Batch{}
	b.SetIdentIndex(ix)
	var res outcome.Result
	if err := Decode(body, b, testLimits, &res); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ix.calls, " "); got != "prefetch prefetch prefetch prefetch known known known known" {
		t.Errorf("calls: %s", got)
	}
	if !reflect.DeepEqual(res, wantRes) {
		t.Errorf("result %+v, want %+v", res, wantRes)
	}
	if b.Len() != 3 || !b.Deferred() {
		t.Fatalf("%d series, deferred %v", b.Len(), b.Deferred())
	}
	for i, s := range b.Series {
		deferred := s.Labels == nil && s.Wire != ""
		if deferred != ix.known[s.Ident] {
			t.Errorf("series %d: labels %v, wire %q, known %v", i, s.Labels, s.Wire, ix.known[s.Ident])
		}
		if got, want := batch.String(b.LoadLabels(i)), batch.String(plain.Series[i].Labels); got != want {
			t.Errorf("series %d: labels %s, want %s", i, got, want)
		}
		if b.Series[i].Wire != "" || !reflect.DeepEqual(b.Series[i].Samples, plain.Series[i].Samples) || b.Series[i].Ident != plain.Series[i].Ident {
			t.Errorf("series %d: %+v, want %+v", i, b.Series[i], plain.Series[i])
		}
	}
}
