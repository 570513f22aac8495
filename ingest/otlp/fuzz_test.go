package otlp

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// fuzzLimits are small so that the fuzzer reaches every rejection.
var fuzzLimits = outcome.Limits{MaxLabelsPerSeries: 6, MaxLabelNameLength: 16, MaxLabelValueLength: 24, MaxDecodedBytes: 1 << 16}

var fuzzOpts = Options{PromoteResourceAttributes: []string{"host.name", "a"}, Now: 7}

// fuzzRequests are the seeds: every kind of metric and most rejections.
func fuzzRequests() []tReq {
	return []tReq{
		{},
		realisticRequest(1, 6, 2),
		{rms: []tRM{{
			res: []kv{{"service.name", "s"}, {"service.namespace", "n"}, {"service.instance.id", "i"}, {"host.name", int64(3)}},
			sms: []tSM{{name: "scope", version: "1", metrics: []tMetric{
				gaugeOf("g", "1", pt(1.0, kv{"a.b", "x"}, kv{"a_b", "y"}, kv{"b", true}), tPoint{flags: 1}, tPoint{time: t0}),
				{name: "c", unit: "By", typ: "sum", temporality: 2, monotonic: true, points: []tPoint{pt(int64(5), kv{"arr", []any{int64(1), "x", []kv{{"k", 1.5}}}})}},
				{name: "d", typ: "sum", temporality: 1, points: []tPoint{pt(2.5)}},
				{name: "bad", typ: "sum", temporality: 0, points: []tPoint{pt(2.5)}},
				{name: "h", unit: "s", typ: "histogram", temporality: 2, points: []tPoint{
					{attrs: []kv{{"le", "x"}}, time: t0, count: 3, sum: fp(1), bounds: []float64{0.1, math.Inf(1)}, counts: []uint64{1, 1, 1}},
					{time: t0, count: 3, bounds: []float64{2, 1}, counts: []uint64{1, 1, 1}},
				}},
				{name: "e", typ: "exphist", temporality: 2, points: []tPoint{{time: t0, count: 1}}},
				{name: "q", typ: "summary", points: []tPoint{{time: t0, count: 1, sum: fp(1), quantiles: [][2]float64{{0.5, 1}}}}},
				gaugeOf("long", "", pt(1.0, kv{"k", "a value longer than the limit"}), pt(1.0, kv{"...", "v"}, kv{"\xff", "v"})),
				gaugeOf("...", "", pt(1.0)),
			}}},
		}}},
	}
}

// checkDecoded asserts the decoder's output contract for a decode that
// appended to a batch holding one series before.
func checkDecoded(t *testing.T, b *batch.Batch, res *outcome.Result, lim outcome.Limits) {
	t.Helper()
	added := b.Series[1:]
	samples := 0
	for _, s := range added {
		if len(s.Samples) != 1 {
			t.Fatalf("series %v has %d samples", s.Labels, len(s.Samples))
		}
		samples += len(s.Samples)
		for i := 1; i < len(s.Labels); i++ {
			if s.Labels[i-1].Name >= s.Labels[i].Name {
				t.Fatalf("labels not sorted and unique: %v", s.Labels)
			}
		}
		if reason, detail := lim.CheckSeries(s.Labels); reason != outcome.ReasonNone {
			t.Fatalf("appended series %v fails CheckSeries: %s: %s", s.Labels, reason, detail)
		}
	}
	if res.Series != len(added) || res.Samples != samples {
		t.Fatalf("result says %d series %d samples, batch got %d, %d", res.Series, res.Samples, len(added), samples)
	}
	sum := 0
	for _, n := range res.RejectedByReason {
		sum += n
	}
	if res.RejectedByReason[outcome.ReasonNone] != 0 || sum < res.RejectedSamples || sum > res.RejectedSamples+res.RejectedItems {
		t.Fatalf("rejected samples by reason %v do not add up to %d", res.RejectedByReason, res.RejectedSamples)
	}
	if res.RejectedItems > res.Items || len(res.Rejected) > outcome.MaxRejectionDetails || len(res.Rejected) > res.RejectedItems {
		t.Fatalf("%d items, %d rejected, %d in detail", res.Items, res.RejectedItems, len(res.Rejected))
	}
	last := -1
	for _, r := range res.Rejected {
		if r.Reason == outcome.ReasonNone || r.Reason >= outcome.NumReasons || r.Detail == "" || r.ItemKind != ItemKind ||
			r.Item <= last || r.Item >= res.Items || r.Samples < 1 {
			t.Fatalf("bad rejection %+v (%d items)", r, res.Items)
		}
		last = r.Item
	}
}

func fuzzDecode(t *testing.T, body []byte, isJSON bool) {
	decode := DecodeProto
	if isJSON {
		decode = DecodeJSON
	}
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "before"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
	var res outcome.Result
	err := decode(body, b, fuzzLimits, fuzzOpts, &res)
	if err != nil {
		var oe *outcome.Error
		if !errors.As(err, &oe) || !errors.Is(err, outcome.ErrMalformed) && !errors.Is(err, outcome.ErrTooLarge) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if b.Len() != 1 {
			t.Fatalf("failed decode left %d series", b.Len()-1)
		}
		return
	}
	checkDecoded(t, b, &res, fuzzLimits)
	// The series must not alias body, which the caller reuses, and a
	// second decode (with warm caches) must give the same.
	got := render(t, b)
	for i := range body {
		body[i] ^= 0xff
	}
	if again := render(t, b); !slices.Equal(again, got) {
		t.Fatalf("series changed with the body:\n%q\n%q", got, again)
	}
	for i := range body {
		body[i] ^= 0xff
	}
	b2 := &batch.Batch{}
	b2.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "before"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
	var res2 outcome.Result
	if err := decode(body, b2, fuzzLimits, fuzzOpts, &res2); err != nil {
		t.Fatalf("second decode failed: %v", err)
	}
	if again := render(t, b2); !slices.Equal(again, got) {
		t.Fatalf("second decode differs:\n%q\n%q", got, again)
	}
}

func FuzzDecodeProto(f *testing.F) {
	for _, r := range fuzzRequests() {
		f.Add(encodeProto(r, encOpts{}))
		f.Add(encodeProto(r, encOpts{unpacked: true, reorder: true}))
	}
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, body []byte) { fuzzDecode(t, body, false) })
}

func FuzzDecodeJSON(f *testing.F) {
	for _, r := range fuzzRequests() {
		f.Add(encodeJSON(r, false, false))
		f.Add(encodeJSON(r, true, true))
	}
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":"NaN","attributes":[{"key":"k","value":{"kvlistValue":{"values":[{"key":"x","value":{"bytesValue":"AAE"}}]}}}]}]}}]}]}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) { fuzzDecode(t, body, true) })
}
