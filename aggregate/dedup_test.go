package aggregate

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

// TestPushDedupZeroAllocs pushes every batch twice, as an HA pair would:
// the second copy is deduplicated, and neither allocates once the tables
// are warm.
func TestPushDedupZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	a, err := New(Config{
		Name: "dedup_allocs", Match: "vehicle_rpm", Interval: model.Duration(time.Second), By: []string{"region"},
		Outputs:       []string{"count_samples", "count_series", "increase"},
		Lateness:      dur(0),
		DedupInterval: dur(100 * time.Millisecond),
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := benchBatch(1000, 100)
	marks := make([]uint8, len(in.Series))
	out := &batch.Batch{}
	ts := benchT0
	step := func() {
		ts += 100
		setTimestamps(in, ts, true)
		now := time.UnixMilli(ts)
		a.Push(in, marks, now)
		a.Push(in, marks, now)
		out.Reset()
		a.Flush(now, false, out)
	}
	for range 50 {
		step()
	}
	if n := testing.AllocsPerRun(50, step); n != 0 {
		t.Errorf("Push with dedup_interval and Flush allocate %.2f times per step, want 0", n)
	}
	// Each step pushes 1000 samples twice; half of them are duplicates.
	if got, want := testutil.ToFloat64(a.metrics.rejDedup), testutil.ToFloat64(a.metrics.input); got != want || got == 0 {
		t.Errorf("deduplicated = %v, want %v (the aggregated samples)", got, want)
	}
	if got := a.nDedup.Load(); got != int64(len(in.Series)) {
		t.Errorf("dedup entries = %d, want %d", got, len(in.Series))
	}
}
