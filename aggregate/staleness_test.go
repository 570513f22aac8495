package aggregate

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/value"

	"github.com/premetrics/premetrics/batch"
)

// A rollup of a rollup: the stale markers of the first aggregation's
// forgotten groups reach the second through Push, which skips them (they
// are not data) and counts them as rejected{reason="stale_marker"}; its
// own outputs are unchanged, and its groups go stale on their own.
func TestChainedRollupIgnoresMarkers(t *testing.T) {
	m := NewMetrics(nil)
	first := mustNew(t, Config{Name: "first", Match: "m", Interval: model.Duration(10 * time.Second),
		By: []string{"id"}, Outputs: []string{"sum_samples"}, Lateness: dur(0), StalenessInterval: dur(10 * time.Second),
	}, Options{Metrics: m})
	second := mustNew(t, Config{Name: "second", Match: "m:10s_by_id_sum_samples", Interval: model.Duration(time.Minute),
		Outputs: []string{"sum_samples"}, Lateness: dur(0), StalenessInterval: dur(2 * time.Minute),
	}, Options{Metrics: m})

	in := &batch.Batch{}
	for _, id := range []string{"a", "b"} {
		in.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: id}}, []batch.Sample{{Timestamp: 1000, Value: 1}})
	}
	first.Push(in, make([]uint8, len(in.Series)), time.UnixMilli(1000))

	var out, final batch.Batch
	for _, now := range []int64{10_000, 30_000} { // the window at 10s, then the markers at 30s
		out.Reset()
		first.Flush(time.UnixMilli(now), false, &out)
		second.Push(&out, make([]uint8, len(out.Series)), time.UnixMilli(now))
	}
	if len(out.Series) != 2 || !value.IsStaleNaN(out.Series[0].Samples[0].Value) {
		t.Fatalf("first aggregation's second flush: %d series, want 2 stale markers", len(out.Series))
	}
	second.Flush(time.UnixMilli(60_000), false, &final)
	if len(final.Series) != 1 || final.Series[0].Samples[0] != (batch.Sample{Timestamp: 60_000, Value: 2}) {
		t.Fatalf("second aggregation emitted %+v, want one sum_samples 2 @60000", final.Series)
	}
	if got := metricValue(t, m.rejected.WithLabelValues("second", reasonStaleMarker)); got != 2 {
		t.Errorf("second: rejected{stale_marker} = %v, want 2", got)
	}
	if got := metricValue(t, m.markers.WithLabelValues("first")); got != 2 {
		t.Errorf("first: staleness_markers_total = %v, want 2", got)
	}
	if got := metricValue(t, m.input.WithLabelValues("second")); got != 2 {
		t.Errorf("second: input_samples_total = %v, want 2", got)
	}
}
