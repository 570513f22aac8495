package aggregate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
)

// routeKeeper plays the route cache: it keeps every series' Route
// between pushes, by labels.
type routeKeeper map[string]Route

func (rk routeKeeper) push(a *Aggregator, b *batch.Batch, now time.Time) []uint8 {
	return rk.pushFrom(a, b, now, nil)
}

// pushFrom is push that hands PushRouted a copy of b in which every
// series has labels no aggregation would accept, and src for the real
// ones (src == nil: b itself).
func (rk routeKeeper) pushFrom(a *Aggregator, b *batch.Batch, now time.Time, src *hiddenLabels) []uint8 {
	hashes := make([]uint64, len(b.Series))
	routes := make([]Route, len(b.Series))
	for i := range b.Series {
		hashes[i] = batch.Hash(b.Series[i].Labels)
		routes[i] = rk[batch.String(b.Series[i].Labels)]
	}
	marks := make([]uint8, len(b.Series))
	if src == nil {
		a.PushRouted(b, marks, now, hashes, routes, nil)
	} else {
		src.b = b
		hidden := &batch.Batch{}
		for i := range b.Series {
			hidden.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "hidden"}}, b.Series[i].Samples)
		}
		a.PushRouted(hidden, marks, now, hashes, routes, src)
		src.series += len(b.Series)
	}
	for i := range b.Series {
		rk[batch.String(b.Series[i].Labels)] = routes[i]
	}
	return marks
}

// hiddenLabels is the LabelSource of pushFrom: b's labels, counted.
type hiddenLabels struct {
	b             *batch.Batch
	asked, series int
}

func (h *hiddenLabels) FinalLabels(i int) []batch.Label {
	h.asked++
	return h.b.Series[i].Labels
}

// PushRouted with the routes of earlier pushes emits exactly what Push
// emits, for every kind of state (checkpointConfigs), also while groups
// are forgotten and their ids reused (a short staleness_interval over
// hosts that come and go) and compacted, and marks the same series. So
// does PushRouted given the labels through a LabelSource only, which it
// asks for fewer series than it pushes: a series with a valid route goes
// to its group without its labels.
func TestPushRoutedEqualsPush(t *testing.T) {
	cfgs := checkpointConfigs()
	churn := Config{Name: "churn", Match: "g", Interval: model.Duration(time.Second), By: []string{"host"},
		Outputs: []string{"sum_samples", "count_samples", "last"}, Lateness: dur(0), StalenessInterval: dur(time.Second)}
	cfgs = append(cfgs, churn)
	for _, cfg := range cfgs {
		for seed := range uint64(3) {
			t.Run(fmt.Sprintf("%s/seed=%d", cfg.Name, seed), func(t *testing.T) {
				plain, routed, lazy := mustNew(t, cfg, Options{}), mustNew(t, cfg, Options{}), mustNew(t, cfg, Options{})
				pushes := churnEvents(seed)
				rk, lazyRk := routeKeeper{}, routeKeeper{}
				src := &hiddenLabels{}
				var want, got, gotLazy batch.Batch
				reused := 0
				for i, evs := range pushes {
					now := time.UnixMilli(int64(i) * 100)
					b := &batch.Batch{}
					for _, e := range evs {
						b.AppendSeries(e.labels, []batch.Sample{{Timestamp: e.ts, Value: e.v}})
					}
					wantMarks := make([]uint8, len(b.Series))
					plain.Push(b, wantMarks, now)
					if gotMarks := rk.push(routed, b, now); !slices.Equal(gotMarks, wantMarks) {
						t.Fatalf("push %d: marks %v, want %v", i, gotMarks, wantMarks)
					}
					if gotMarks := lazyRk.pushFrom(lazy, b, now, src); !slices.Equal(gotMarks, wantMarks) {
						t.Fatalf("push %d with a LabelSource: marks %v, want %v", i, gotMarks, wantMarks)
					}
					if i%5 == 4 {
						plain.Flush(now, false, &want)
						routed.Flush(now, false, &got)
						lazy.Flush(now, false, &gotLazy)
					}
					for s := range routed.shards {
						reused += len(routed.shards[s].freeGids)
					}
				}
				if w, g := formatOutputs(&want), formatOutputs(&got); !slices.Equal(w, g) {
					t.Fatalf("outputs differ:\n%s", diffLines(w, g))
				}
				if w, g := formatOutputs(&want), formatOutputs(&gotLazy); !slices.Equal(w, g) {
					t.Fatalf("outputs with a LabelSource differ:\n%s", diffLines(w, g))
				}
				if src.asked == 0 || src.asked >= src.series {
					t.Fatalf("the LabelSource was asked for %d of %d series", src.asked, src.series)
				}
				if len(formatOutputs(&want)) == 0 {
					t.Fatal("nothing emitted")
				}
				routes := 0
				for _, r := range rk {
					if r != 0 && r != routeNotMatched {
						routes++
					}
				}
				if routes == 0 {
					t.Fatal("no series got a group route")
				}
				if cfg.Name == "churn" && reused == 0 {
					t.Fatal("no group was forgotten: the test does not exercise stale routes")
				}
			})
		}
	}
}

// churnEvents is checkpointEvents with hosts that pause for seconds at a
// time, so that groups by host are forgotten and come back.
func churnEvents(seed uint64) [][]event {
	r := rand.New(rand.NewPCG(seed, 2))
	pushes := checkpointEvents(seed)
	for i, evs := range pushes {
		wall := int64(i) * 100
		kept := evs[:0]
		for _, e := range evs {
			host := batch.Get(e.labels, "host")
			// Host hN is away during the N-th second of every 8 (and
			// sometimes at random).
			if (wall/1000)%8 == int64(host[1]-'0') || r.IntN(10) == 0 {
				continue
			}
			kept = append(kept, e)
		}
		pushes[i] = kept
	}
	return pushes
}

// A route to a forgotten group whose id went to another group is stale:
// the series gets a group of its own again instead of adding to the other
// one. Without the shard epoch, a's second sample would be summed into b.
func TestStaleRouteDoesNotReachReusedGroup(t *testing.T) {
	cfg := Config{Name: "s", Match: "m", Interval: model.Duration(time.Second), By: []string{"id"},
		Outputs: []string{"sum_samples"}, Lateness: dur(0), StalenessInterval: dur(time.Second)}
	a := mustNew(t, cfg, Options{})
	series := func(id string) []batch.Label {
		return []batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: id}}
	}
	shardOf := func(id string) uint64 {
		gh, _ := a.groupHashOf(series(id), nil)
		return gh.h % numShards
	}
	other := "" // an id whose group lands in a's shard, to take a's freed id
	for i := 0; other == ""; i++ {
		if id := fmt.Sprintf("b%d", i); shardOf(id) == shardOf("a") {
			other = id
		}
	}
	rk := routeKeeper{}
	push := func(id string, ts int64, v float64) {
		b := &batch.Batch{}
		b.AppendSeries(series(id), []batch.Sample{{Timestamp: ts, Value: v}})
		rk.push(a, b, time.UnixMilli(ts))
	}
	var out batch.Batch
	push("a", 500, 1)
	a.Flush(time.UnixMilli(1000), false, &out) // emits a's window
	a.Flush(time.UnixMilli(3000), false, &out) // forgets a
	push(other, 3500, 10)                      // takes a's group id
	push("a", 3600, 1)                         // with a's old route
	out.Reset()
	a.Flush(time.UnixMilli(4000), false, &out)
	got := formatOutputs(&out)
	want := []string{
		`m:1s_by_id_sum_samples{id="a"} 4000 1`,
		`m:1s_by_id_sum_samples{id="` + other + `"} 4000 10`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// Routable is false with input_relabel_configs, and PushRouted then
// leaves the routes it is given alone.
func TestPushRoutedIgnoresRoutesWithInputRelabel(t *testing.T) {
	cfg := Config{Name: "r", Match: "m", Interval: model.Duration(time.Second), Outputs: []string{"sum_samples"}, Lateness: dur(0)}
	plain := mustNew(t, cfg, Options{})
	if !plain.Routable() {
		t.Fatal("an aggregation without input_relabel_configs is not Routable")
	}
	a := newCardTestCfg(t, cfg, `[{action: labeldrop, regex: host}]`, nil)
	if a.Routable() {
		t.Fatal("an aggregation with input_relabel_configs is Routable")
	}
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "host", Value: "h"}}, []batch.Sample{{Timestamp: 500, Value: 2}})
	routes := []Route{0}
	a.PushRouted(b, make([]uint8, 1), time.UnixMilli(500), []uint64{batch.Hash(b.Series[0].Labels)}, routes, nil)
	if routes[0] != 0 {
		t.Errorf("route %x set", uint64(routes[0]))
	}
	var out batch.Batch
	a.Flush(time.UnixMilli(1000), false, &out)
	if got := formatOutputs(&out); !slices.Equal(got, []string{"m:1s_sum_samples{} 1000 2"}) {
		t.Errorf("emitted %q", got)
	}
}
