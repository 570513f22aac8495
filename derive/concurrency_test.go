package derive

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

// Flush goroutines observe while Evaluate runs: every observed sample is
// evaluated exactly once, by one Evaluate or the next.
func TestObserveConcurrent(t *testing.T) {
	const goroutines, rounds, perBatch = 4, 200, 5
	d := mustNew(t, Options{}, Config{Record: "r", Expr: `a * 1`})
	seen := map[string]int{}
	emit := func(b *batch.Batch) error {
		for _, s := range b.Series {
			seen[fmt.Sprintf("%s@%d", batch.String(s.Labels), s.Samples[0].Timestamp)]++
		}
		return nil
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			var b batch.Batch // reused after every Observe, as the pipeline does
			for i := range rounds {
				b.Reset()
				for j := range perBatch {
					b.AppendSeries([]batch.Label{{Name: "__name__", Value: "a"}, {Name: "g", Value: fmt.Sprint(g)}, {Name: "j", Value: fmt.Sprint(j)}},
						[]batch.Sample{{Timestamp: int64(i+1) * 1000, Value: float64(i)}})
				}
				b.AppendSeries([]batch.Label{{Name: "__name__", Value: "unwanted"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
				d.Observe(&b)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if err := d.Evaluate(context.Background(), emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Evaluate(context.Background(), emit); err != nil {
		t.Fatal(err)
	}
	if len(seen) != goroutines*rounds*perBatch {
		t.Errorf("%d distinct results, want %d", len(seen), goroutines*rounds*perBatch)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s emitted %d times", k, n)
		}
	}
}

// Steady-state Observe copies into reused arenas without allocating,
// across the buffer swaps of Evaluate.
func TestObserveZeroAlloc(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	d := mustNew(t, Options{}, Config{Record: "r", Expr: `errors / views`})
	b := benchInput(100, t1)
	evaluate := func() {
		if err := d.Evaluate(context.Background(), func(*batch.Batch) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // grow both buffers
		d.Observe(b)
		d.Observe(b)
		evaluate()
	}
	// The engine's goroutines of an evaluate may still allocate while
	// Observe is measured (MemStats counts every goroutine): a real
	// allocation of Observe shows in every trial, such noise not.
	var before, after runtime.MemStats
	var mallocs uint64
	for trial := 0; trial == 0 || mallocs != 0 && trial < 5; trial++ {
		mallocs = 0
		for range 10 {
			runtime.ReadMemStats(&before)
			d.Observe(b)
			d.Observe(b)
			runtime.ReadMemStats(&after)
			mallocs += after.Mallocs - before.Mallocs
			evaluate()
			d.Observe(b) // the other buffer, grown to two batches too
			d.Observe(b)
			evaluate()
		}
	}
	if mallocs != 0 {
		t.Errorf("Observe: %d allocations in 20 calls, want 0", mallocs)
	}
}
