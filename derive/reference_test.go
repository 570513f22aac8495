package derive

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/premetrics/premetrics/batch"
)

// refStorage is Prometheus as a user would run it: every window's outputs
// stored as series with history, queried by the engine with a lookback
// shorter than the window interval (so an instant sees only its window,
// as a derive record does). It shares no code with the Deriver's storage.
type refStorage struct{ series []storage.Series }

func (s *refStorage) Querier(int64, int64) (storage.Querier, error) {
	return &storage.MockQuerier{SelectMockFunction: func(_ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
		var out []storage.Series
		for _, ser := range s.series {
			ok := true
			for _, m := range ms {
				ok = ok && m.Matches(ser.Labels().Get(m.Name))
			}
			if ok {
				out = append(out, ser)
			}
		}
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
		return &refSet{series: out, i: -1}
	}}, nil
}

type refSet struct {
	series []storage.Series
	i      int
}

func (s *refSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *refSet) At() storage.Series                { return s.series[s.i] }
func (s *refSet) Err() error                        { return nil }
func (s *refSet) Warnings() annotations.Annotations { return nil }

// TestMatchesPrometheusEngine evaluates the same expressions over the same
// two windows of outputs with the Deriver and with the Prometheus engine
// over a conventional storage, and requires equal results (labels and
// bit-identical values) at both instants.
func TestMatchesPrometheusEngine(t *testing.T) {
	windows := map[int64][]string{
		t1: append(slices.Clone(videoInput), `views{title="gone"} 7`, `errors{title="gone", code="500"} 7`),
		t2: {
			`views{title="a"} 80`, `views{title="b"} 0`, `views{title="new"} 3`,
			`errors{title="a", code="500"} 8`, `errors{title="b", code="500"} 0`, `errors{title="new", code="404"} 1`,
			`info{title="a", genre="drama"} 1`,
		},
	}
	exprs := []string{
		`sum by (title) (errors) / views`,
		`errors / ignoring (code) group_left views`,
		`errors{code="500"} / on (title) views`,
		`views * on (title) group_left (genre) info`,
		`info * on (title) group_right (genre) views`,
		`views > 20`, `views > bool 20`, `views == bool 0`, `50 >= views`,
		`views and on (title) errors`, `views unless on (title) errors`, `views or on (title) info`,
		`sum(views)`, `sum by (code) (errors)`, `avg without (title) (errors)`, `min(views)`, `max by (genre) (info)`,
		`count(errors)`, `stddev(views)`, `stdvar(views)`, `group by (code) (errors)`,
		`abs(-views) + ceil(views / 3) + floor(views / 3) + round(views / 3, 0.5)`,
		`sqrt(views) + exp(views / 100) + ln(views) + log2(views) + log10(views) + sgn(views)`,
		`clamp(views, 5, 60) + clamp_min(views, 5) + clamp_max(views, 5)`,
		`-views % 7 ^ 2`, `views atan2 on (title) sum by (title) (errors)`,
		`sum by (title) (errors) / on (title) (views - views)`, // 0/0 = NaN, x/0 = Inf
		`errors / ignoring (code) views`,                       // fails at t1 (many-to-one), works at t2
	}

	ref := &refStorage{}
	byLabels := map[string]int{}
	for _, ts := range []int64{t1, t2} {
		for _, s := range input(t, ts, windows[ts]...).Series {
			key := batch.String(s.Labels)
			i, ok := byLabels[key]
			if !ok {
				i = len(ref.series)
				byLabels[key] = i
				ref.series = append(ref.series, nil)
			}
			var ls []string
			for _, l := range s.Labels {
				ls = append(ls, l.Name, l.Value)
			}
			old, _ := ref.series[i].(refSeries)
			ref.series[i] = refSeries{ls: ls, ts: append(old.ts, ts), vs: append(old.vs, s.Samples[0].Value)}
		}
	}
	for i := range ref.series {
		rs := ref.series[i].(refSeries)
		var ss []chunks.Sample
		for j := range rs.ts {
			ss = append(ss, refSample{rs.ts[j], rs.vs[j]})
		}
		ref.series[i] = storage.NewListSeries(labels.FromStrings(rs.ls...), ss)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: time.Minute - time.Millisecond})

	for _, expr := range exprs {
		d := mustNew(t, Options{}, Config{Record: "r", Expr: expr})
		for _, ts := range []int64{t1, t2} {
			d.Observe(input(t, ts, windows[ts]...))
		}
		got := evaluateFormat(t, d, formatBits)

		var want []string
		for _, ts := range []int64{t1, t2} {
			q, err := engine.NewInstantQuery(context.Background(), ref, nil, expr, time.UnixMilli(ts))
			if err != nil {
				t.Fatal(err)
			}
			res := q.Exec(context.Background())
			if res.Err != nil {
				q.Close()
				continue // the record fails there too: nothing emitted
			}
			vec, _ := res.Vector()
			for _, s := range vec {
				ls := labels.NewBuilder(s.Metric).Set(labels.MetricName, "r").Labels()
				var bl []batch.Label
				ls.Range(func(l labels.Label) { bl = append(bl, batch.Label{Name: l.Name, Value: l.Value}) })
				want = append(want, fmt.Sprintf("%s %s @%d", batch.String(bl), formatBits(s.F), ts))
			}
			q.Close()
		}
		slices.Sort(want)
		if len(want) == 0 {
			t.Errorf("%s: the reference returned nothing; a useless case", expr)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n derive     %q\n prometheus %q", expr, got, want)
		}
	}
}

type refSeries struct {
	storage.Series
	ls []string
	ts []int64
	vs []float64
}

type refSample struct {
	t int64
	f float64
}

func (s refSample) T() int64                      { return s.t }
func (s refSample) ST() int64                     { return 0 }
func (s refSample) F() float64                    { return s.f }
func (s refSample) H() *histogram.Histogram       { return nil }
func (s refSample) FH() *histogram.FloatHistogram { return nil }
func (s refSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s refSample) Copy() chunks.Sample           { return s }

// formatBits renders v exactly (all NaNs alike, as PromQL does not tell them apart).
func formatBits(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return fmt.Sprintf("%x", math.Float64bits(v))
}
