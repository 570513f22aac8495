package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
)

// sumBy adds up the values of the lines whose series starts with prefix.
func sumBy(lines []string, prefix string) float64 {
	total := 0.0
	for _, l := range lines {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		f := strings.Fields(l)
		v, _ := strconv.ParseFloat(f[len(f)-2], 64)
		total += v
	}
	return total
}

// TestSwapUnderLoad ingests from several goroutines while the stages are
// swapped over and over: the aggregation in every generation keeps
// counting every sample exactly once, and the one replaced at each swap
// (flushed with force, open window included) adds up to every sample too:
// nothing lost, nothing counted twice.
func TestSwapUnderLoad(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	keep := aggregations(t, `[{name: keep, match: x, interval: 1h, outputs: [count_samples]}]`)[0]
	changing := func(i int) *aggregate.Aggregator {
		return aggregations(t, fmt.Sprintf(`[{name: gen%d, match: x, interval: 1h, outputs: [count_samples], output_relabel_configs: [{target_label: __name__, replacement: changing}]}]`, i))[0]
	}
	s := &sink{}
	// With a route cache: each generation starts its own, while ingests
	// of the one before still use theirs.
	p := New(Options{Aggregations: []*aggregate.Aggregator{keep, changing(0)}, Sinks: []Sink{s}, Now: func() time.Time { return now },
		RouteCacheLines: 1024})

	const writers, batches, perBatch = 4, 300, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range batches {
				b := &batch.Batch{}
				for j := range perBatch {
					b.StartSeries()
					b.AddLabel(batch.MetricName, "x")
					b.AddLabel("w", strconv.Itoa(w*perBatch+j))
					b.AddSample(now.UnixMilli()-int64(i), 1)
					b.FinishSeries()
				}
				if err := p.Ingest(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	swaps := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
loop:
	for {
		select {
		case <-done:
			break loop
		default:
		}
		swaps++
		p.Swap(context.Background(), Stages{Aggregations: []*aggregate.Aggregator{keep, changing(swaps)}, Sinks: []Sink{s}})
		time.Sleep(time.Millisecond)
	}
	if got := p.Stages().Aggregations[0]; got != keep {
		t.Fatal("the unchanged aggregation was replaced")
	}
	p.Flush(context.Background(), now.Add(3*time.Hour), true)
	lines := s.take()
	const total = writers * batches * perBatch
	if got := sumBy(lines, "x:1h_count_samples"); got != total {
		t.Errorf("kept aggregation counted %g samples, want %d", got, total)
	}
	if got := sumBy(lines, "changing"); got != total {
		t.Errorf("replaced aggregations counted %g samples over %d swaps, want %d", got, swaps, total)
	}
	if swaps < 2 {
		t.Logf("only %d swaps happened during ingest", swaps)
	}
}

// TestSwapFlushesRemovedThroughOldChain: an aggregation removed by a swap
// emits its open window into the aggregation after it, which is kept.
func TestSwapFlushesRemovedThroughOldChain(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	aggs := aggregations(t, `
- {name: up, match: x, interval: 1m, by: [a], outputs: [count_samples]}
- {name: down, match: 'x:1m_by_a_count_samples', interval: 1h, outputs: [sum_samples]}
`)
	s := &sink{}
	p := New(Options{Aggregations: aggs, Sinks: []Sink{s}, Now: func() time.Time { return now }})
	if err := p.Ingest(context.Background(), input(now.UnixMilli(), `x{a="1"}`, `x{a="2"}`, `x{a="2"}`)); err != nil {
		t.Fatal(err)
	}
	p.Swap(context.Background(), Stages{Aggregations: aggs[1:], Sinks: []Sink{s}})
	if got := s.take(); len(got) != 0 {
		t.Fatalf("removed upstream output went to the sinks instead of downstream: %v", got)
	}
	p.Flush(context.Background(), now.Add(3*time.Hour), true)
	got := s.take()
	if len(got) != 1 || sumBy(got, "x:1m_by_a_count_samples:1h_sum_samples") != 3 {
		t.Fatalf("downstream emitted %v, want one sum of 3", got)
	}
}

// TestRunRearmsAfterSwap: a pipeline started without aggregations flushes
// the ones a swap adds.
func TestRunRearmsAfterSwap(t *testing.T) {
	s := &sink{}
	p := New(Options{Sinks: []Sink{s}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	a := aggregations(t, `[{name: a, match: x, interval: 100ms, lateness: 200ms, outputs: [count_samples]}]`)
	p.Swap(ctx, Stages{Aggregations: a, Sinks: []Sink{s}})
	if err := p.Ingest(ctx, input(time.Now().UnixMilli(), `x`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.lines)
		s.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := s.take(); len(got) == 0 {
		t.Fatal("the swapped-in aggregation was never flushed")
	}
}
