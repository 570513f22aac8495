package pipeline

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// TestFlushRollsUpExactly runs a 10s -> 1m chain and a direct 1m
// aggregation over the same raw samples through the pipeline (windows of
// more groups than one flush part; φ series of one upstream window that
// straddle the parts PushRollup works in) and requires every output
// of the chain to equal the direct one: an hourly-style avg from counts
// and sums, not an average of averages; count_samples of raw samples, not
// of windows; increase from the upstream increases, not from treating
// them as a counter; quantiles from merged sketches. A series carries
// only the state of its own upstream output (package aggregate,
// "Rollups"), so the downstream matches every upstream output series and
// each output is taken over the series that represents it: min over
// min, ..., increase and total over increase, and the count unit (count,
// sum, avg, stddev, stdvar: they merge together, and this downstream
// needs Welford moments) over stddev.
func TestFlushRollsUpExactly(t *testing.T) {
	outs := `[avg, count_samples, sum_samples, min, max, first, last, stddev, stdvar, increase, total, "quantiles(0.1, 0.5, 0.99)"]`
	aggs := aggregations(t, `
- {name: up, match: m, interval: 10s, by: [device, region], lateness: 2s, outputs: `+outs+`}
- {name: down, match: '{__name__=~"m:10s_by_device_region_[a-z_]+"}', interval: 1m, by: [region], lateness: 2s, outputs: `+outs+`}
- {name: direct, match: m, interval: 1m, by: [region], lateness: 2s, outputs: `+outs+`}
`)
	s := &sink{}
	clock := time.UnixMilli(1_700_000_040_000) // a minute start
	p := New(Options{Aggregations: aggs, Sinks: []Sink{s}, Now: func() time.Time { return clock }})
	const devices = flushChunk/8 + 50 // the upstream's output spans several parts
	for step := range 12 {            // 5 s apart: two samples per device and 10 s window
		b := &batch.Batch{}
		for d := range devices {
			b.StartSeries()
			b.AddLabel(batch.MetricName, "m")
			b.AddLabel("device", fmt.Sprintf("d%04d", d))
			b.AddLabel("region", fmt.Sprint("r", d%3))
			v := float64((d*7+step*13)%50) + float64(step*d%11)/8
			if step == 6 && d%5 == 0 {
				v = 0.5 // counter reset
			}
			b.AddSample(clock.UnixMilli()+int64(d%997), v)
			b.FinishSeries()
		}
		if err := p.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(5 * time.Second)
		p.Flush(context.Background(), clock, false)
	}
	p.Flush(context.Background(), clock.Add(time.Minute), false)
	// The upstream series each downstream output is exact over.
	source := map[string]string{"sum_samples": "stddev", "count_samples": "stddev", "avg": "stddev",
		"stdvar": "stddev", "total": "increase"}
	got, want := map[string]string{}, map[string]string{}
	for _, line := range s.take() {
		up, rest, _ := strings.Cut(strings.TrimPrefix(line, "m:10s_by_device_region_"), ":1m_by_region_")
		out, _, _ := strings.Cut(rest, "{")
		src := source[out]
		if src == "" {
			src = out
		}
		switch {
		case strings.HasPrefix(line, "m:10s_by_device_region_") && up == src:
			got[rest] = ""
		case strings.HasPrefix(line, "m:1m_by_region_"):
			want[strings.TrimPrefix(line, "m:1m_by_region_")] = ""
		}
	}
	if len(want) != 3*14 {
		t.Fatalf("direct aggregation emitted %d series, want %d", len(want), 3*14)
	}
	parse := func(m map[string]string) map[string]float64 {
		out := map[string]float64{}
		for line := range m {
			// `<output>{labels} <value> @<ms>`
			f := strings.Fields(line)
			var v float64
			fmt.Sscan(f[len(f)-2], &v)
			out[strings.Join(f[:len(f)-2], " ")+" "+f[len(f)-1]] = v
		}
		return out
	}
	g, w := parse(got), parse(want)
	for k, wv := range w {
		gv, ok := g[k]
		if !ok || math.Abs(gv-wv) > 1e-9*max(1, math.Abs(wv)) || strings.HasPrefix(k, "quantiles") && gv != wv {
			t.Errorf("%s: rollup %g (present %v), direct %g", k, gv, ok, wv)
		}
	}
	if len(g) != len(w) {
		t.Errorf("rollup emitted %d series, direct %d", len(g), len(w))
	}
}
