package e2e

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// rollupConfig chains a 1 s aggregation per room and sensor into a 5 s
// one per room, which consumes every upstream output series, dropping the
// quantile label. A series carries only the state of its own upstream
// output (package aggregate, "Rollups"), so each downstream output is
// exact over the series that represents it (rollupSource).
const rollupConfig = `
server:
  listen_address: %ADDR%
aggregations:
  - name: per_sensor
    match: temp
    interval: 1s
    by: [room, sensor]
    outputs: [avg, count_samples, min, max, first, last, stddev, increase, total, "quantiles(0, 0.5, 1)"]
    lateness: 1s
    staleness_interval: 1m
  - name: per_room
    match: '{__name__=~"temp:1s_by_room_sensor_[a-z_]+"}'
    interval: 5s
    by: [room]
    outputs: [avg, count_samples, sum_samples, min, max, first, last, stddev, stdvar, increase, total, "quantiles(0, 0.5, 1)"]
    lateness: 1s
    staleness_interval: 1m
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`

// TestRollupExact pushes raw gauge-and-counter samples (counter resets,
// several sensors per room, one late sample) through a 1s -> 5s chain and
// requires what Prometheus stores for the 5 s windows to equal a
// reference the test computes from the raw samples it sent: every output
// within 1e-9 relative, quantiles 0 and 1 exact and 0.5 within the
// sketch's 1.08%.
func TestRollupExact(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, rollupConfig, prom.RemoteWriteURL())

	const interval = 5 * time.Second
	// Two 5 s windows starting at the next boundary but one, so the push
	// (event time ahead of the clock, within max_future_skew) comes first.
	a := time.Now().Truncate(interval).Add(2 * interval)
	rng := rand.New(rand.NewPCG(uint64(a.UnixMilli()), 1))
	var raw []sample
	vals := map[string]float64{}
	used := map[string]bool{} // room/ms: no ties between sensors of a room
	for range 120 {
		room, sensor := "r"+strconv.Itoa(rng.IntN(2)), strconv.Itoa(rng.IntN(3))
		ts := a.Add(time.Duration(rng.Int64N(int64(2*interval/time.Millisecond))) * time.Millisecond)
		if used[room+ts.String()] {
			continue
		}
		used[room+ts.String()] = true
		raw = append(raw, sample{series: fmt.Sprintf(`temp{room=%q,sensor=%q}`, room, sensor), ts: ts})
	}
	// Values grow per series in time order, with resets now and then.
	sort.SliceStable(raw, func(i, j int) bool { return raw[i].ts.Before(raw[j].ts) })
	for i := range raw {
		v := vals[raw[i].series] + float64(rng.IntN(40))/4
		if rng.IntN(10) == 0 {
			v = float64(rng.IntN(3))
		}
		vals[raw[i].series], raw[i].value = v, v
	}
	// In time order: the order within a series decides counter deltas.
	if code, msg := post(t, pm.writeURL(), encodeWrite(t, raw...), nil); code != 204 {
		t.Fatalf("push: status %d: %s", code, msg)
	}
	// A late sample: its 1 s window and its 5 s window were emitted.
	waitUntil(a.Add(interval + 2500*time.Millisecond))
	late := sample{`temp{room="r0",sensor="0"}`, a.Add(100 * time.Millisecond), 1e6}
	if code, msg := post(t, pm.writeURL(), encodeWrite(t, late), nil); code != 204 {
		t.Fatalf("late push: status %d: %s", code, msg)
	}

	want := rollupReference(raw, a, interval)
	waitUntil(a.Add(2*interval + 2*time.Second))
	got := map[string]float64{}
	eventually(t, 15*time.Second, "both 5 s windows in Prometheus", func() bool {
		clear(got)
		for _, s := range prom.RawSamples(t, `{__name__=~"temp:1s_by_room_sensor_.+:5s_by_room_.+"}`, a.Add(-time.Minute), a.Add(time.Minute)) {
			up, name, _ := strings.Cut(s.Labels["__name__"][len("temp:1s_by_room_sensor_"):], ":5s_by_room_")
			if src := rollupSource[name]; up != src && (src != "" || up != name) {
				continue // not exact: the output over another upstream output's series
			}
			for _, p := range s.Points {
				got[rollupKey(name, s.Labels["room"], s.Labels["quantile"], p.Timestamp)] = p.Value
			}
		}
		return len(got) >= len(want)
	})
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		w := want[k]
		g, ok := got[k]
		tol := 1e-9 * max(1, math.Abs(w))
		if strings.HasPrefix(k, "quantiles{") && strings.Contains(k, ",0.5}") { // within the sketch's relative error
			tol = 0.0109 * math.Abs(w)
		}
		switch {
		case !ok:
			t.Errorf("Prometheus lacks %s (reference %g)", k, w)
		case math.Abs(g-w) > tol:
			t.Errorf("%s = %g, reference %g", k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s = %g", k, g)
		}
	}
	if code := pm.proc.Stop(t, 20*time.Second); code != 0 {
		t.Errorf("premetrics exited with %d after SIGTERM, want 0\n%s", code, pm.proc.Output())
	}
}

// rollupSource names the upstream output whose series a downstream
// output is exact over where that is not the output itself: the count
// unit (the downstream needs Welford moments) over stddev, total over
// increase.
var rollupSource = map[string]string{"sum_samples": "stddev", "count_samples": "stddev", "avg": "stddev",
	"stdvar": "stddev", "total": "increase"}

func rollupKey(output, room, quantile string, end time.Time) string {
	if quantile != "" {
		return fmt.Sprintf("quantiles{%s,%s} @%d", room, quantile, end.UnixMilli())
	}
	return fmt.Sprintf("%s{%s} @%d", output, room, end.UnixMilli())
}

// rollupReference computes the outputs of per_room from the raw samples
// (sorted by time) by the aggregation semantics, for the windows
// [a, a+interval) and [a+interval, a+2·interval): population stddev and
// stdvar, counter increase with per-series baselines and resets, total as
// the running sum of increase, quantile φ as the sample of rank
// ⌊φ·(n−1)⌋.
func rollupReference(raw []sample, a time.Time, interval time.Duration) map[string]float64 {
	out := map[string]float64{}
	prev := map[string]float64{} // counter baseline per series
	total := map[string]float64{}
	for w := range 2 {
		start := a.Add(time.Duration(w) * interval)
		end := start.Add(interval)
		byRoom := map[string][]sample{}
		inc := map[string]float64{}
		for _, s := range raw {
			if s.ts.Before(start) || !s.ts.Before(end) {
				continue
			}
			room := s.series[len(`temp{room="`):][:2]
			byRoom[room] = append(byRoom[room], s)
			if p, ok := prev[s.series]; ok {
				d := s.value - p
				if s.value < p {
					d = s.value
				}
				inc[room] += d
			}
			prev[s.series] = s.value
		}
		for room, ss := range byRoom {
			var sum float64
			vs := make([]float64, len(ss))
			for i, s := range ss {
				sum += s.value
				vs[i] = s.value
			}
			n := float64(len(ss))
			mean := sum / n
			var m2 float64
			for _, v := range vs {
				m2 += (v - mean) * (v - mean)
			}
			slices.Sort(vs)
			total[room] += inc[room]
			for name, v := range map[string]float64{
				"avg": mean, "count_samples": n, "sum_samples": sum, "min": vs[0], "max": vs[len(vs)-1],
				"first": ss[0].value, "last": ss[len(ss)-1].value, "stdvar": m2 / n, "stddev": math.Sqrt(m2 / n),
				"increase": inc[room], "total": total[room],
			} {
				out[rollupKey(name, room, "", end)] = v
			}
			for _, phi := range []float64{0, 0.5, 1} {
				out[rollupKey("quantiles", room, strconv.FormatFloat(phi, 'g', -1, 64), end)] = vs[int(phi*(n-1))]
			}
		}
	}
	return out
}
