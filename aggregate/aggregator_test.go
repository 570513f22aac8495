package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
)

func mustNew(t *testing.T, cfg Config, opts Options) *Aggregator {
	t.Helper()
	a, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Push must not keep the batch's strings: labels that alias a reused
// buffer (as decoders produce) are overwritten after Push, and the
// outputs must still carry the original values.
func TestPushClonesLabels(t *testing.T) {
	a := mustNew(t, Config{Name: "c", Match: "m", Interval: model.Duration(time.Second), By: []string{"region"}, Outputs: []string{"count_samples"}}, Options{})
	buf := []byte("m" + "region" + "eu")
	str := func(i, j int) string { return unsafe.String(&buf[i], j-i) }
	b := &batch.Batch{}
	b.StartSeries()
	b.AddLabel(batch.MetricName, str(0, 1))
	b.AddLabel(str(1, 7), str(7, 9))
	b.AddSample(100, 1)
	b.FinishSeries()
	a.Push(b, make([]uint8, 1), time.UnixMilli(500))
	copy(buf, "xXXXXXXyy")
	b.Reset()

	out := &batch.Batch{}
	a.Flush(time.UnixMilli(10_000), false, out)
	if len(out.Series) != 1 {
		t.Fatalf("got %d series, want 1", len(out.Series))
	}
	if got, want := batch.String(out.Series[0].Labels), `m:1s_by_region_count_samples{region="eu"}`; got != want {
		t.Errorf("output labels %s, want %s", got, want)
	}
}

func TestPushMarks(t *testing.T) {
	for _, keep := range []bool{false, true} {
		a := mustNew(t, Config{Name: "m", Match: "m > 5", Interval: model.Duration(time.Second), Outputs: []string{"sum_samples"}, KeepInput: keep}, Options{})
		b := &batch.Batch{}
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, nil)                                      // no samples
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, []batch.Sample{{Timestamp: 1, Value: 1}}) // fails the comparison
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "n"}}, []batch.Sample{{Timestamp: 1, Value: 9}})
		marks := []uint8{0, MarkKept, 0} // marks of an earlier aggregation stay
		a.Push(b, marks, time.UnixMilli(1))
		want := MarkConsumed
		if keep {
			want = MarkKept
		}
		if marks[0] != want || marks[1] != want|MarkKept || marks[2] != 0 {
			t.Errorf("keep_input=%v: marks %v, want [%d %d 0]", keep, marks, want, want|MarkKept)
		}
	}
}

func TestNextFlush(t *testing.T) {
	a := mustNew(t, Config{Name: "n", Match: "m", Interval: model.Duration(time.Minute), Outputs: []string{"avg"}, Lateness: dur(5 * time.Second)}, Options{})
	for _, tc := range []struct{ now, want int64 }{
		{0, 5_000},
		{4_999, 5_000},
		{5_000, 65_000}, // the window closing at 5s is due now; the next one later
		{64_999, 65_000},
		{-1, 5_000},
		{-60_000, -55_000}, // the window ending at -60s closes at -55s
	} {
		if got := a.NextFlush(time.UnixMilli(tc.now)).UnixMilli(); got != tc.want {
			t.Errorf("NextFlush(%d) = %d, want %d", tc.now, got, tc.want)
		}
	}
	// Sub-millisecond wall times round down like Flush does.
	if got := a.NextFlush(time.UnixMilli(5_000).Add(500 * time.Microsecond)).UnixMilli(); got != 65_000 {
		t.Errorf("NextFlush(5000.5ms) = %d, want 65000", got)
	}
}

func TestWindowStart(t *testing.T) {
	for _, tc := range []struct{ ts, want int64 }{
		{0, 0}, {999, 0}, {1000, 1000}, {-1, -1000}, {-1000, -1000}, {-1001, -2000},
	} {
		if got := windowStart(tc.ts, 1000); got != tc.want {
			t.Errorf("windowStart(%d) = %d, want %d", tc.ts, got, tc.want)
		}
	}
}

// Extreme timestamps are rejected without overflowing the window math.
func TestExtremeTimestamps(t *testing.T) {
	a := mustNew(t, Config{Name: "x", Match: "m", Interval: model.Duration(time.Hour), Outputs: []string{"count_samples"}}, Options{})
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, []batch.Sample{
		{Timestamp: math.MinInt64, Value: 1}, {Timestamp: math.MaxInt64, Value: 1}, {Timestamp: 0, Value: 1},
	})
	a.Push(b, make([]uint8, 1), time.UnixMilli(1_000_000))
	out := &batch.Batch{}
	a.Flush(time.UnixMilli(math.MaxInt64/2), true, out)
	if len(out.Series) != 1 || out.Series[0].Samples[0].Value != 1 {
		t.Fatalf("got %v, want one window with count 1", out.Series)
	}
}

// After a burst of groups and input series is forgotten, the shards
// release their storage: group ids are compacted and the per-series
// tables shrink.
func TestStateShrinksAfterBurst(t *testing.T) {
	a := mustNew(t, Config{Name: "f", Match: "m", Interval: model.Duration(time.Second), By: []string{"id"},
		Outputs: []string{"count_samples", "increase", "count_series"}, Lateness: dur(0), StalenessInterval: dur(time.Second)}, Options{})
	const n = 100_000
	pad := strings.Repeat("x", 40) // labels enough for every shard's arena to compact
	b := &batch.Batch{}
	for i := range n {
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: strconv.Itoa(i) + pad}},
			[]batch.Sample{{Timestamp: 500, Value: 1}})
	}
	a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(500))
	size := func() (ids, groups, tables, arena int) {
		for i := range a.shards {
			sh := &a.shards[i]
			ids += len(sh.groups)
			groups += sh.nGroups
			tables += len(sh.counters.slots) + len(sh.counted.slots)
			arena += cap(sh.labels.b)
		}
		return ids, groups, tables, arena
	}
	if _, groups, tables, _ := size(); groups != n || tables < 2*n {
		t.Fatalf("after the burst: %d groups, %d table slots; want %d and >= %d", groups, tables, n, 2*n)
	}
	out := &batch.Batch{}
	a.Flush(time.UnixMilli(1_000), false, out) // emits; groups still alive
	if len(out.Series) != 3*n {
		t.Fatalf("emitted %d, want %d", len(out.Series), 3*n)
	}
	emitted := out.Series
	out = &batch.Batch{}
	a.Flush(time.UnixMilli(10_000), false, out) // everything forgotten
	if ids, groups, tables, arena := size(); groups != 0 || ids > numShards*compactMinGroups || tables > numShards*2*tableMinCap || arena > numShards*arenaCompactMin {
		t.Errorf("after forgetting: %d groups in %d ids, %d table slots, %d arena bytes; want 0, <= %d, <= %d, <= %d",
			groups, ids, tables, arena, numShards*compactMinGroups, numShards*2*tableMinCap, numShards*arenaCompactMin)
	}
	// Labels emitted before still read as they did: compaction wrote a
	// new arena and left the old bytes alone.
	seen := make(map[string]bool, n)
	for _, s := range emitted {
		id := s.Get("id")
		if !strings.HasSuffix(id, pad) {
			t.Fatalf("emitted label id=%q changed after compaction", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("emitted %d distinct ids, want %d", len(seen), n)
	}
	if got := a.nGroups.Load() + a.nCounters.Load() + a.nCounted.Load(); got != 0 {
		t.Errorf("budget still counts %d entries", got)
	}
}

func TestMetricsForget(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	a := mustNew(t, Config{Name: "gone", Match: "m", Interval: model.Duration(time.Second), Outputs: []string{"count_samples"}}, Options{Metrics: m})
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}}, []batch.Sample{{Timestamp: 1, Value: 1}, {Timestamp: 1e12, Value: 1}})
	a.Push(b, make([]uint8, 1), time.UnixMilli(1))
	count := func() int {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, mf := range mfs {
			n += len(mf.GetMetric())
		}
		return n
	}
	if count() == 0 {
		t.Fatal("no metrics before Forget")
	}
	m.Forget("gone")
	if n := count(); n != 0 {
		t.Errorf("%d metrics left after Forget", n)
	}
}

// Compacting a shard's group storage keeps the groups that still have
// open windows, inline and extra slots alike, with their state.
func TestCompactionKeepsLiveGroups(t *testing.T) {
	a := mustNew(t, Config{Name: "k", Match: "m", Interval: model.Duration(time.Second), By: []string{"id"},
		Outputs:  []string{"sum_samples", "total", "quantiles(0.5)", "unique_samples", "rate_sum"},
		Lateness: dur(10 * time.Second), StalenessInterval: dur(time.Second)}, Options{})
	b := &batch.Batch{}
	for i := range 40_000 { // a burst, in window 0 only
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: "b" + strconv.Itoa(i)}},
			[]batch.Sample{{Timestamp: 100, Value: 1}})
	}
	a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(500))
	b.Reset()
	const keepers, windows = 10, 6 // 6 open windows: 4 inline slots and 2 extra
	for i := range keepers {
		var samples []batch.Sample
		for w := range windows {
			samples = append(samples, batch.Sample{Timestamp: int64(w)*1000 + 100, Value: float64(10 * w)})
		}
		b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: "k" + strconv.Itoa(i)}}, samples)
	}
	a.Push(b, make([]uint8, len(b.Series)), time.UnixMilli(5500))

	got := map[string]float64{}
	out := &batch.Batch{}
	for now := int64(11_000); now <= 16_000; now += 1000 { // window w is due at w*1000 + 11s
		out.Reset()
		a.Flush(time.UnixMilli(now), false, out)
		for i := range out.Series {
			s := &out.Series[i]
			if id := batch.Get(s.Labels, "id"); id[0] == 'k' {
				k := fmt.Sprintf("%s %d", formatSeries(s), s.Samples[0].Timestamp)
				if _, dup := got[k]; dup {
					t.Errorf("emitted twice: %s", k)
				}
				got[k] = s.Samples[0].Value
			}
		}
		if now == 12_000 {
			ids := 0
			for i := range a.shards {
				ids += len(a.shards[i].groups)
			}
			if ids > numShards*compactMinGroups {
				t.Errorf("after the burst was forgotten: %d group ids, want <= %d", ids, numShards*compactMinGroups)
			}
		}
	}
	for i := range keepers {
		for w := range windows {
			end := int64(w+1) * 1000
			want := map[string]float64{
				"sum_samples":    float64(10 * w),
				"total":          float64(10 * w),
				"quantiles":      float64(10 * w),
				"unique_samples": 1,
			}
			if w > 0 {
				want["rate_sum"] = 10 // +10 over 1s
			}
			for out, v := range want {
				name := "m:1s_by_id_" + out
				labels := fmt.Sprintf(`{id="k%d"}`, i)
				if out == "quantiles" {
					labels = fmt.Sprintf(`{id="k%d",quantile="0.5"}`, i)
				}
				k := fmt.Sprintf("%s%s %d", name, labels, end)
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (emitted %v), want %v", k, g, ok, v)
				}
			}
		}
	}
}

// groupKey keeps __name__ plus the by labels, or all but the without
// labels; names of the same length or first byte as a grouping label are
// not mistaken for it.
func TestGroupKey(t *testing.T) {
	ls := []batch.Label{
		{Name: "_", Value: "u"}, {Name: "__name__", Value: "m"}, {Name: "empty", Value: ""},
		{Name: "engine", Value: "ic"}, {Name: "model", Value: "s"}, {Name: "r", Value: "1"},
		{Name: "regioN", Value: "x"}, {Name: "region", Value: "eu"}, {Name: "regions", Value: "y"},
		{Name: "vehicle_id", Value: "V1"},
	}
	for _, tc := range []struct {
		by, without []string
		labels      []batch.Label
		want        string
	}{
		{want: `m{}`},
		{by: []string{"region", "engine"}, want: `m{engine="ic", region="eu"}`},
		{by: []string{"r", "empty", "absent"}, want: `m{r="1"}`},
		{by: []string{"__name__", "_"}, want: `m{_="u"}`},
		{without: []string{"vehicle_id"}, want: `m{_="u", engine="ic", model="s", r="1", regioN="x", region="eu", regions="y"}`},
		{without: []string{"region", "model", "_", "r"}, want: `m{engine="ic", regioN="x", regions="y", vehicle_id="V1"}`},
		{by: []string{"region"}, labels: []batch.Label{{Name: "a", Value: "1"}, {Name: "region", Value: "eu"}}, want: `{region="eu"}`},
	} {
		cfg := Config{Name: "k", Interval: model.Duration(time.Second), Outputs: []string{"last"}, By: tc.by, Without: tc.without}
		a := mustNew(t, cfg, Options{})
		in := ls
		if tc.labels != nil {
			in = tc.labels
		}
		key := a.groupKey(in, nil)
		if got := batch.String(key); got != tc.want {
			t.Errorf("by %v without %v: got %s, want %s", tc.by, tc.without, got, tc.want)
		}
		if n := batch.Get(key, batch.MetricName); n == "" && tc.labels == nil {
			t.Errorf("by %v without %v: no __name__ in %v", tc.by, tc.without, key)
		}
	}
}

// groupHashOf hashes exactly what groupHash(groupKey) hashes, for random
// label sets with and without __name__, empty values and names sorting
// before and after it, under every grouping: a difference would put the
// series of one group in two, and groups restored from a checkpoint (whose
// hashes come from their keys) apart from their live input.
func TestGroupHashOfEqualsKeyHash(t *testing.T) {
	names := []string{"A", "_", "__a", "__name__", "__z", "a", "engine", "model", "region", "vehicle_id", "z"}
	values := []string{"", "x", "eu", "V123", "\xff"}
	rng := rand.New(rand.NewPCG(1, 2))
	groupings := []struct{ by, without []string }{
		{},
		{by: []string{"region", "engine"}},
		{by: []string{"A", "z", "__a"}},
		{by: []string{"__name__", "absent"}},
		{without: []string{"vehicle_id"}},
		{without: []string{"__z", "a", "model"}},
	}
	for gi, g := range groupings {
		cfg := Config{Name: "k", Interval: model.Duration(time.Second), Outputs: []string{"last"}, By: g.by, Without: g.without}
		a := mustNew(t, cfg, Options{})
		var buf []byte
		for range 2000 {
			var ls []batch.Label
			for _, n := range names {
				if rng.IntN(2) == 0 {
					ls = append(ls, batch.Label{Name: n, Value: values[rng.IntN(len(values))]})
				}
			}
			want, _ := a.groupHash(a.groupKey(ls, nil), nil)
			var got ghash
			got, buf = a.groupHashOf(ls, buf)
			if got != want {
				t.Fatalf("grouping %d, labels %v: groupHashOf %x, groupHash of the key %x", gi, ls, got, want)
			}
		}
	}
}
