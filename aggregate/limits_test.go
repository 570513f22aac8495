package aggregate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/value"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/telemetry"
)

func intp(n int) *int { return &n }

// stateSize counts what the shards hold, for checking it against the
// budget.
type stateSize struct {
	groups, overflow, counters, counted, tableSlots int
}

func (a *Aggregator) stateSize() stateSize {
	var s stateSize
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		for _, g := range sh.groups {
			switch {
			case g.lref == 0:
			case g.overflow():
				s.overflow++
			default:
				s.groups++
			}
		}
		s.counters += sh.counters.len()
		s.counted += sh.counted.len()
		s.tableSlots += len(sh.counters.slots) + len(sh.counted.slots)
		sh.mu.Unlock()
	}
	return s
}

// checkBudget checks that the state is within the limits and that the
// budget counts what the shards hold.
func checkBudget(t *testing.T, a *Aggregator, maxGroups, maxSeries int) stateSize {
	t.Helper()
	s := a.stateSize()
	if s.groups > maxGroups || s.counters > maxSeries || s.counted > maxSeries {
		t.Fatalf("state %+v beyond max_output_series %d, max_input_series %d", s, maxGroups, maxSeries)
	}
	if int64(s.groups) != a.nGroups.Load() || int64(s.overflow) != a.nOverflow.Load() ||
		int64(s.counters) != a.nCounters.Load() || int64(s.counted) != a.nCounted.Load() {
		t.Fatalf("state %+v, budget counts groups %d overflow %d counters %d counted %d", s,
			a.nGroups.Load(), a.nOverflow.Load(), a.nCounters.Load(), a.nCounted.Load())
	}
	return s
}

// Offering far more distinct series than the limits keeps the state at
// the limits, and every sample is still aggregated somewhere: the sum of
// the emitted count_samples is what was pushed.
func TestCardinalityExplosion(t *testing.T) {
	const maxGroups, maxSeries = 1000, 5000
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	a := mustNew(t, Config{Name: "x", Match: "m", Interval: model.Duration(10 * time.Second), By: []string{"id"},
		Outputs: []string{"count_samples", "count_series", "increase"}, MaxOutputSeries: intp(maxGroups), MaxInputSeries: intp(maxSeries),
	}, Options{Metrics: m})
	const rounds, perRound = 20, 10_000
	b := &batch.Batch{}
	out := &batch.Batch{}
	var counted float64
	emitted := 0
	collect := func() { // stale markers of forgotten groups are not outputs
		n := 0
		for i := range out.Series {
			v := out.Series[i].Samples[0].Value
			if value.IsStaleNaN(v) {
				continue
			}
			n++
			if batch.Get(out.Series[i].Labels, batch.MetricName) == "m:10s_by_id_count_samples" {
				counted += v
			}
		}
		emitted = max(emitted, n)
	}
	maxSlots := 0
	for r := range rounds {
		b.Reset()
		now := int64(r) * 10_000
		for i := range perRound { // 10,000 new series and groups per round
			id := strconv.Itoa(r*perRound + i)
			b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: id}},
				[]batch.Sample{{Timestamp: now + 1, Value: 1}, {Timestamp: now + 2, Value: 2}})
		}
		a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(now+10))
		s := checkBudget(t, a, maxGroups, maxSeries)
		if s.overflow != 1 {
			t.Fatalf("round %d: %d overflow groups, want 1", r, s.overflow)
		}
		maxSlots = max(maxSlots, s.tableSlots)
		out.Reset()
		a.Flush(time.UnixMilli(now+15_000), false, out)
		collect()
	}
	out.Reset()
	a.Flush(time.UnixMilli(rounds*10_000+time.Hour.Milliseconds()), true, out)
	collect()
	if want := float64(2 * rounds * perRound); counted != want {
		t.Errorf("emitted count_samples sum to %v, want %v", counted, want)
	}
	if emitted > 3*(maxGroups+1) {
		t.Errorf("a flush emitted %d series, more than 3 × (max_output_series + 1)", emitted)
	}
	if limit := 2 * int(maxSeries/tableMaxLoad*1.5+tableMinCap); maxSlots > limit {
		t.Errorf("per-series tables grew to %d slots, want <= %d", maxSlots, limit)
	}
	// Groups are forgotten 20s (staleness_interval) after their round, so
	// each round gets at most max_output_series groups of its own.
	if got, want := metricValue(t, m.rejected.WithLabelValues("x", reasonOutputSeriesLimit)), float64(2*rounds*(perRound-maxGroups)); got < want {
		t.Errorf("rejected{output_series_limit} = %v, want >= %v", got, want)
	}
	if got := metricValue(t, m.rejected.WithLabelValues("x", reasonInputSeriesLimit)); got == 0 {
		t.Error("rejected{input_series_limit} = 0")
	}
	if got, want := metricValue(t, m.input.WithLabelValues("x")), float64(2*rounds*perRound); got != want {
		t.Errorf("input_samples_total = %v, want %v", got, want)
	}
}

// Overflow groups are bounded too: beyond maxOverflowGroups metric names
// the samples are dropped and counted.
func TestOverflowGroupsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	dropped := telemetry.NewDroppedSamples(reg)
	a := mustNew(t, Config{Name: "o", Interval: model.Duration(time.Second), Outputs: []string{"count_samples"},
		MaxOutputSeries: intp(1)}, Options{Metrics: m, Dropped: dropped})
	const metrics = maxOverflowGroups + 100
	b := &batch.Batch{}
	for i := range metrics {
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m" + strconv.Itoa(i)}}, []batch.Sample{{Timestamp: 1, Value: 1}})
	}
	a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(1))
	s := checkBudget(t, a, 1, DefaultMaxInputSeries)
	if s.groups != 1 || s.overflow != maxOverflowGroups {
		t.Errorf("%d groups and %d overflow groups, want 1 and %d", s.groups, s.overflow, maxOverflowGroups)
	}
	if got := metricValue(t, dropped.WithLabelValues(telemetry.StageAggregate, reasonOutputSeriesLimit)); got != 99 {
		t.Errorf("dropped{output_series_limit} = %v, want 99", got)
	}
	if got := metricValue(t, m.rejected.WithLabelValues("o", reasonOutputSeriesLimit)); got != metrics-1 {
		t.Errorf("rejected{output_series_limit} = %v, want %d", got, metrics-1)
	}
	if got := metricValue(t, m.input.WithLabelValues("o")); got != maxOverflowGroups+1 {
		t.Errorf("input_samples_total = %v, want %d", got, maxOverflowGroups+1)
	}
	out := &batch.Batch{}
	a.Flush(time.UnixMilli(10_000), false, out)
	if len(out.Series) != maxOverflowGroups+1 {
		t.Errorf("emitted %d series, want %d", len(out.Series), maxOverflowGroups+1)
	}
	overflowed := 0
	for i := range out.Series {
		if batch.Get(out.Series[i].Labels, OverflowLabel) == "true" {
			overflowed++
		}
	}
	if overflowed != maxOverflowGroups {
		t.Errorf("%d overflow series emitted, want %d", overflowed, maxOverflowGroups)
	}
}

// Pushers racing for the last groups and input series of the budget never
// exceed it, and the budget's counts match the state.
func TestConcurrentBudget(t *testing.T) {
	const maxGroups, maxSeries = 50, 120
	a := mustNew(t, Config{Name: "c", Match: "m", Interval: model.Duration(time.Second), By: []string{"g"},
		Outputs: []string{"count_series", "increase"}, MaxOutputSeries: intp(maxGroups), MaxInputSeries: intp(maxSeries),
		StalenessInterval: dur(time.Second)}, Options{})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			b := &batch.Batch{}
			for r := range 50 {
				b.Reset()
				now := int64(r) * 500
				for i := range 40 {
					id := strconv.Itoa((p*40 + i + r*7) % 300) // groups and series come and go
					b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "g", Value: id}, {Name: "p", Value: strconv.Itoa(p)}},
						[]batch.Sample{{Timestamp: now, Value: float64(r)}})
				}
				a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(now))
				if p == 0 {
					a.Flush(time.UnixMilli(now), false, &batch.Batch{})
				}
			}
		})
	}
	wg.Wait()
	checkBudget(t, a, maxGroups, maxSeries)
	// The first flush emits the open windows, the second forgets the
	// groups (a forced one would not: it forgets no group).
	a.Flush(time.UnixMilli(time.Hour.Milliseconds()), true, &batch.Batch{})
	a.Flush(time.UnixMilli(2*time.Hour.Milliseconds()), false, &batch.Batch{})
	if s := checkBudget(t, a, maxGroups, maxSeries); s.groups+s.overflow+s.counters+s.counted != 0 {
		t.Errorf("after forgetting everything: %+v", s)
	}
}

// FlushEach hands over the same outputs as Flush in parts of at most max
// series plus the outputs of one group: with one worker in the same
// order, with several in any order within a window but every window
// after the one before.
func TestFlushEach(t *testing.T) {
	cfg := Config{Name: "e", Match: "m", Interval: model.Duration(time.Second), By: []string{"id"},
		Outputs: []string{"sum_samples", "quantiles(0.5, 0.9)"}, Lateness: dur(0)}
	b := &batch.Batch{}
	for i := range 500 {
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: strconv.Itoa(i)}},
			[]batch.Sample{{Timestamp: 100, Value: float64(i)}, {Timestamp: 1100, Value: float64(i)}})
	}
	whole := mustNew(t, cfg, Options{})
	whole.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(900))
	wantBatch := &batch.Batch{}
	whole.Flush(time.UnixMilli(3000), false, wantBatch)
	var want []string
	for i := range wantBatch.Series {
		want = append(want, fmt.Sprintf("%s %v", formatSeries(&wantBatch.Series[i]), wantBatch.Series[i].Samples))
	}
	if len(want) != 2*500*3 {
		t.Fatalf("Flush gave %d series, want %d", len(want), 2*500*3)
	}
	const maxSeries, perGroup = 7, 3
	for _, workers := range []int{1, 4} {
		parts := mustNew(t, cfg, Options{})
		parts.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(900))
		var mu sync.Mutex
		var got []string
		var stamps []int64 // in the order parts arrived
		calls := 0
		parts.FlushEach(time.UnixMilli(3000), false, maxSeries, workers, func(p *batch.Batch) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if len(p.Series) == 0 || len(p.Series) >= maxSeries+perGroup {
				t.Errorf("workers %d: part of %d series", workers, len(p.Series))
			}
			for i := range p.Series {
				got = append(got, fmt.Sprintf("%s %v", formatSeries(&p.Series[i]), p.Series[i].Samples))
				stamps = append(stamps, p.Series[i].Samples[0].Timestamp)
			}
		})
		if !slices.IsSorted(stamps) {
			t.Errorf("workers %d: a part of a later window came before one of an earlier window", workers)
		}
		if workers == 1 {
			if !slices.Equal(got, want) {
				t.Errorf("workers 1: FlushEach differs from Flush (order included)")
			}
		} else {
			g, w := slices.Clone(got), slices.Clone(want)
			slices.Sort(g)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("workers %d: FlushEach gave %d series, not the %d of Flush", workers, len(got), len(want))
			}
		}
		if calls < len(got)/(maxSeries+perGroup) {
			t.Errorf("workers %d: %d calls for %d series", workers, calls, len(got))
		}
	}
}

// A shard whose label arena is full creates no more groups: their series
// are counted as over the group limit (in their metric's overflow group
// while it fits, dropped beyond), nothing panics, and the groups that
// exist keep their labels.
func TestFullLabelArena(t *testing.T) {
	defer func(n int) { maxArenaBytes = n }(maxArenaBytes)
	maxArenaBytes = 4096
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	a := mustNew(t, Config{Name: "full", Interval: model.Duration(time.Second), By: []string{"id"}, Outputs: []string{"count_samples"}},
		Options{Metrics: m, Dropped: telemetry.NewDroppedSamples(reg)})
	const n = 5000
	pad := strings.Repeat("v", 200)
	b := &batch.Batch{}
	for i := range n {
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: strconv.Itoa(i) + pad}},
			[]batch.Sample{{Timestamp: 1, Value: 1}})
	}
	a.Push(b, make([]uint8, n), time.UnixMilli(1))
	s := checkBudget(t, a, DefaultMaxOutputSeries, DefaultMaxInputSeries)
	// The first maxValuesPerName ids are interned: their groups take a
	// few bytes of arena each.
	if s.groups == 0 || s.groups > numShards*(4096/200)+maxValuesPerName {
		t.Fatalf("%d groups in %d arenas of 4096 bytes for 200-byte labels", s.groups, numShards)
	}
	for i := range a.shards {
		if l := len(a.shards[i].labels.b); l > maxArenaBytes {
			t.Fatalf("shard %d: arena of %d bytes, beyond %d", i, l, maxArenaBytes)
		}
	}
	if got := metricValue(t, m.rejected.WithLabelValues("full", reasonOutputSeriesLimit)); got != float64(n-s.groups) {
		t.Errorf("rejected{output_series_limit} = %v, want %d (%d series, %d groups)", got, n-s.groups, n, s.groups)
	}
	out := &batch.Batch{}
	a.Flush(time.UnixMilli(10_000), false, out)
	plain := 0
	for i := range out.Series {
		if batch.Get(out.Series[i].Labels, OverflowLabel) == "" {
			if id := batch.Get(out.Series[i].Labels, "id"); !strings.HasSuffix(id, pad) {
				t.Fatalf("emitted id %q, not one pushed", id)
			}
			plain++
		}
	}
	if plain != s.groups {
		t.Errorf("emitted %d groups' series, want %d", plain, s.groups)
	}
}

// Compacting a label arena keeps every live group's labels and drops the
// dead entries' bytes.
func TestCompactLabelsKeepsLiveGroups(t *testing.T) {
	a := mustNew(t, Config{Name: "c", Interval: model.Duration(time.Second), By: []string{"id"}, Outputs: []string{"count_samples"}}, Options{})
	pad := strings.Repeat("v", 100)
	b := &batch.Batch{}
	for i := range 3000 {
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: strconv.Itoa(i) + pad}},
			[]batch.Sample{{Timestamp: 1, Value: 1}})
	}
	a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(1))
	for i := range a.shards {
		sh := &a.shards[i]
		want := map[uint32]string{} // live group id → its labels
		for gid := range sh.groups {
			if gid%3 == 0 {
				a.releaseGroup(false)
				sh.removeGroup(uint32(gid))
				continue
			}
			want[uint32(gid)] = strings.Clone(batch.String(unpacked(a, sh, uint32(gid))))
		}
		before, dead := len(sh.labels.b), sh.labels.dead
		sh.compactLabels()
		if got := len(sh.labels.b); got != before-dead || sh.labels.dead != 0 {
			t.Fatalf("shard %d: %d arena bytes after compaction (dead %d), want %d", i, got, sh.labels.dead, before-dead)
		}
		for gid, w := range want {
			if got := batch.String(unpacked(a, sh, gid)); got != w {
				t.Fatalf("shard %d group %d: labels %s after compaction, want %s", i, gid, got, w)
			}
		}
	}
}

func unpacked(a *Aggregator, sh *shard, gid uint32) []batch.Label {
	ls, _, _ := a.syms.unpack(sh.labels.get(sh.groups[gid].lref), nil)
	return ls
}
