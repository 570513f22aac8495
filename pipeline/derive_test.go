package pipeline

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/derive"
)

func deriver(t *testing.T, cfgs ...derive.Config) *derive.Deriver {
	t.Helper()
	d, err := derive.New(cfgs, derive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A derive record is evaluated when the windows it reads close, over
// those windows' outputs, and its results leave with them, stamped with
// the window end. Outputs a later aggregation consumes are seen too.
func TestFlushEvaluatesDeriveRecords(t *testing.T) {
	aggs := aggregations(t, `
- {name: errors, match: errors, interval: 10s, by: [title], outputs: [sum_samples], lateness: 0s}
- {name: views, match: views, interval: 10s, by: [title], outputs: [sum_samples], lateness: 0s}
- {name: all_views, match: 'views:10s_by_title_sum_samples', interval: 10s, outputs: [sum_samples], lateness: 0s}
`)
	d := deriver(t,
		derive.Config{Record: "title:error_ratio", Expr: "errors:10s_by_title_sum_samples / views:10s_by_title_sum_samples"},
		derive.Config{Record: "views:total", Expr: "sum(views:10s_by_title_sum_samples)", Labels: map[string]string{"scope": "all"}},
	)
	s := &sink{}
	p := New(Options{Aggregations: aggs, Derive: d, Sinks: []Sink{s}, Now: func() time.Time { return time.UnixMilli(1000) }})
	ctx := context.Background()
	in := input(1000, `views{title="a"}`, `views{title="a"}`, `views{title="a"}`, `views{title="a"}`, `errors{title="a"}`,
		`views{title="b"}`, `views{title="b"}`)
	if err := p.Ingest(ctx, in); err != nil {
		t.Fatal(err)
	}
	p.Flush(ctx, time.UnixMilli(10_000), false)
	got := s.take()
	want := []string{
		`errors:10s_by_title_sum_samples{title="a"} 1 @10000`,
		`title:error_ratio{title="a"} 0.25 @10000`,
		`views:10s_by_title_sum_samples:10s_sum_samples{} 6 @10000`,
		`views:total{scope="all"} 6 @10000`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("flush wrote\n%s\nwant\n%s", joinLines(got), joinLines(want))
	}
	// Nothing new: nothing evaluated again.
	p.Flush(ctx, time.UnixMilli(20_000), false)
	if got := s.take(); len(got) != 0 {
		t.Errorf("a flush with no window wrote %v", got)
	}
}

// A reload keeps the anomaly history of unchanged records: the new
// deriver scores the next window against the history the old one built.
func TestSwapCarriesAnomalyHistory(t *testing.T) {
	cfg := derive.Config{Record: "x:score", Expr: "x:10s_sum_samples", Anomaly: &derive.Anomaly{MinHistory: ptr(3)}}
	aggs := aggregations(t, `[{name: x, match: x, interval: 10s, outputs: [sum_samples], lateness: 0s}]`)
	s := &sink{}
	var clock int64
	p := New(Options{Aggregations: aggs, Derive: deriver(t, cfg), Sinks: []Sink{s}, Now: func() time.Time { return time.UnixMilli(clock) }})
	ctx := context.Background()
	window := func(w int64, v float64) {
		clock = w*10_000 + 1
		b := &batch.Batch{}
		b.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "x"}}, []batch.Sample{{Timestamp: w*10_000 + 1, Value: v}})
		if err := p.Ingest(ctx, b); err != nil {
			t.Fatal(err)
		}
		p.Flush(ctx, time.UnixMilli((w+1)*10_000), false)
	}
	for w, v := range []float64{10, 12, 11} {
		window(int64(w), v)
	}
	p.Swap(ctx, Stages{Aggregations: aggs, Derive: deriver(t, cfg), Sinks: []Sink{s}})
	s.take()
	window(3, 30)
	var scored bool
	for _, l := range s.take() {
		if strings.HasPrefix(l, "x:score{} ") {
			scored = true
		}
	}
	if !scored {
		t.Error("after the swap, the 4th window was not scored: the history of 3 windows was lost")
	}
}

func ptr[T any](v T) *T { return &v }

func joinLines(ls []string) string {
	out := ""
	for _, l := range ls {
		out += "  " + l + "\n"
	}
	return out
}
