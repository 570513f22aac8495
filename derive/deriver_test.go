package derive

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/premetrics/premetrics/batch"
)

const t1, t2, t3 = 60_000, 120_000, 180_000 // window ends, Unix ms

// input returns a batch of one sample per line, `metric{labels} value`,
// at ts.
func input(t testing.TB, ts int64, lines ...string) *batch.Batch {
	t.Helper()
	b := new(batch.Batch)
	for _, line := range lines {
		i := strings.LastIndexByte(line, ' ')
		ls, err := promqlParser.ParseMetric(line[:i])
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		b.StartSeries()
		ls.Range(func(l labels.Label) { b.AddLabel(l.Name, l.Value) })
		b.AddSample(ts, v)
		if !b.FinishSeries() {
			t.Fatalf("%q: duplicate label", line)
		}
	}
	return b
}

// evaluate runs Evaluate and returns the emitted samples as sorted
// `name{labels} value @ts` lines.
func evaluate(t testing.TB, d *Deriver) []string {
	t.Helper()
	return evaluateFormat(t, d, func(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) })
}

func evaluateFormat(t testing.TB, d *Deriver, format func(float64) string) []string {
	t.Helper()
	var out []string
	err := d.Evaluate(context.Background(), func(b *batch.Batch) error {
		for _, s := range b.Series {
			for _, smp := range s.Samples {
				out = append(out, fmt.Sprintf("%s %s @%d", batch.String(s.Labels), format(smp.Value), smp.Timestamp))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	slices.Sort(out)
	return out
}

func mustNew(t testing.TB, opts Options, cfgs ...Config) *Deriver {
	t.Helper()
	d, err := New(cfgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func checkOut(t *testing.T, name string, got, want []string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", name, got, want)
	}
}

// Views and errors per title and code, as aggregation outputs of one
// window (the scenario of the package doc).
var videoInput = []string{
	`views{title="a"} 100`,
	`views{title="b"} 50`,
	`views{title="c"} 10`,
	`errors{title="a", code="500"} 5`,
	`errors{title="a", code="503"} 15`,
	`errors{title="b", code="500"} 1`,
	`info{title="a", genre="drama"} 1`,
	`info{title="b", genre="comedy"} 1`,
}

func TestEvaluateExpressions(t *testing.T) {
	cases := []struct {
		expr   string
		labels map[string]string
		want   []string
	}{
		// One-to-one matching.
		{expr: `sum by (title) (errors) / views`, want: []string{`r{title="a"} 0.2 @60000`, `r{title="b"} 0.02 @60000`}},
		{expr: `errors{code="500"} / ignoring (code) views`, want: []string{`r{title="a"} 0.05 @60000`, `r{title="b"} 0.02 @60000`}}, // one-to-one drops the ignored labels
		{expr: `errors{code="500"} / on (title) views`, want: []string{`r{title="a"} 0.05 @60000`, `r{title="b"} 0.02 @60000`}},
		// Many-to-one with group_left, and extra labels from the one side.
		{expr: `errors / ignoring (code) group_left views`, want: []string{`r{code="500", title="a"} 0.05 @60000`, `r{code="503", title="a"} 0.15 @60000`, `r{code="500", title="b"} 0.02 @60000`}},
		{expr: `views * on (title) group_left (genre) info`, want: []string{`r{genre="drama", title="a"} 100 @60000`, `r{genre="comedy", title="b"} 50 @60000`}},
		{expr: `info * on (title) group_right (genre) views`, want: []string{`r{genre="drama", title="a"} 100 @60000`, `r{genre="comedy", title="b"} 50 @60000`}},
		// Comparisons filter, or with bool give 0/1.
		{expr: `views > 20`, want: []string{`r{title="a"} 100 @60000`, `r{title="b"} 50 @60000`}},
		{expr: `views > bool 20`, want: []string{`r{title="a"} 1 @60000`, `r{title="b"} 1 @60000`, `r{title="c"} 0 @60000`}},
		{expr: `sum by (title) (errors) / views >= 0.1`, want: []string{`r{title="a"} 0.2 @60000`}},
		{expr: `views == on (title) group_left sum by (title) (errors) * 5`, want: []string{`r{title="a"} 100 @60000`}},
		{expr: `20 < bool views`, want: []string{`r{title="a"} 1 @60000`, `r{title="b"} 1 @60000`, `r{title="c"} 0 @60000`}},
		// Set operators.
		{expr: `views and on (title) errors`, want: []string{`r{title="a"} 100 @60000`, `r{title="b"} 50 @60000`}},
		{expr: `views unless on (title) errors`, want: []string{`r{title="c"} 10 @60000`}},
		{expr: `views unless on (title) errors or on (title) info * 7`, want: []string{`r{title="c"} 10 @60000`, `r{genre="drama", title="a"} 7 @60000`, `r{genre="comedy", title="b"} 7 @60000`}},
		// Aggregations.
		{expr: `sum(views)`, want: []string{`r{} 160 @60000`}},
		{expr: `sum by (code) (errors)`, want: []string{`r{code="500"} 6 @60000`, `r{code="503"} 15 @60000`}},
		{expr: `sum without (code) (errors)`, want: []string{`r{title="a"} 20 @60000`, `r{title="b"} 1 @60000`}},
		{expr: `avg(views)`, want: []string{`r{} 53.33333333 @60000`}},
		{expr: `min(views) + max(views)`, want: []string{`r{} 110 @60000`}},
		{expr: `count by (title) (errors)`, want: []string{`r{title="a"} 2 @60000`, `r{title="b"} 1 @60000`}},
		{expr: `stddev(views)`, want: []string{`r{} 36.81787006 @60000`}},
		{expr: `stdvar(views)`, want: []string{`r{} 1355.555556 @60000`}},
		{expr: `group by (genre) (info)`, want: []string{`r{genre="comedy"} 1 @60000`, `r{genre="drama"} 1 @60000`}},
		// Functions and arithmetic.
		{expr: `sqrt(views{title="a"}) + abs(-views{title="a"}) + ln(views{title="a"}) * 0 + exp(0 * views{title="a"})`, want: []string{`r{title="a"} 111 @60000`}},
		{expr: `ceil(views / 3)`, want: []string{`r{title="a"} 34 @60000`, `r{title="b"} 17 @60000`, `r{title="c"} 4 @60000`}},
		{expr: `floor(views / 3)`, want: []string{`r{title="a"} 33 @60000`, `r{title="b"} 16 @60000`, `r{title="c"} 3 @60000`}},
		{expr: `round(views / 3)`, want: []string{`r{title="a"} 33 @60000`, `r{title="b"} 17 @60000`, `r{title="c"} 3 @60000`}},
		{expr: `round(views / 3, 0.5)`, want: []string{`r{title="a"} 33.5 @60000`, `r{title="b"} 16.5 @60000`, `r{title="c"} 3.5 @60000`}},
		{expr: `log2(views{title="c"}) - log10(views{title="c"})`, want: []string{`r{title="c"} 2.321928095 @60000`}},
		{expr: `sgn(views - 50)`, want: []string{`r{title="a"} 1 @60000`, `r{title="b"} 0 @60000`, `r{title="c"} -1 @60000`}},
		{expr: `clamp(views, 20, 60)`, want: []string{`r{title="a"} 60 @60000`, `r{title="b"} 50 @60000`, `r{title="c"} 20 @60000`}},
		{expr: `clamp_min(views, 20) - clamp_max(views, 20)`, want: []string{`r{title="a"} 80 @60000`, `r{title="b"} 30 @60000`, `r{title="c"} 10 @60000`}},
		{expr: `views % 30 ^ 1`, want: []string{`r{title="a"} 10 @60000`, `r{title="b"} 20 @60000`, `r{title="c"} 10 @60000`}},
		{expr: `views{title="c"} atan2 views{title="c"}`, want: []string{`r{title="c"} 0.7853981634 @60000`}},
		{expr: `views{title="c"} / 0`, want: []string{`r{title="c"} +Inf @60000`}},
		{expr: `{__name__="views", title=~"a|c"}`, want: []string{`r{title="a"} 100 @60000`, `r{title="c"} 10 @60000`}},
		{expr: `views{title!="a"} - 1`, want: []string{`r{title="b"} 49 @60000`, `r{title="c"} 9 @60000`}},
		// Nothing to combine: nothing emitted.
		{expr: `views + missing`},
		{expr: `sum(missing)`},
		// Record labels: set, and an empty value removes the label.
		{expr: `views{title="a"}`, labels: map[string]string{"team": "video", "title": ""}, want: []string{`r{team="video"} 100 @60000`}},
		{expr: `views{title="a"}`, labels: map[string]string{"title": "z"}, want: []string{`r{title="z"} 100 @60000`}},
	}
	for _, tc := range cases {
		d := mustNew(t, Options{}, Config{Record: "r", Expr: tc.expr, Labels: tc.labels})
		d.Observe(input(t, t1, videoInput...))
		checkOut(t, tc.expr, evaluate(t, d), tc.want)
	}
}

// Earlier records' results are read by later ones by name, at the same
// instant; their names are not wanted from outside.
func TestChainedRecords(t *testing.T) {
	d := mustNew(t, Options{},
		Config{Record: "title:ratio", Expr: `sum by (title) (errors) / views`},
		Config{Record: "title:ratio_pct", Expr: `title:ratio * 100`, Labels: map[string]string{"unit": "percent"}},
		Config{Record: "ratio:max", Expr: `max(title:ratio_pct) + 0 * count(title:ratio)`},
	)
	for _, name := range []string{"errors", "views"} {
		if !d.Wants(name) {
			t.Errorf("Wants(%q) = false", name)
		}
	}
	for _, name := range []string{"title:ratio", "title:ratio_pct", "ratio:max", "info"} {
		if d.Wants(name) {
			t.Errorf("Wants(%q) = true", name)
		}
	}
	if got := d.Records(); !slices.Equal(got, []string{"title:ratio", "title:ratio_pct", "ratio:max"}) {
		t.Errorf("Records() = %q", got)
	}
	// Observed series of a record's name are not collected (not wanted).
	d.Observe(input(t, t1, append([]string{`title:ratio{title="x"} 1000`}, videoInput...)...))
	checkOut(t, "chain", evaluate(t, d), []string{
		`title:ratio{title="a"} 0.2 @60000`,
		`title:ratio{title="b"} 0.02 @60000`,
		`title:ratio_pct{title="a", unit="percent"} 20 @60000`,
		`title:ratio_pct{title="b", unit="percent"} 2 @60000`,
		`ratio:max{} 20 @60000`,
	})
}

// A record that reads a later record's name reads it from outside; the
// later records see the record's own results instead.
func TestForwardReference(t *testing.T) {
	d := mustNew(t, Options{},
		Config{Record: "early", Expr: `late * 2`},
		Config{Record: "late", Expr: `views{title="a"}`},
		Config{Record: "after", Expr: `late + 1`},
	)
	if !d.Wants("late") {
		t.Fatal(`Wants("late") = false: "early" reads it before it is produced`)
	}
	d.Observe(input(t, t1, `views{title="a"} 100`, `late{title="x"} 3`))
	checkOut(t, "forward", evaluate(t, d), []string{
		`early{title="x"} 6 @60000`,
		`late{title="a"} 100 @60000`,
		`after{title="a"} 101 @60000`,
	})
}

// One Evaluate covers every instant observed since the last one, in
// ascending order, each on its own data only; observed data are cleared.
func TestSeveralInstants(t *testing.T) {
	d := mustNew(t, Options{}, Config{Record: "r", Expr: `sum(a) / count(a)`}, Config{Record: "s", Expr: `r * 10`})
	// One batch with two windows (a flush that closed two), then another.
	b := input(t, t2, `a{x="1"} 4`, `a{x="2"} 6`)
	b.AppendSeries(input(t, t1, `a{x="1"} 1`).Series[0].Labels, []batch.Sample{{Timestamp: t1, Value: 1}, {Timestamp: t3, Value: 30}})
	d.Observe(b)
	d.Observe(input(t, t1, `a{x="3"} 3`))
	var stamps []int64
	err := d.Evaluate(context.Background(), func(b *batch.Batch) error {
		for _, s := range b.Series {
			stamps = append(stamps, s.Samples[0].Timestamp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{t1, t1, t2, t2, t3, t3}; !slices.Equal(stamps, want) {
		t.Errorf("emitted timestamps %v, want %v (ascending instants)", stamps, want)
	}
	d.Observe(b)
	d.Observe(input(t, t1, `a{x="3"} 3`))
	checkOut(t, "instants", evaluate(t, d), []string{
		`r{} 2 @60000`, `s{} 20 @60000`,
		`r{} 5 @120000`, `s{} 50 @120000`,
		`r{} 30 @180000`, `s{} 300 @180000`,
	})
	checkOut(t, "after evaluate", evaluate(t, d), nil)
}

// Stale markers are not data; a series with only a marker at an instant
// is absent there.
func TestStaleMarkersIgnored(t *testing.T) {
	d := mustNew(t, Options{}, Config{Record: "r", Expr: `count(a)`}, Config{Record: "s", Expr: `a + 1`})
	b := input(t, t1, `a{x="1"} 1`, `a{x="2"} 2`)
	b.Series[1].Samples[0].Value = math.Float64frombits(value.StaleNaN)
	b.AppendSeries(b.Series[0].Labels, []batch.Sample{{Timestamp: t2, Value: math.Float64frombits(value.StaleNaN)}})
	d.Observe(b)
	checkOut(t, "stale", evaluate(t, d), []string{`r{} 1 @60000`, `s{x="1"} 2 @60000`})
}

// Of two samples of one series at one instant the first observed counts.
func TestDuplicateSamples(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	d := mustNew(t, Options{Metrics: m}, Config{Record: "r", Expr: `a`})
	d.Observe(input(t, t1, `a{x="1"} 1`))
	d.Observe(input(t, t1, `a{x="1"} 2`, `a{x="2"} 3`))
	checkOut(t, "dup", evaluate(t, d), []string{`r{x="1"} 1 @60000`, `r{x="2"} 3 @60000`})
	if got := testutil.ToFloat64(m.dropped.WithLabelValues(reasonDuplicate)); got != 1 {
		t.Errorf("dropped{duplicate} = %v, want 1", got)
	}
}

// A runtime error of one record is counted and does not stop the others,
// nor later instants.
func TestRuntimeErrors(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	d := mustNew(t, Options{Metrics: m},
		Config{Record: "many", Expr: `errors / ignoring (code) views`},               // many-to-one without group_left
		Config{Record: "dup", Expr: `views`, Labels: map[string]string{"title": ""}}, // same labelset after labels
		Config{Record: "m2m", Expr: `errors * on (code) group_left errors`},          // many-to-many
		Config{Record: "ok", Expr: `sum(views)`},
		Config{Record: "reads_failed", Expr: `dup + 1`},
	)
	d.Observe(input(t, t1, videoInput...))
	d.Observe(input(t, t2, `views{title="a"} 1`, `errors{title="a", code="500"} 1`))
	checkOut(t, "errors", evaluate(t, d), []string{
		`ok{} 160 @60000`,
		`many{title="a"} 1 @120000`, // one-to-one there: ignoring drops code
		`dup{} 1 @120000`,
		`m2m{code="500", title="a"} 1 @120000`,
		`ok{} 1 @120000`,
		`reads_failed{} 2 @120000`,
	})
	for rec, want := range map[string]float64{"many": 1, "dup": 1, "m2m": 1, "ok": 0, "reads_failed": 0} {
		if got := testutil.ToFloat64(m.errors.WithLabelValues(rec)); got != want {
			t.Errorf("errors_total{record=%q} = %v, want %v", rec, got, want)
		}
		if got := testutil.ToFloat64(m.evaluations.WithLabelValues(rec)); got != 2 {
			t.Errorf("evaluations_total{record=%q} = %v, want 2", rec, got)
		}
	}
	if got := testutil.ToFloat64(m.outputs.WithLabelValues("ok")); got != 2 {
		t.Errorf("output_samples_total{record=ok} = %v, want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "premetrics_derive_evaluation_duration_seconds"); err != nil || n != 1 {
		t.Errorf("duration histogram: %d series, %v", n, err)
	}
}

func TestObservedSeriesLimit(t *testing.T) {
	m := NewMetrics(nil)
	d := mustNew(t, Options{Metrics: m, MaxObservedSeries: 2}, Config{Record: "r", Expr: `count(a)`})
	d.Observe(input(t, t1, `a{x="1"} 1`, `b{x="1"} 1`, `a{x="2"} 1`, `a{x="3"} 1`))
	d.Observe(input(t, t1, `a{x="4"} 1`))
	checkOut(t, "limit", evaluate(t, d), []string{`r{} 2 @60000`})
	if got := testutil.ToFloat64(m.dropped.WithLabelValues(reasonSeriesLimit)); got != 2 {
		t.Errorf("dropped{series_limit} = %v, want 2", got)
	}
	// The limit is per Evaluate.
	d.Observe(input(t, t2, `a{x="1"} 1`, `a{x="2"} 1`))
	checkOut(t, "next", evaluate(t, d), []string{`r{} 2 @120000`})
}

// Observe copies: the caller may reuse the batch right after.
func TestObserveCopies(t *testing.T) {
	d := mustNew(t, Options{}, Config{Record: "r", Expr: `a`})
	b := input(t, t1, `a{x="1"} 1`)
	d.Observe(b)
	b.Series[0].Labels[1].Value = "changed"
	b.Series[0].Samples[0].Value = 99
	b.Reset()
	checkOut(t, "copy", evaluate(t, d), []string{`r{x="1"} 1 @60000`})
}

// Results come in batches of at most emitBatchSeries; an emit error stops
// Evaluate and is returned.
func TestEmitBatches(t *testing.T) {
	d := mustNew(t, Options{}, Config{Record: "r", Expr: `a`})
	lines := make([]string, 2*emitBatchSeries+5)
	for i := range lines {
		lines[i] = fmt.Sprintf(`a{x="%d"} %d`, i, i)
	}
	d.Observe(input(t, t1, lines...))
	var sizes []int
	err := d.Evaluate(context.Background(), func(b *batch.Batch) error { sizes = append(sizes, b.Len()); return nil })
	if err != nil || !slices.Equal(sizes, []int{emitBatchSeries, emitBatchSeries, 5}) {
		t.Errorf("batches %v, %v", sizes, err)
	}

	boom := errors.New("boom")
	d.Observe(input(t, t1, lines...))
	calls := 0
	err = d.Evaluate(context.Background(), func(*batch.Batch) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("Evaluate = %v after %d emits, want boom after 1", err, calls)
	}
	checkOut(t, "after an emit error", evaluate(t, d), nil)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.Observe(input(t, t1, lines[:1]...))
	if err := d.Evaluate(ctx, func(*batch.Batch) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate with a canceled context = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New([]Config{{Record: "r", Expr: "rate(a[5m])"}}, Options{})
	if err == nil || err.Error() != `cannot compile derive[0] (record "r"): expr: 1:1: rate(...) is not supported: a derive record sees one instant (the window's outputs), not a range` {
		t.Errorf("New: %v", err)
	}
	_, err = New([]Config{{Record: "r", Expr: "a"}, {Record: "r", Expr: "b"}}, Options{})
	if err == nil || err.Error() != `cannot compile derive[1]: duplicate record "r" (also derive[0])` {
		t.Errorf("New: %v", err)
	}
	d := mustNew(t, Options{})
	d.Observe(input(t, t1, `a 1`))
	checkOut(t, "no records", evaluate(t, d), nil)
}
