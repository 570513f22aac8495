package aggregate

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
)

func mustNew(t *testing.T, cfg Config, opts Options) *Aggregator {
	t.Helper()
	a, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Push must not keep the batch's strings: labels that alias a reused
// buffer (as decoders produce) are overwritten after Push, and the
// outputs must still carry the original values.
func TestPushClonesLabels(t *testing.T) {
	a := mustNew(t, Config{Name: "c", Match: "m", Interval: model.Duration(time.Second), By: []string{"region"}, Outputs: []string{"count_samples"}}, Options{})
	buf := []byte("m" + "region" + "eu")
	str := func(i, j int) string { return unsafe.String(&buf[i], j-i) }
	b := &batch.Batch{}
	b.StartSeries()
	b.AddLabel(batch.MetricName, str(0, 1))
	b.AddLabel(str(1, 7), str(7, 9))
	b.AddSample(100, 1)
	b.FinishSeries()
	a.Push(b, make([]uint8, 1), time.UnixMilli(500))
	copy(buf, "xXXXXXXyy")
	b.Reset()

	out := &batch.Batch{}
	a.Flush(time.UnixMilli(10_000), false, out)
	if len(out.Series) != 1 {
		t.Fatalf("got %d series, want 1", len(out.Series))
	}
	if got, want := batch.String(out.Series[0].Labels), `m:1s_by_region_count_samples{region="eu"}`; got != want {
		t.Errorf("output labels %s, want %s", got, want)
	}
}

func TestPushMarks(t *testing.T) {
	for _, keep := range []bool{false, true} {
		a := mustNew(t, Config{Name: "m", Match: "m > 5", Interval: model.Duration(time.Second), Outputs: []string{"sum_samples"}, KeepInput: keep}, Options{})
		b := &batch.Batch{}
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, nil)                                      // no samples
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, []batch.Sample{{Timestamp: 1, Value: 1}}) // fails the comparison
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "n"}}, []batch.Sample{{Timestamp: 1, Value: 9}})
		marks := []uint8{0, MarkKept, 0} // marks of an earlier aggregation stay
		a.Push(b, marks, time.UnixMilli(1))
		want := MarkConsumed
		if keep {
			want = MarkKept
		}
		if marks[0] != want || marks[1] != want|MarkKept || marks[2] != 0 {
			t.Errorf("keep_input=%v: marks %v, want [%d %d 0]", keep, marks, want, want|MarkKept)
		}
	}
}

func TestNextFlush(t *testing.T) {
	a := mustNew(t, Config{Name: "n", Match: "m", Interval: model.Duration(time.Minute), Outputs: []string{"avg"}, Lateness: dur(5 * time.Second)}, Options{})
	for _, tc := range []struct{ now, want int64 }{
		{0, 5_000},
		{4_999, 5_000},
		{5_000, 65_000}, // the window closing at 5s is due now; the next one later
		{64_999, 65_000},
		{-1, 5_000},
		{-60_000, -55_000}, // the window ending at -60s closes at -55s
	} {
		if got := a.NextFlush(time.UnixMilli(tc.now)).UnixMilli(); got != tc.want {
			t.Errorf("NextFlush(%d) = %d, want %d", tc.now, got, tc.want)
		}
	}
	// Sub-millisecond wall times round down like Flush does.
	if got := a.NextFlush(time.UnixMilli(5_000).Add(500 * time.Microsecond)).UnixMilli(); got != 65_000 {
		t.Errorf("NextFlush(5000.5ms) = %d, want 65000", got)
	}
}

func TestWindowStart(t *testing.T) {
	for _, tc := range []struct{ ts, want int64 }{
		{0, 0}, {999, 0}, {1000, 1000}, {-1, -1000}, {-1000, -1000}, {-1001, -2000},
	} {
		if got := windowStart(tc.ts, 1000); got != tc.want {
			t.Errorf("windowStart(%d) = %d, want %d", tc.ts, got, tc.want)
		}
	}
}

// Extreme timestamps are rejected without overflowing the window math.
func TestExtremeTimestamps(t *testing.T) {
	a := mustNew(t, Config{Name: "x", Match: "m", Interval: model.Duration(time.Hour), Outputs: []string{"count_samples"}}, Options{})
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, []batch.Sample{
		{Timestamp: math.MinInt64, Value: 1}, {Timestamp: math.MaxInt64, Value: 1}, {Timestamp: 0, Value: 1},
	})
	a.Push(b, make([]uint8, 1), time.UnixMilli(1_000_000))
	out := &batch.Batch{}
	a.Flush(time.UnixMilli(math.MaxInt64/2), true, out)
	if len(out.Series) != 1 || out.Series[0].Samples[0].Value != 1 {
		t.Fatalf("got %v, want one window with count 1", out.Series)
	}
}

// After a burst of groups is forgotten, the free list of window states
// shrinks with them.
func TestFreeListTrimmed(t *testing.T) {
	a := mustNew(t, Config{Name: "f", Match: "m", Interval: model.Duration(time.Second), By: []string{"id"},
		Outputs: []string{"count_samples"}, Lateness: dur(0), StalenessInterval: dur(time.Second)}, Options{})
	b := &batch.Batch{}
	for i := range 20_000 {
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: string(rune('a'+i%26)) + string(rune(i))}},
			[]batch.Sample{{Timestamp: 500, Value: 1}})
	}
	a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(500))
	out := &batch.Batch{}
	a.Flush(time.UnixMilli(1_000), false, out) // emits; groups still alive
	if len(out.Series) != 20_000 {
		t.Fatalf("emitted %d, want 20000", len(out.Series))
	}
	a.Flush(time.UnixMilli(10_000), false, out) // groups forgotten
	free, groups := 0, 0
	for i := range a.shards {
		free += len(a.shards[i].free)
		groups += a.shards[i].nGroups
	}
	if groups != 0 || free > numShards*minFreeStates {
		t.Errorf("after forgetting: %d groups, %d free states; want 0 and <= %d", groups, free, numShards*minFreeStates)
	}
}

func TestMetricsForget(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	a := mustNew(t, Config{Name: "gone", Match: "m", Interval: model.Duration(time.Second), Outputs: []string{"count_samples"}}, Options{Metrics: m})
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, []batch.Sample{{Timestamp: 1, Value: 1}, {Timestamp: 1e12, Value: 1}})
	a.Push(b, make([]uint8, 1), time.UnixMilli(1))
	count := func() int {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			n += len(mf.GetMetric())
		}
		return n
	}
	if count() == 0 {
		t.Fatal("no metrics before Forget")
	}
	m.Forget("gone")
	if n := count(); n != 0 {
		t.Errorf("%d metrics left after Forget", n)
	}
}
