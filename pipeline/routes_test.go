package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/enrich"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
	"github.com/premetrics/premetrics/internal/race"
	"github.com/premetrics/premetrics/internal/testenv"
	"github.com/premetrics/premetrics/routecache"
	"github.com/premetrics/premetrics/rules"
	"github.com/premetrics/premetrics/telemetry"
)

// Seven aggregations, three more than a cache line has columns, over every
// way a series reaches them: by and without, a counter, count_series, a
// selector with a comparison, keep_input, input_relabel_configs (not
// routable), a small max_output_series (overflow) and staleness.
const routeTestAggregations = `
- {name: by_region, match: rpm, interval: 1s, by: [region], outputs: [sum_samples, count_series, max], lateness: 2s}
- {name: moving, match: 'rpm != 0', interval: 1s, by: [model], outputs: [count_samples], lateness: 2s}
- {name: distance, match: odo_total, interval: 1s, without: [vid], outputs: [increase, rate_sum], lateness: 2s}
- {name: per_vehicle, match: '{__name__=~"rpm|warn"}', interval: 1s, by: [vid], outputs: [last], lateness: 2s,
   max_output_series: 40, staleness_interval: 2s}
- {name: kept, match: warn, interval: 1s, outputs: [sum_samples], keep_input: true, lateness: 2s}
- {name: relabeled, match: rpm, interval: 1s, by: [r], outputs: [count_samples], lateness: 2s,
   input_relabel_configs: [{source_labels: [region], target_label: r}]}
- {name: sixth_column, match: odo_total, interval: 1s, by: [model], outputs: [count_samples], lateness: 2s}
`

// routeTestPipeline is a pipeline over routeTestAggregations with a
// global relabel that drops series and labels, forwarding unmatched
// input, with a route cache of lines lines (0: none).
func routeTestPipeline(t *testing.T, lines int, s Sink, now func() time.Time) (*Pipeline, *prometheus.CounterVec) {
	t.Helper()
	dropped := telemetry.NewDroppedSamples(prometheus.NewRegistry())
	return New(Options{Relabel: routeTestRelabel(t), Aggregations: aggregations(t, routeTestAggregations), ForwardUnmatched: true,
		Sinks: []Sink{s}, Dropped: dropped, Now: now, RouteCacheLines: lines}), dropped
}

// routeTestRelabel drops junk series and the gateway label.
func routeTestRelabel(t *testing.T) *rules.Relabeler {
	t.Helper()
	var cfgs []*relabel.Config
	if err := yaml.Unmarshal([]byte(`[{source_labels: [__name__], regex: "junk.*", action: drop}, {action: labeldrop, regex: "gw"}]`), &cfgs); err != nil {
		t.Fatal(err)
	}
	rl, err := rules.CompileRelabel(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

// routeTestInput is push i of a fleet of 400 vehicles (1,400 series, more
// than routecache.MinLines) of which some are
// silent for a while (so per_vehicle forgets their groups and gives the
// ids to others), with a sender label the relabel drops (two gateways:
// two input series become one), junk the relabel drops, and a metric no
// aggregation matches.
func routeTestInput(r *rand.Rand, i int, ts int64) *batch.Batch {
	return routeTestFill(&batch.Batch{}, r, i, ts)
}

// routeTestFill adds routeTestInput's series to b, as a decoder would.
func routeTestFill(b *batch.Batch, r *rand.Rand, i int, ts int64) *batch.Batch {
	return routeTestFillIdents(b, r, i, ts, false)
}

// routeTestFillIdents is routeTestFill that, with idents, gives each
// series an Ident as the remote write decoder does: a hash of its labels
// as sent.
func routeTestFillIdents(b *batch.Batch, r *rand.Rand, i int, ts int64, idents bool) *batch.Batch {
	type series struct {
		name string
		v    float64
		ls   []string
	}
	var all []series
	add := func(name string, v float64, ls ...string) { all = append(all, series{name, v, ls}) }
	for v := range 400 {
		if (i/10)%6 == v%6 && v%2 == 0 { // away for 10 pushes in 60
			continue
		}
		vid, model, region := fmt.Sprintf("V%02d", v), fmt.Sprintf("m%d", v%3), fmt.Sprintf("r%d", v%4)
		gw := fmt.Sprintf("gw%d", r.IntN(2))
		add("rpm", float64(r.IntN(3)*1000), "gw", gw, "model", model, "region", region, "vid", vid)
		add("odo_total", float64(i*10+v), "gw", gw, "model", model, "region", region, "vid", vid)
		if r.IntN(3) == 0 {
			add("warn", float64(r.IntN(4)), "model", model, "vid", vid)
		}
		if r.IntN(5) == 0 {
			add("junk_metric", 1, "vid", vid)
			add("other", 2, "vid", vid)
		}
	}
	r.Shuffle(len(all), func(x, y int) { all[x], all[y] = all[y], all[x] })
	for _, s := range all {
		b.StartSeries()
		b.AddLabel(batch.MetricName, s.name)
		for j := 0; j < len(s.ls); j += 2 {
			b.AddLabel(s.ls[j], s.ls[j+1])
		}
		if idents {
			b.SetIdent(batch.IdentOf([]byte(s.name + "\xff" + strings.Join(s.ls, "\xff"))))
		}
		b.AddSample(ts, s.v)
		b.FinishSeries()
	}
	return b
}

// Three aggregations that let the pipeline take series by Ident
// (identRoutable): a count of series, a counter whose baselines two input
// series share once relabeling drops their gateway label, and one group
// per vehicle that overflows and forgets groups, grouped without labels
// so that its key differs between the labels as sent and as relabeled.
const identTestAggregations = `
- {name: by_region, match: rpm, interval: 1s, by: [region], outputs: [sum_samples, count_series, max], lateness: 2s}
- {name: distance, match: odo_total, interval: 1s, without: [vid], outputs: [increase, rate_sum], lateness: 2s}
- {name: per_vehicle, match: '{__name__=~"rpm|warn"}', interval: 1s, without: [model, region], outputs: [last], lateness: 2s,
   max_output_series: 40, staleness_interval: 2s}
`

// routeTestRun ingests 120 pushes of routeTestFillIdents, 250 ms apart
// from *now on, into p, whose clock reads *now, and flushes all. It
// returns what s received and the samples dropped by relabeling and as
// unmatched.
func routeTestRun(t *testing.T, p *Pipeline, s *sink, dropped *prometheus.CounterVec, now *time.Time, in routeInput) ([]string, float64, float64) {
	t.Helper()
	start := *now
	r := rand.New(rand.NewPCG(7, 8))
	undecoded := 0
	for i := range 120 {
		*now = start.Add(time.Duration(i) * 250 * time.Millisecond)
		b := routeTestFillIdents(&batch.Batch{}, r, i, now.UnixMilli(), in == syntheticIdents)
		if in == remoteWrite {
			b = viaRemoteWrite(t, b, p.IdentIndex())
			for _, s := range b.Series {
				if s.Wire != "" {
					undecoded++
				}
			}
		}
		if err := p.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		p.Flush(context.Background(), *now, false)
	}
	p.Flush(context.Background(), now.Add(time.Hour), true)
	if in == remoteWrite && p.cur.Load().routing != nil && undecoded == 0 {
		t.Error("the decoder decoded the labels of every series")
	}
	return s.take(), testutil.ToFloat64(dropped.WithLabelValues("relabel", "relabel_drop")),
		testutil.ToFloat64(dropped.WithLabelValues("route", "unmatched"))
}

// routeInput is how routeTestRun makes its batches.
type routeInput int

const (
	noIdents        routeInput = iota // as a decoder without Idents would
	syntheticIdents                   // with an Ident made from the labels as sent
	remoteWrite                       // encoded as remote write 1.0 and decoded with the pipeline's IdentIndex
)

func (in routeInput) String() string {
	return [...]string{"no idents", "idents", "remote write"}[in]
}

// viaRemoteWrite returns b as the remote write handler hands it to the
// pipeline: encoded as a request, decoded with index ix.
func viaRemoteWrite(t *testing.T, b *batch.Batch, ix batch.IdentIndex) *batch.Batch {
	t.Helper()
	out := &batch.Batch{}
	out.SetIdentIndex(ix)
	var res outcome.Result
	if err := promrw.Decode(encodeRemoteWrite(t, b), out, outcome.Limits{}, &res); err != nil || out.Len() != b.Len() {
		t.Fatalf("decoded %d of %d series: %v", out.Len(), b.Len(), err)
	}
	return out
}

// encodeRemoteWrite encodes b as a remote write 1.0 request body.
func encodeRemoteWrite(t *testing.T, b *batch.Batch) []byte {
	t.Helper()
	body, err := testenv.EncodeRemoteWrite(testenv.WriteRequestOf(b.Series))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// identTestPipeline is routeTestPipeline over identTestAggregations,
// without forwarding, so that it takes series by Ident.
func identTestPipeline(t *testing.T, lines int, s Sink, now func() time.Time) (*Pipeline, *prometheus.CounterVec, *RouteCacheMetrics) {
	t.Helper()
	dropped := telemetry.NewDroppedSamples(prometheus.NewRegistry())
	m := NewRouteCacheMetrics(nil)
	return New(Options{Relabel: routeTestRelabel(t), Aggregations: aggregations(t, identTestAggregations), Sinks: []Sink{s}, Dropped: dropped,
		Now: now, RouteCacheLines: lines, RouteCacheMetrics: m}), dropped, m
}

// A pipeline with a route cache emits and forwards exactly what one
// without emits and forwards, and counts the same drops: with room for
// every series, and with a cache too small for them (lines evicted all
// the time). So does one that looks series up by Ident before relabeling
// (identTestPipeline): series relabeling drops are dropped unseen, two
// input series that become one share their state, and a series not
// relabeled is relabeled when an aggregation needs its labels (a stale
// route, a new group after an overflow).
//
// Through the remote write decoder with the pipeline's IdentIndex, the
// labels of series the cache knows are not even decoded (batch
// Series.Wire); those an aggregation asks for are decoded then.
func TestRouteCacheKeepsOutputs(t *testing.T) {
	for _, in := range []routeInput{noIdents, syntheticIdents, remoteWrite} {
		t.Run(in.String(), func(t *testing.T) { checkRouteCacheKeepsOutputs(t, in) })
	}
}

func checkRouteCacheKeepsOutputs(t *testing.T, in routeInput) {
	idents := in != noIdents
	var m *RouteCacheMetrics
	run := func(lines int) ([]string, float64, float64) {
		now := time.UnixMilli(1_700_000_000_000)
		s := &sink{}
		clock := func() time.Time { return now }
		var p *Pipeline
		var dropped *prometheus.CounterVec
		if idents {
			p, dropped, m = identTestPipeline(t, lines, s, clock)
		} else {
			p, dropped = routeTestPipeline(t, 0, s, clock)
			m = NewRouteCacheMetrics(nil)
			p.EnableRouteCache(lines, m)
		}
		if r := p.cur.Load().routing; lines > 0 && (r == nil || r.byIdent != idents) {
			t.Fatalf("routing %+v", r)
		}
		return routeTestRun(t, p, s, dropped, &now, in)
	}
	want, wantRelabel, wantUnmatched := run(0)
	if len(want) == 0 || wantRelabel == 0 || wantUnmatched == 0 && idents {
		t.Fatal("the pipeline without a cache emitted or dropped nothing")
	}
	if testutil.ToFloat64(m.hits)+testutil.ToFloat64(m.misses) != 0 || testutil.ToFloat64(m.bytes) != 0 {
		t.Error("a pipeline without a cache counts lookups or bytes")
	}
	for _, lines := range []int{routecache.MinLines, 1 << 16} {
		t.Run(fmt.Sprintf("lines=%d", lines), func(t *testing.T) {
			got, relabelDrops, unmatched := run(lines)
			hits, misses := testutil.ToFloat64(m.hits), testutil.ToFloat64(m.misses)
			// Every series that passes the relabel (by Ident: every
			// series) is looked up once. With room for all, one misses
			// only at its first push and after it was away; without, often.
			if hits == 0 || misses == 0 || (lines > 1<<10) != (misses < hits/10) {
				t.Errorf("lookups: %g hits, %g misses", hits, misses)
			}
			// By Ident, every gateway of a vehicle has a key of its own:
			// a cache of 1,024 lines hits too little and turns off.
			wantBytes := 64 * lines
			if idents && lines == routecache.MinLines {
				wantBytes = 0
			}
			if b := testutil.ToFloat64(m.bytes); b != float64(wantBytes) {
				t.Errorf("route_cache_bytes %g, want %d", b, wantBytes)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("outputs differ from the pipeline without a cache:\n%s", diffOutputs(want, got))
			}
			if relabelDrops != wantRelabel || unmatched != wantUnmatched {
				t.Errorf("drops relabel %g unmatched %g, want %g and %g", relabelDrops, unmatched, wantRelabel, wantUnmatched)
			}
		})
	}
}

func diffOutputs(want, got []string) string {
	in := func(ls []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range ls {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var sb strings.Builder
	for _, l := range want {
		if !g[l] {
			fmt.Fprintf(&sb, "- %s\n", l)
		}
	}
	for _, l := range got {
		if !w[l] {
			fmt.Fprintf(&sb, "+ %s\n", l)
		}
	}
	return sb.String()
}

// Only the first routecache.Columns routable aggregations get a column;
// one with input_relabel_configs gets none, and a pipeline whose
// aggregations are all like it has no cache.
func TestRoutingColumns(t *testing.T) {
	aggs := aggregations(t, routeTestAggregations)
	r := newRouting(Stages{Aggregations: aggs}, 1)
	if r == nil || r.cache.Lines() != routecache.MinLines {
		t.Fatalf("routing %+v", r)
	}
	if want := []int{0, 1, 2, 3, -1, -1, -1}; fmt.Sprint(r.cols) != fmt.Sprint(want) {
		t.Errorf("columns %v, want %v", r.cols, want)
	}
	if newRouting(Stages{Aggregations: aggs}, 0) != nil {
		t.Error("a cache of 0 lines")
	}
	if r := newRouting(Stages{Aggregations: aggs[5:6]}, 1<<10); r != nil {
		t.Errorf("a cache for an aggregation with input_relabel_configs only: %+v", r)
	}
}

// Series are taken by Ident only where nothing but the routes depends on
// their labels.
func TestIdentRoutable(t *testing.T) {
	three := aggregations(t, identTestAggregations)
	table := newReferenceTable(t, "registry", "key: [vid]\nadd: [model]\n", "vid,model\nV1,Aurora\n")
	for name, tc := range map[string]struct {
		s    Stages
		want bool
	}{
		"three aggregations":                 {Stages{Aggregations: three}, true},
		"forward_unmatched":                  {Stages{Aggregations: three, ForwardUnmatched: true}, false},
		"enrichment":                         {Stages{Aggregations: three, Enrich: []*enrich.Enricher{table.Enricher}}, false},
		"keep_input, input_relabel, columns": {Stages{Aggregations: aggregations(t, routeTestAggregations)}, false},
		"keep_input":                         {Stages{Aggregations: aggregations(t, routeTestAggregations)[4:5]}, false},
		"as many aggregations as columns":    {Stages{Aggregations: aggregations(t, routeTestAggregations)[:4]}, false},
	} {
		if got := identRoutable(tc.s); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

// The key is taken after enrichment: when a reference table changes what
// it adds, a series seen before goes to the group of its new labels.
func TestRouteCacheFollowsEnrichment(t *testing.T) {
	table := newReferenceTable(t, "registry", "key: [vid]\nadd: [model]\n", "vid,model\nV1,Aurora\n")
	aggs := aggregations(t, `[{name: per_model, match: rpm, interval: 1m, by: [model], outputs: [count_samples]}]`)
	s := &sink{}
	p := New(Options{Enrich: []*enrich.Enricher{table.Enricher}, Aggregations: aggs, Sinks: []Sink{s}, RouteCacheLines: 1 << 10})
	ts := time.Now().Truncate(time.Minute).UnixMilli()
	for range 2 {
		if err := p.Ingest(context.Background(), input(ts, `rpm{vid="V1"}`)); err != nil {
			t.Fatal(err)
		}
	}
	table.rewrite(t, "vid,model\nV1,Borealis\n")
	if err := p.Ingest(context.Background(), input(ts, `rpm{vid="V1"}`)); err != nil {
		t.Fatal(err)
	}
	end := ts + time.Minute.Milliseconds()
	p.Flush(context.Background(), time.UnixMilli(end).Add(aggregate.DefaultLateness+time.Second), false)
	want := []string{
		fmt.Sprintf(`rpm:1m_by_model_count_samples{model="Aurora"} 2 @%d`, end),
		fmt.Sprintf(`rpm:1m_by_model_count_samples{model="Borealis"} 1 @%d`, end),
	}
	if got := s.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Steady-state ingest with a route cache does not allocate.
func TestRoutedIngestDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	now := time.UnixMilli(1_700_000_000_000)
	byLabels, _ := routeTestPipeline(t, 1<<12, &discardSink{}, func() time.Time { return now })
	byIdent, _, _ := identTestPipeline(t, 1<<12, &discardSink{}, func() time.Time { return now })
	t.Run("by labels", func(t *testing.T) { checkIngestAllocs(t, byLabels, now, noIdents) })
	t.Run("by Ident", func(t *testing.T) { checkIngestAllocs(t, byIdent, now, syntheticIdents) })
	t.Run("remote write", func(t *testing.T) { checkIngestAllocs(t, byIdent, now, remoteWrite) })
}

// checkIngestAllocs fails when ingesting the same request again allocates.
func checkIngestAllocs(t *testing.T, p *Pipeline, now time.Time, in routeInput) {
	r := rand.New(rand.NewPCG(1, 1))
	input := routeTestFillIdents(&batch.Batch{}, r, 0, now.UnixMilli(), in == syntheticIdents)
	var body []byte
	if in == remoteWrite {
		body = encodeRemoteWrite(t, input)
	}
	b := &batch.Batch{}
	var res outcome.Result // the handler's is pooled
	refill := func() {
		b.Reset()
		if in == remoteWrite {
			b.SetIdentIndex(p.IdentIndex())
			if err := promrw.Decode(body, b, outcome.Limits{}, &res); err != nil {
				t.Fatal(err)
			}
			return
		}
		for _, s := range input.Series {
			b.StartSeries()
			for _, l := range s.Labels {
				b.AddLabel(l.Name, l.Value)
			}
			b.AddSample(s.Samples[0].Timestamp, s.Samples[0].Value)
			b.SetIdent(s.Ident)
			b.FinishSeries()
		}
	}
	for range 3 {
		refill()
		if err := p.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(50, func() {
		refill()
		if err := p.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per ingest", allocs)
	}
}

// A cache that most lookups miss (many more series than lines) is
// dropped and not used for routeOffFor, then tried again.
func TestRouteCacheTurnsOffWhenItDoesNotPay(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	aggs := aggregations(t, `[{name: a, match: x, interval: 1m, by: [id], outputs: [count_samples]}]`)
	m := NewRouteCacheMetrics(nil)
	p := New(Options{Aggregations: aggs, Sinks: []Sink{&sink{}}, Now: func() time.Time { return now }})
	p.EnableRouteCache(routecache.MinLines, m)
	if testutil.ToFloat64(m.active) != 1 || testutil.ToFloat64(m.bytes) != 64*routecache.MinLines {
		t.Fatal("the cache is not on")
	}
	next := 0
	push := func() {
		b := &batch.Batch{}
		for range 3000 { // new series every time: nothing hits
			b.AppendSeries([]batch.Label{{Name: "__name__", Value: "x"}, {Name: "id", Value: fmt.Sprint(next)}}, []batch.Sample{{Timestamp: now.UnixMilli(), Value: 1}})
			next++
		}
		if err := p.Ingest(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	lookups := func() float64 { return testutil.ToFloat64(m.hits) + testutil.ToFloat64(m.misses) }
	push()
	if testutil.ToFloat64(m.active) != 1 {
		t.Fatal("off before a period of lookups ended")
	}
	push() // 6000 lookups: past the period of 4 per line
	if testutil.ToFloat64(m.active) != 0 || testutil.ToFloat64(m.bytes) != 0 {
		t.Fatal("the cache stayed on")
	}
	before := lookups()
	push()
	if lookups() != before {
		t.Error("the cache was used while off")
	}
	now = now.Add(routeOffFor + time.Second)
	push()
	if testutil.ToFloat64(m.active) != 1 || lookups() != before+3000 {
		t.Error("the cache did not come back after its time off")
	}
}
