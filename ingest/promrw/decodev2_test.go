package promrw

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/race"
)

func l(n, v string) batch.Label            { return batch.Label{Name: n, Value: v} }
func smp(ts int64, v float64) batch.Sample { return batch.Sample{Timestamp: ts, Value: v} }

func TestDecodeV2RoundTrip(t *testing.T) {
	syms := []string{"", "__name__", "vehicle_rpm", "region", "UK", "engine", "ic", "up", "job", "x", "empty",
		"Engine speed.", "rpm", "trace_id", "abc", "only_exemplars"}
	req := &writev2.Request{
		Symbols: syms,
		Timeseries: []writev2.TimeSeries{
			{ // labels as sent, not sorted; a start timestamp; metadata
				LabelsRefs: []uint32{3, 4, 1, 2, 5, 6},
				Samples: []writev2.Sample{{Value: 1, Timestamp: 1000, StartTimestamp: 500}, {Value: 2, Timestamp: 2000},
					{Value: math.Inf(-1), Timestamp: 3000}},
				Metadata: writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_GAUGE, HelpRef: 11, UnitRef: 12},
			},
			{ // an empty value drops its label; an exemplar is skipped
				LabelsRefs: []uint32{1, 7, 8, 9, 10, 0},
				Samples:    []writev2.Sample{{Value: 0, Timestamp: 1000}},
				Exemplars:  []writev2.Exemplar{{LabelsRefs: []uint32{13, 14}, Value: 1, Timestamp: 5}},
			},
			{ // only exemplars: ignored
				LabelsRefs: []uint32{1, 15},
				Exemplars:  []writev2.Exemplar{{LabelsRefs: []uint32{13, 14}, Value: 1, Timestamp: 5}},
			},
			{}, // nothing at all: ignored
		},
	}
	body := encodeV2(t, req)
	b := &batch.Batch{}
	var res outcome.Result
	w := Written{Samples: -1, Histograms: -1, Exemplars: -1}
	if err := DecodeV2(body, b, testLimits, &res, &w); err != nil {
		t.Fatal(err)
	}
	clear(body) // DecodeV2 must not retain body: labels alias the batch arena.
	want := []batch.Series{
		{Labels: []batch.Label{l("__name__", "vehicle_rpm"), l("engine", "ic"), l("region", "UK")},
			Samples: []batch.Sample{smp(1000, 1), smp(2000, 2), smp(3000, math.Inf(-1))}},
		{Labels: []batch.Label{l("__name__", "up"), l("job", "x")}, Samples: []batch.Sample{smp(1000, 0)}},
	}
	if !reflect.DeepEqual(b.Series, want) {
		t.Errorf("series:\n got %+v\nwant %+v", b.Series, want)
	}
	if wantRes := (outcome.Result{Items: 4, Series: 2, Samples: 4, Metadata: 1}); !reflect.DeepEqual(res, wantRes) {
		t.Errorf("result: got %+v, want %+v", res, wantRes)
	}
	if w != (Written{Samples: 4}) {
		t.Errorf("written %+v, want 4 samples", w)
	}
	// A nil *Written is allowed.
	if err := DecodeV2(encodeV2(t, req), &batch.Batch{}, testLimits, &res, nil); err != nil || res.Samples != 4 {
		t.Errorf("nil Written: %v, %+v", err, res)
	}
}

// TestDecodeV2WireVariants: what protobuf allows and gogo does not
// produce decodes alike: symbols after or between the series using them,
// unpacked and split label references, references over one byte, the
// created timestamp of 2.0-rc.3 and unknown fields at every level.
func TestDecodeV2WireVariants(t *testing.T) {
	sample := pbBytes(nil, 2, pbSample(1000, math.Float64bits(7)))
	series := func(parts ...[]byte) []byte { return pbBytes(nil, 5, cat(parts...)) }
	// 200 filler symbols make later references two bytes long.
	filler := make([]string, 200)
	for i := range filler {
		filler[i] = "f" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	tests := []struct {
		name string
		pb   []byte
	}{
		{"packed, symbols first", cat(pbSymbols("", "__name__", "m", "a", "b"), series(pbPacked(nil, 1, 1, 2, 3, 4), sample))},
		{"symbols after the series", cat(series(pbPacked(nil, 1, 1, 2, 3, 4), sample), pbSymbols("", "__name__", "m", "a", "b"))},
		{"symbols around the series", cat(pbSymbols("", "__name__", "m"), series(sample, pbPacked(nil, 1, 1, 2, 3, 4)), pbSymbols("a", "b"))},
		{"unpacked", cat(pbSymbols("", "__name__", "m", "a", "b"),
			series(pbVarint(nil, 1, 1), pbVarint(nil, 1, 2), sample, pbVarint(nil, 1, 3), pbVarint(nil, 1, 4)))},
		{"split mid-pair", cat(pbSymbols("", "__name__", "m", "a", "b"), series(pbPacked(nil, 1, 1, 2, 3), sample, pbVarint(nil, 1, 4)))},
		{"two-byte references", cat(pbSymbols(""), pbSymbols(filler...), pbSymbols("__name__", "m", "a", "b"),
			series(pbPacked(nil, 1, 201, 202, 203, 204), sample))},
		{"created timestamp, start timestamp, unknown fields", cat(pbVarint(nil, 9, 1), pbSymbols("", "__name__", "m", "a", "b"),
			series(pbPacked(nil, 1, 1, 2, 3, 4), pbVarint(nil, 6, 123),
				pbBytes(nil, 2, cat(pbSample(1000, math.Float64bits(7)), pbVarint(nil, 3, 500), pbVarint(nil, 15, 1))),
				pbBytes(nil, 15, []byte("x"))))},
	}
	want := []batch.Series{{Labels: []batch.Label{l("__name__", "m"), l("a", "b")}, Samples: []batch.Sample{smp(1000, 7)}}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &batch.Batch{}
			var res outcome.Result
			if err := DecodeV2(snappy.Encode(nil, tc.pb), b, testLimits, &res, nil); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Series, want) || res.Items != 1 || res.RejectedItems != 0 {
				t.Errorf("got %+v, result %+v", b.Series, res)
			}
		})
	}
}

// TestDecodeV2RejectsSeries: the rules of 1.0 apply unchanged, with the
// same rejections and messages.
func TestDecodeV2RejectsSeries(t *testing.T) {
	for _, tc := range rejectionCases() {
		t.Run(tc.name, func(t *testing.T) {
			req := toV2(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{goodSeries, tc.bad, goodSeries}})
			b := &batch.Batch{}
			var res outcome.Result
			var w Written
			if err := DecodeV2(encodeV2(t, req), b, testLimits, &res, &w); err != nil {
				t.Fatal(err)
			}
			checkRejection(t, tc, b, &res)
			if w != (Written{Samples: res.Samples}) {
				t.Errorf("written %+v, result %+v", w, res)
			}
		})
	}
}

// TestDecodeV2RejectsBadReferences: label references that do not resolve
// reject their series alone (malformed), the others are kept.
func TestDecodeV2RejectsBadReferences(t *testing.T) {
	syms := []string{"", "__name__", "good", "a", "1", "abcdefghijklmnopq", "\xff", "unused\xc3"}
	good := writev2.TimeSeries{LabelsRefs: []uint32{1, 2, 3, 4}, Samples: []writev2.Sample{{Value: 7, Timestamp: 1000}}}
	two := []writev2.Sample{{Value: 1, Timestamp: 1000}, {Value: 2, Timestamp: 2000}}
	tests := []struct {
		name string
		refs []uint32
		hist bool
		want outcome.Rejection
	}{
		{name: "name reference outside the table", refs: []uint32{1, 2, 8, 4},
			want: outcome.Rejection{Series: `good{}`, Reason: outcome.ReasonMalformed, Samples: 2,
				Detail: "labels_refs[2] is 8, outside the symbol table of 8 symbols"}},
		{name: "value reference outside the table", refs: []uint32{1, 2, 3, 4000000000},
			want: outcome.Rejection{Series: `good{}`, Reason: outcome.ReasonMalformed, Samples: 2,
				Detail: "labels_refs[3] is 4000000000, outside the symbol table of 8 symbols"}},
		{name: "odd number of references", refs: []uint32{1, 2, 3},
			want: outcome.Rejection{Series: `good{}`, Reason: outcome.ReasonMalformed, Samples: 2,
				Detail: "3 labels_refs: want name/value pairs, an even number"}},
		{name: "odd number of references wins over another problem", refs: []uint32{1, 2, 5, 4, 3},
			want: outcome.Rejection{Series: `good{abcdefghijklmnopq="1"}`, Reason: outcome.ReasonMalformed, Samples: 2,
				Detail: "5 labels_refs: want name/value pairs, an even number"}},
		{name: "first problem wins", refs: []uint32{1, 2, 5, 4, 3, 99},
			want: outcome.Rejection{Series: `good{abcdefghijklmnopq="1"}`, Reason: outcome.ReasonLabelNameTooLong, Samples: 2,
				Detail: `label name "abcdefghijklmnopq" is 17 bytes, limit 16`}},
		{name: "native histograms with a bad reference", refs: []uint32{1, 9}, hist: true,
			want: outcome.Rejection{Series: `{}`, Reason: outcome.ReasonMalformed, Samples: 3,
				Detail: "labels_refs[1] is 9, outside the symbol table of 8 symbols"}},
		{name: "empty name", refs: []uint32{1, 2, 0, 4},
			want: outcome.Rejection{Series: `good{""="1"}`, Reason: outcome.ReasonInvalidLabelName, Samples: 2, Detail: "empty label name"}},
		{name: "invalid UTF-8 symbol as a value", refs: []uint32{1, 2, 3, 6},
			want: outcome.Rejection{Series: `good{a="\xff"}`, Reason: outcome.ReasonInvalidLabelValue, Samples: 2,
				Detail: `value of label "a" is not valid UTF-8`}},
		{name: "invalid UTF-8 symbol as a name", refs: []uint32{1, 2, 6, 4},
			want: outcome.Rejection{Series: `good{"\xff"="1"}`, Reason: outcome.ReasonInvalidLabelName, Samples: 2,
				Detail: `label name "\xff" is not valid UTF-8`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := writev2.TimeSeries{LabelsRefs: tc.refs, Samples: two}
			if tc.hist {
				bad.Histograms = []writev2.Histogram{{Timestamp: 3000, Count: &writev2.Histogram_CountInt{CountInt: 1}}}
			}
			req := &writev2.Request{Symbols: syms, Timeseries: []writev2.TimeSeries{good, bad, good}}
			b := &batch.Batch{}
			var res outcome.Result
			if err := DecodeV2(encodeV2(t, req), b, testLimits, &res, nil); err != nil {
				t.Fatal(err)
			}
			checkRejection(t, rejectionCase{want: tc.want}, b, &res)
		})
	}
}

func TestDecodeV2BoundsRejectionDetails(t *testing.T) {
	var req prompb.WriteRequest
	for range outcome.MaxRejectionDetails + 5 {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{Labels: lbls("a", "1"), Samples: smpls(1, 2)})
	}
	b := &batch.Batch{}
	var res outcome.Result
	if err := DecodeV2(encodeV2(t, toV2(&req)), b, testLimits, &res, nil); err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != outcome.MaxRejectionDetails || res.RejectedItems != outcome.MaxRejectionDetails+5 ||
		res.RejectedSamples != 2*(outcome.MaxRejectionDetails+5) || res.RejectedByReason[outcome.ReasonMissingMetricName] != res.RejectedSamples {
		t.Errorf("got %d details, %+v", len(res.Rejected), res)
	}
	for i, rej := range res.Rejected {
		if rej.Item != i || rej.ItemKind != "series" {
			t.Errorf("rejection %d locates item %s %d", i, rej.ItemKind, rej.Item)
		}
	}
}

func TestDecodeV2Malformed(t *testing.T) {
	series := func(parts ...[]byte) []byte { return pbBytes(nil, 5, cat(parts...)) }
	syms := pbSymbols("", "__name__", "m")
	ok := series(pbPacked(nil, 1, 1, 2), pbBytes(nil, 2, pbSample(1, 0)))
	v1 := encode(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: lbls("__name__", "m"), Samples: smpls(1)}}})
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
		{name: "decoded size over limit", body: make([]byte, 100), limits: &outcome.Limits{MaxDecodedBytes: 99}, tooBig: true,
			want: "cannot decode request: decoded body would be 100 bytes, limit 99"},
		{name: "a remote write 1.0 body", body: v1, raw: true,
			want: "cannot parse io.prometheus.write.v2.Request at decoded byte 0: field 1 is reserved in remote write 2.0: is this a remote write 1.0 WriteRequest? Send it with proto=prometheus.WriteRequest"},
		{name: "first symbol not empty", body: cat(pbSymbols("x", "__name__"), ok),
			want: `cannot parse io.prometheus.write.v2.Request: symbols[0] at decoded byte 2: the first symbol is "x"; it must be the empty string`},
		{name: "first symbol not empty after the series", body: cat(ok, pbSymbols("__name__", "m")),
			want: `cannot parse io.prometheus.write.v2.Request: symbols[0] at decoded byte 21: the first symbol is "__name__"; it must be the empty string`},
		{name: "symbols wrong wire type", body: []byte{0x20, 0x01},
			want: "cannot parse io.prometheus.write.v2.Request at decoded byte 0: field symbols has wire type 0, want 2"},
		{name: "symbol past end", body: cat(syms, []byte{0x22, 0x05, 'a'}),
			want: "cannot parse io.prometheus.write.v2.Request: symbols[3] at decoded byte 16: length 5 exceeds the 1 remaining bytes"},
		{name: "timeseries wrong wire type", body: cat(syms, []byte{0x28, 0x01}),
			want: "cannot parse io.prometheus.write.v2.Request at decoded byte 15: field timeseries has wire type 0, want 2"},
		{name: "second timeseries past end", body: cat(syms, ok, []byte{0x2a, 0x02, 0x0a}),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[1] at decoded byte 35: length 2 exceeds the 1 remaining bytes"},
		{name: "label reference truncated", body: cat(syms, series(pbBytes(nil, 1, []byte{0x01, 0x80}))),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0].labels_refs[1] at decoded byte 20: truncated varint"},
		{name: "label references past series end", body: cat(syms, series([]byte{0x0a, 0x05, 0x01})),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0].labels_refs at decoded byte 18: length 5 exceeds the 1 remaining bytes"},
		{name: "unpacked label reference truncated", body: cat(syms, series([]byte{0x08, 0x80})),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0].labels_refs[0] at decoded byte 18: truncated varint"},
		{name: "label references wrong wire type", body: cat(syms, series([]byte{0x0d, 1, 2, 3, 4})),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0] at decoded byte 17: field labels_refs has wire type 5, want 2"},
		{name: "sample value wrong wire type", body: cat(syms, series(pbBytes(nil, 2, pbVarint(nil, 1, 1)))),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0].samples[0] at decoded byte 19: field value has wire type 0, want 1"},
		{name: "histogram truncated", body: cat(syms, series([]byte{0x1a, 0x09})),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0].histograms[0] at decoded byte 18: length 9 exceeds the 0 remaining bytes"},
		{name: "exemplar wrong wire type", body: cat(syms, series([]byte{0x20, 0x01})),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0] at decoded byte 17: field exemplars has wire type 0, want 2"},
		{name: "metadata truncated", body: cat(syms, series([]byte{0x2a, 0x03, 0x08})),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0].metadata at decoded byte 18: length 3 exceeds the 1 remaining bytes"},
		{name: "group wire type in a series", body: cat(syms, series([]byte{0x33})),
			want: "cannot parse io.prometheus.write.v2.Request: timeseries[0] field 6 at decoded byte 18: unsupported wire type 3 (group)"},
		{name: "field number zero", body: cat(syms, ok, []byte{0x02, 0x00}),
			want: "cannot parse io.prometheus.write.v2.Request at decoded byte 34: invalid field number 0"},
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
			b.AppendSeries([]batch.Label{l("__name__", "before")}, []batch.Sample{smp(1, 1)})
			var res outcome.Result
			err := DecodeV2(body, b, lim, &res, nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got error %v\nwant        %s", err, tc.want)
			}
			var de *outcome.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not an *outcome.Error", err)
			}
			if errors.Is(err, outcome.ErrTooLarge) != tc.tooBig || errors.Is(err, outcome.ErrMalformed) == tc.tooBig {
				t.Errorf("errors.Is: ErrTooLarge=%v ErrMalformed=%v", errors.Is(err, outcome.ErrTooLarge), errors.Is(err, outcome.ErrMalformed))
			}
			if b.Len() != 1 {
				t.Errorf("a failed request left %d series in the batch, want the 1 from before", b.Len())
			}
		})
	}
}

// TestDecodeRejectsV2Body: a 2.0 body sent as 1.0 would otherwise decode
// to an empty request and be answered 204 while nothing is kept.
func TestDecodeRejectsV2Body(t *testing.T) {
	body := encodeV2(t, toV2(realisticRequest(2, 1, 0)))
	var res outcome.Result
	err := Decode(body, &batch.Batch{}, testLimits, &res)
	want := "cannot parse WriteRequest at decoded byte 0: field 4 is not in a WriteRequest but is in a remote write 2.0 Request: send it with proto=io.prometheus.write.v2.Request"
	if err == nil || err.Error() != want || !errors.Is(err, outcome.ErrMalformed) {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestDecodeV2MatchesV1: the same data decodes to the same batch.
func TestDecodeV2MatchesV1(t *testing.T) {
	req := realisticRequest(50, 3, 1)
	var b1, b2 batch.Batch
	var r1, r2 outcome.Result
	if err := Decode(encode(t, req), &b1, testLimitsLarge, &r1); err != nil {
		t.Fatal(err)
	}
	if err := DecodeV2(encodeV2(t, toV2(req)), &b2, testLimitsLarge, &r2, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutIdents(b1.Series), b2.Series) || !reflect.DeepEqual(r1, r2) || b2.Len() != 50 {
		t.Errorf("1.0 and 2.0 differ:\n%+v %+v\n%+v %+v", r1, b1.Series[:2], r2, b2.Series[:2])
	}
}

func TestDecodeV2ZeroAllocSteadyState(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	body := encodeV2(t, toV2(realisticRequest(100, 2, 0)))
	b := &batch.Batch{}
	var res outcome.Result
	var w Written
	allocs := testing.AllocsPerRun(20, func() {
		b.Reset()
		if err := DecodeV2(body, b, testLimitsLarge, &res, &w); err != nil || res.Series != 100 || w.Samples != 200 {
			t.Fatalf("err %v, %d series, %+v", err, res.Series, w)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs/op, want 0", allocs)
	}
}
