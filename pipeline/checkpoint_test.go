package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/premetrics/premetrics/checkpoint"
)

const checkpointAggs = `
- {name: kept, match: x, interval: 10s, outputs: [count_samples], lateness: 5s}
- {name: changed, match: y, interval: 10s, outputs: [count_samples], lateness: 5s}
`

func checkpointPipeline(t *testing.T, dir, aggs string) (*Pipeline, *sink) {
	t.Helper()
	s := &sink{}
	p := New(Options{Aggregations: aggregations(t, aggs), Sinks: []Sink{s},
		Checkpoints: Checkpoints{Dir: dir, Interval: time.Hour},
		Now:         func() time.Time { return time.UnixMilli(12_000) }})
	return p, s
}

// A restart restores the aggregations whose definition is unchanged,
// starts the changed one empty, and never re-emits a window the journal
// says left; Shutdown saves open windows instead of emitting them.
func TestCheckpointRestore(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p, s := checkpointPipeline(t, dir, checkpointAggs)
	p.Restore(time.UnixMilli(0))
	if got := testutil.ToFloat64(p.checkpointMetrics().restores.WithLabelValues("none")); got != 2 {
		t.Errorf("first start: %v aggregations without checkpoint, want 2", got)
	}
	for _, ts := range []int64{1_000, 11_000, 12_000} {
		if err := p.Ingest(ctx, input(ts, `x{a="1"}`, `y{a="1"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Checkpoint(time.UnixMilli(12_500)); err != nil {
		t.Fatal(err)
	}
	// [0,10s) is due at 15s and leaves; the checkpoint still holds it.
	p.Flush(ctx, time.UnixMilli(15_000), false)
	if got := strings.Join(s.take(), "\n"); got != "x:10s_count_samples{} 1 @10000\ny:10s_count_samples{} 1 @10000" {
		t.Fatalf("first run emitted:\n%s", got)
	}
	// Crash here. The restart changes aggregation "changed".
	changed := strings.Replace(checkpointAggs, "match: y, interval: 10s, outputs: [count_samples]", "match: y, interval: 10s, outputs: [sum_samples]", 1)
	p2, s2 := checkpointPipeline(t, dir, changed)
	p2.Restore(time.UnixMilli(16_000))
	m := p2.checkpointMetrics()
	if r, c := testutil.ToFloat64(m.restores.WithLabelValues("restored")), testutil.ToFloat64(m.restores.WithLabelValues("changed")); r != 1 || c != 1 {
		t.Errorf("restored %v and changed %v aggregations, want 1 and 1", r, c)
	}
	if err := p2.Shutdown(ctx, time.UnixMilli(21_000)); err != nil {
		t.Fatal(err)
	}
	if got := s2.take(); len(got) != 0 {
		t.Errorf("shutdown with checkpoints emitted early or re-emitted: %v", got)
	}
	// After the clean shutdown, the window [10s,20s) of "kept" is saved
	// and emitted once it is due.
	p3, s3 := checkpointPipeline(t, dir, checkpointAggs)
	p3.Restore(time.UnixMilli(22_000))
	p3.Flush(ctx, time.UnixMilli(25_000), false)
	if got := strings.Join(s3.take(), "\n"); got != "x:10s_count_samples{} 2 @20000" {
		t.Errorf("after restarts emitted:\n%s\nwant the open window of kept only", got)
	}
}

// A damaged checkpoint starts every aggregation empty, and says so.
func TestCheckpointDamaged(t *testing.T) {
	dir := t.TempDir()
	p, _ := checkpointPipeline(t, dir, checkpointAggs)
	if err := p.Ingest(context.Background(), input(1_000, `x{a="1"}`)); err != nil {
		t.Fatal(err)
	}
	if err := p.Checkpoint(time.UnixMilli(2_000)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, checkpoint.StateFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 1
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	p2, s2 := checkpointPipeline(t, dir, checkpointAggs)
	p2.Restore(time.UnixMilli(3_000))
	if got := testutil.ToFloat64(p2.checkpointMetrics().restores.WithLabelValues("failed")); got != 2 {
		t.Errorf("%v aggregations counted as failed, want 2", got)
	}
	p2.Flush(context.Background(), time.UnixMilli(100_000), false)
	if got := s2.take(); len(got) != 0 {
		t.Errorf("state restored from a damaged file: %v", got)
	}
}
