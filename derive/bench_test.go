package derive

import (
	"context"
	"fmt"
	"testing"

	"github.com/premetrics/premetrics/batch"
)

// benchInput returns the window outputs of n/2 titles at ts: views and
// errors per title, n series in all, with two more labels each.
func benchInput(n int, ts int64) *batch.Batch {
	b := new(batch.Batch)
	for i := range n / 2 {
		title := fmt.Sprintf("title-%05d", i)
		for _, name := range []string{"errors", "views"} {
			v := 1000.0
			if name == "errors" {
				v = float64(i % 50)
			}
			b.AppendSeries([]batch.Label{{Name: "__name__", Value: name}, {Name: "region", Value: "eu"}, {Name: "service", Value: "video"}, {Name: "title", Value: title}},
				[]batch.Sample{{Timestamp: ts, Value: v}})
		}
	}
	return b
}

// BenchmarkObserve copies one window of 10k wanted series (the outputs
// of a flush), then discards them as Evaluate would.
func BenchmarkObserve(b *testing.B) {
	d := mustNew(b, Options{}, Config{Record: "ratio", Expr: `errors / views`})
	in := benchInput(10_000, t1)
	b.ReportAllocs()
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		d.Observe(in)
		d.mu.Lock()
		d.cur.reset()
		d.mu.Unlock()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*in.Len()), "ns/series")
}

// BenchmarkEvaluate evaluates one ratio record over 10k input series
// (5k per side, 5k results), Observe included.
func BenchmarkEvaluate(b *testing.B) {
	for _, anomaly := range []bool{false, true} {
		b.Run(fmt.Sprintf("anomaly=%v", anomaly), func(b *testing.B) {
			cfg := Config{Record: "ratio", Expr: `errors / views`}
			if anomaly {
				cfg.Anomaly = &Anomaly{}
			}
			d := mustNew(b, Options{}, cfg)
			in := benchInput(10_000, t1)
			outputs := 0
			emit := func(out *batch.Batch) error { outputs += out.Len(); return nil }
			b.ReportAllocs()
			ts := int64(t1)
			for b.Loop() {
				for i := range in.Series {
					in.Series[i].Samples[0].Timestamp = ts
				}
				ts += 60_000
				d.Observe(in)
				if err := d.Evaluate(context.Background(), emit); err != nil {
					b.Fatal(err)
				}
			}
			if !anomaly && outputs != b.N*5_000 {
				b.Fatalf("%d outputs, want %d", outputs, b.N*5_000)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*in.Len()), "ns/input-series")
		})
	}
}

// The benchmarks' window gives one ratio per title, errors/views: what
// they measure is the real work.
func TestBenchInputRatios(t *testing.T) {
	d := mustNew(t, Options{}, Config{Record: "ratio", Expr: `errors / views`})
	d.Observe(benchInput(10_000, t1))
	got := map[string]float64{}
	if err := d.Evaluate(context.Background(), func(out *batch.Batch) error {
		for _, s := range out.Series {
			got[s.Get("title")] = s.Samples[0].Value
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 5_000 {
		t.Fatalf("%d ratios, want 5000", len(got))
	}
	for i := range 5_000 {
		title := fmt.Sprintf("title-%05d", i)
		if want := float64(i%50) / 1000; got[title] != want {
			t.Fatalf("ratio of %s = %g, want %g", title, got[title], want)
		}
	}
}
