package decodertest

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/race"
)

// Limits of the table tests: small, so that one short line reaches each
// limit. The expected rejection details of the tables depend on them.
var Limits = outcome.Limits{MaxLabelsPerSeries: 5, MaxLabelNameLength: 16, MaxLabelValueLength: 32, MaxLineBytes: 200}

// BenchLimits are those of a production config, loose enough for the
// benchmark bodies.
var BenchLimits = outcome.Limits{MaxLabelsPerSeries: 64, MaxLabelNameLength: 256, MaxLabelValueLength: 4096, MaxLineBytes: 64 << 10}

// FuzzLimits are small so the fuzzer reaches every rejection.
var FuzzLimits = outcome.Limits{MaxLabelsPerSeries: 5, MaxLabelNameLength: 12, MaxLabelValueLength: 24, MaxLineBytes: 120}

// DecodeFunc is the shape of a decoder's Decode (see package outcome),
// with its Options type O.
type DecodeFunc[O any] func(body []byte, b *batch.Batch, lim outcome.Limits, opts O, res *outcome.Result) error

// Decoder is a protocol's Decode and the item kind its rejections name.
type Decoder[O any] struct {
	Decode   DecodeFunc[O]
	ItemKind string
}

// Check decodes body under Limits into a new batch, as the table tests
// do, and fails t unless Decode succeeds and its result passes
// CheckContract.
func (d Decoder[O]) Check(t testing.TB, body string, opts O) (*batch.Batch, *outcome.Result) {
	t.Helper()
	b := &batch.Batch{}
	res := &outcome.Result{}
	if err := d.Decode([]byte(body), b, Limits, opts, res); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	d.CheckContract(t, b, Limits, res)
	return b, res
}

// CheckFuzz is Check for a fuzz target: it decodes a copy of body and
// also fails t when Decode modified the copy or when a series still
// refers to it once it is overwritten. It returns the batch, the result
// and the batch rendered.
func (d Decoder[O]) CheckFuzz(t testing.TB, body []byte, lim outcome.Limits, opts O) (*batch.Batch, *outcome.Result, string) {
	t.Helper()
	data := bytes.Clone(body)
	b := &batch.Batch{}
	res := &outcome.Result{}
	if err := d.Decode(data, b, lim, opts, res); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !bytes.Equal(data, body) {
		t.Fatal("Decode modified body")
	}
	d.CheckContract(t, b, lim, res)
	got := Render(b)
	for i := range data {
		data[i] = 0
	}
	if Render(b) != got {
		t.Fatal("series alias the body")
	}
	return b, res, got
}

// DecodeLines decodes each line of body alone, into a batch of its own,
// and returns the batches rendered one after another and each line's
// result: what a caller compares with decoding body in one call, since
// the lines of a line protocol are independent.
func (d Decoder[O]) DecodeLines(t testing.TB, body []byte, lim outcome.Limits, opts O) (string, []outcome.Result) {
	t.Helper()
	var one strings.Builder
	var results []outcome.Result
	n := 0
	for line := range bytes.Lines(body) {
		n++
		bl := &batch.Batch{}
		var r outcome.Result
		if err := d.Decode(line, bl, lim, opts, &r); err != nil {
			t.Fatalf("Decode line %d: %v", n, err)
		}
		one.WriteString(Render(bl))
		results = append(results, r)
	}
	return one.String(), results
}

// CheckAppends decodes body into a batch that already holds the series
// before{} 1 @1, overwrites body, and fails t unless the batch then
// renders as that series followed by want, and the result counts only
// the series and samples Decode appended.
func (d Decoder[O]) CheckAppends(t testing.TB, body string, lim outcome.Limits, opts O, want string) {
	t.Helper()
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "before"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
	data := []byte(body)
	var res outcome.Result
	if err := d.Decode(data, b, lim, opts, &res); err != nil {
		t.Fatal(err)
	}
	if string(data) != body {
		t.Fatal("Decode modified body")
	}
	for i := range data {
		data[i] = 'X'
	}
	want = "before{} 1 @1\n" + want
	if got := Render(b); got != want {
		t.Errorf("after the body was overwritten:\n got %s\nwant %s", got, want)
	}
	if res.Series != b.Len()-1 || res.Samples != b.SampleCount()-1 {
		t.Errorf("result %+v counts the series that were there before", res)
	}
}

// CheckOneRejected checks the outcome of decoding one bad line between
// two good ones of one sample each: the batch renders as good, want is
// the only rejection, and the totals say 3 items, 2 series, 2 samples
// and the rejected one (counted once by reason even with no samples).
func CheckOneRejected(t testing.TB, b *batch.Batch, res *outcome.Result, good string, want outcome.Rejection) {
	t.Helper()
	if got := Render(b); got != good {
		t.Errorf("batch:\n got %s\nwant %s", got, good)
	}
	if wantRej := []outcome.Rejection{want}; !reflect.DeepEqual(res.Rejected, wantRej) {
		t.Errorf("rejections:\n got %+v\nwant %+v", res.Rejected, wantRej)
	}
	wantRes := outcome.Result{Items: 3, Series: 2, Samples: 2, Rejected: res.Rejected, RejectedItems: 1, RejectedSamples: want.Samples}
	wantRes.RejectedByReason[want.Reason] = max(want.Samples, 1)
	if !reflect.DeepEqual(*res, wantRes) {
		t.Errorf("result:\n got %+v\nwant %+v", *res, wantRes)
	}
}

// Benchmark measures Decode of body, which holds samples samples, into a
// reused batch: bytes, allocations and samples per second.
func (d Decoder[O]) Benchmark(b *testing.B, body []byte, lim outcome.Limits, opts O, samples int) {
	dst := &batch.Batch{}
	var res outcome.Result
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		dst.Reset()
		if err := d.Decode(body, dst, lim, opts, &res); err != nil || res.Samples != samples {
			b.Fatalf("err %v, %d samples, want %d", err, res.Samples, samples)
		}
	}
	b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// CheckZeroAlloc fails t unless decoding body, which holds samples
// samples and no bad line, into a reset batch allocates nothing once the
// batch and the result have grown. It skips t under the race detector.
func (d Decoder[O]) CheckZeroAlloc(t *testing.T, body []byte, lim outcome.Limits, opts O, samples int) {
	t.Helper()
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	b := &batch.Batch{}
	var res outcome.Result
	allocs := testing.AllocsPerRun(20, func() {
		b.Reset()
		if err := d.Decode(body, b, lim, opts, &res); err != nil || res.Samples != samples || res.RejectedItems != 0 {
			t.Fatalf("err %v, result %+v, want %d samples", err, res, samples)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs/op, want 0", allocs)
	}
}

// Render formats a batch one sample per line: name{labels} value @ts.
func Render(b *batch.Batch) string {
	var sb strings.Builder
	for _, s := range b.Series {
		for _, smp := range s.Samples {
			sb.WriteString(batch.String(s.Labels))
			sb.WriteByte(' ')
			sb.WriteString(strconv.FormatFloat(smp.Value, 'g', -1, 64))
			sb.WriteString(" @")
			sb.WriteString(strconv.FormatInt(smp.Timestamp, 10))
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// IsMetricName and IsLabelName are the Prometheus 2 rules, written
// independently of the decoders' tables (and of package promname).
func IsMetricName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

func IsLabelName(s string) bool {
	for i, c := range s {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

// CheckContract asserts what every Decode result must satisfy: counts
// that match the batch, one sample per series at a non-negative time,
// series within lim with sorted, unique, valid names and no empty
// value, and rejections that add up, in order, of the decoder's kind.
func (d Decoder[O]) CheckContract(t testing.TB, b *batch.Batch, lim outcome.Limits, res *outcome.Result) {
	t.Helper()
	if res.Series != b.Len() || res.Samples != b.SampleCount() {
		t.Fatalf("result says %d series %d samples, batch has %d, %d", res.Series, res.Samples, b.Len(), b.SampleCount())
	}
	for _, s := range b.Series {
		if len(s.Samples) != 1 {
			t.Fatalf("series %v has %d samples, want 1", s.Labels, len(s.Samples))
		}
		if s.Samples[0].Timestamp < 0 {
			t.Fatalf("negative timestamp %d", s.Samples[0].Timestamp)
		}
		if reason, detail := lim.CheckSeries(s.Labels); reason != outcome.ReasonNone {
			t.Fatalf("appended series %v fails CheckSeries: %v: %s", s.Labels, reason, detail)
		}
		for i, l := range s.Labels {
			if i > 0 && s.Labels[i-1].Name >= l.Name {
				t.Fatalf("labels not sorted and unique: %v", s.Labels)
			}
			if l.Value == "" {
				t.Fatalf("empty label value: %v", s.Labels)
			}
			if l.Name == batch.MetricName {
				if !IsMetricName(l.Value) {
					t.Fatalf("invalid metric name %q", l.Value)
				}
			} else if !IsLabelName(l.Name) {
				t.Fatalf("invalid label name %q", l.Name)
			}
		}
	}
	sum := 0
	for _, n := range res.RejectedByReason {
		sum += n
	}
	if res.RejectedByReason[outcome.ReasonNone] != 0 || sum < res.RejectedSamples || sum > res.RejectedSamples+res.RejectedItems {
		t.Fatalf("rejected by reason %v do not match %d samples of %d items", res.RejectedByReason, res.RejectedSamples, res.RejectedItems)
	}
	if res.RejectedItems > res.Items || len(res.Rejected) > outcome.MaxRejectionDetails || len(res.Rejected) > res.RejectedItems {
		t.Fatalf("%d rejection details, %d rejected items of %d", len(res.Rejected), res.RejectedItems, res.Items)
	}
	last := 0
	for _, r := range res.Rejected {
		if r.Reason == outcome.ReasonNone || r.Reason >= outcome.NumReasons || r.Detail == "" || r.ItemKind != d.ItemKind || r.Item <= last {
			t.Fatalf("bad rejection %+v", r)
		}
		last = r.Item
	}
}
