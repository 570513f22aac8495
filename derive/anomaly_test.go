package derive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
)

const minute = 60_000

// refScore computes the score of xs[k] against xs[:k] from the definition:
// the exponentially weighted mean and variance of xs[:k], with weight
// (1-α)^(k-1) on xs[0] and α(1-α)^(k-1-i) on xs[i] for i ≥ 1 (weights
// summing to 1), not by the incremental update the Deriver uses.
func refScore(xs []float64, k int, alpha float64) (score float64, ok bool) {
	w := make([]float64, k)
	for i := range k {
		if i == 0 {
			w[i] = math.Pow(1-alpha, float64(k-1))
		} else {
			w[i] = alpha * math.Pow(1-alpha, float64(k-1-i))
		}
	}
	mean := 0.0
	for i := range k {
		mean += w[i] * xs[i]
	}
	variance := 0.0
	for i := range k {
		variance += w[i] * (xs[i] - mean) * (xs[i] - mean)
	}
	if variance <= 1e-12 {
		return 0, false
	}
	return (xs[k] - mean) / math.Sqrt(variance), true
}

func anomalyConfig(alpha float64, minHistory int, forget model.Duration) Config {
	return Config{
		Record:  "ratio:score",
		Expr:    `sum by (title) (errors) / on (title) views`,
		Anomaly: &Anomaly{Alpha: &alpha, MinHistory: &minHistory, Forget: &forget},
	}
}

// observeRatio observes one window of the ratio inputs at ts: title=value.
func observeRatio(t testing.TB, d *Deriver, ts int64, ratios map[string]float64) {
	t.Helper()
	var lines []string
	for title, r := range ratios {
		lines = append(lines, fmt.Sprintf(`views{title=%q} 1000`, title), fmt.Sprintf(`errors{title=%q, code="500"} %v`, title, r*1000))
	}
	d.Observe(input(t, ts, lines...))
}

// scores runs Evaluate and returns the scores by title, then instant.
func scores(t testing.TB, d *Deriver) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := d.Evaluate(context.Background(), func(b *batch.Batch) error {
		for _, s := range b.Series {
			if s.Get(batch.MetricName) != "ratio:score" {
				continue
			}
			out[s.Get("title")] = append(out[s.Get("title")], fmt.Sprintf("%d:%.9g", s.Samples[0].Timestamp/minute, s.Samples[0].Value))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnomalyScoreSequence(t *testing.T) {
	const alpha, minHistory, n = 0.3, 5, 40
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 0.05 + 0.01*rng.NormFloat64()
		if i == 30 {
			xs[i] = 0.2 // an incident
		}
	}
	var want []string
	for k := minHistory; k < n; k++ {
		if s, ok := refScore(xs, k, alpha); ok {
			want = append(want, fmt.Sprintf("%d:%.9g", k+1, s))
		}
	}

	d := mustNew(t, Options{}, anomalyConfig(alpha, minHistory, model.Duration(24*3600e9)))
	var got []string
	// Instants one per Evaluate, then several per Evaluate: the same.
	for k := range n {
		observeRatio(t, d, int64(k+1)*minute, map[string]float64{"a": xs[k]})
		if k < n/2 || k%5 == 4 || k == n-1 {
			got = append(got, scores(t, d)["a"]...)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d scores, want %d:\n got  %q\n want %q", len(got), len(want), got, want)
	}
	for i := range got {
		g, _ := strconv.ParseFloat(got[i][len("00:"):], 64)
		w, _ := strconv.ParseFloat(want[i][len("00:"):], 64)
		if got[i][:3] != want[i][:3] || math.Abs(g-w) > 1e-6*math.Max(1, math.Abs(w)) {
			t.Errorf("score %d: got %s, want %s", i, got[i], want[i])
		}
	}
	if s := got[30-minHistory]; s[:3] != "31:" || !(mustFloat(s[3:]) > 5) {
		t.Errorf("the incident at window 31 scored %s, want > 5", s)
	}
}

func mustFloat(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return v
}

// New, sparse and constant series stay quiet; a series is scored from its
// min_history-th value on.
func TestAnomalyQuietPeriod(t *testing.T) {
	d := mustNew(t, Options{}, anomalyConfig(0.5, 3, model.Duration(3600e9)))
	got := map[string][]string{}
	for k := int64(1); k <= 8; k++ {
		in := map[string]float64{"dense": float64(k % 3), "constant": 0.5}
		if k%2 == 0 {
			in["sparse"] = float64(k)
		}
		observeRatio(t, d, k*minute, in)
		for title, s := range scores(t, d) {
			got[title] = append(got[title], s...)
		}
	}
	// dense: 1 2 0 1 2 0 1 2 → history of 3 values from window 4 on.
	// sparse: 2 4 6 8 → its 4th value (window 8) is the first with 3 before.
	first := map[string]string{"dense": "4:", "sparse": "8:"}
	for title, prefix := range first {
		if len(got[title]) == 0 || got[title][0][:2] != prefix {
			t.Errorf("%s: scores %q, want the first at window %s", title, got[title], prefix)
		}
	}
	if len(got["dense"]) != 5 || len(got["sparse"]) != 1 {
		t.Errorf("dense %q, sparse %q: want 5 and 1 scores", got["dense"], got["sparse"])
	}
	if len(got["constant"]) != 0 {
		t.Errorf("constant series scored (variance 0): %q", got["constant"])
	}
}

func TestAnomalyForget(t *testing.T) {
	m := NewMetrics(nil)
	d := mustNew(t, Options{Metrics: m}, anomalyConfig(0.5, 2, model.Duration(5*60e9)))
	gauge := func() float64 { return testutil.ToFloat64(m.anomaly.WithLabelValues("ratio:score")) }
	for k := int64(1); k <= 4; k++ {
		observeRatio(t, d, k*minute, map[string]float64{"back_in_time": float64(k), "too_late": float64(k)})
		scores(t, d)
	}
	// Absent from 5 to 8: back after 5 minutes exactly is remembered ...
	observeRatio(t, d, 9*minute, map[string]float64{"back_in_time": 10, "other": 1})
	if s := scores(t, d); len(s["back_in_time"]) != 1 {
		t.Errorf("back after 5m (forget 5m): scores %q, want one", s)
	}
	// ... after more than 5 minutes it starts over: quiet for min_history.
	observeRatio(t, d, 10*minute, map[string]float64{"too_late": 10, "other": 2})
	if s := scores(t, d); len(s["too_late"]) != 0 {
		t.Errorf("back after 6m (forget 5m): scores %q, want none", s)
	}
	observeRatio(t, d, 11*minute, map[string]float64{"too_late": 11})
	observeRatio(t, d, 12*minute, map[string]float64{"too_late": 13})
	if s := scores(t, d); len(s["too_late"]) != 1 || s["too_late"][0][:3] != "12:" {
		t.Errorf("a new history: scores %q, want one at window 12", s)
	}
	// Series absent for longer than forget are swept from memory.
	if g := gauge(); g != 3 {
		t.Errorf("anomaly_series = %v, want 3 (back_in_time, too_late, other)", g)
	}
	observeRatio(t, d, 30*minute, map[string]float64{"other": 3})
	scores(t, d)
	if g := gauge(); g != 1 {
		t.Errorf("anomaly_series = %v after 18m, want 1", g)
	}
}

func TestAnomalySeriesLimit(t *testing.T) {
	m := NewMetrics(nil)
	cfg2 := anomalyConfig(0.5, 1, model.Duration(5*60e9))
	cfg2.Record, cfg2.Expr = "other:score", "views"
	d := mustNew(t, Options{Metrics: m, MaxAnomalySeries: 3}, anomalyConfig(0.5, 1, model.Duration(5*60e9)), cfg2)
	observeRatio(t, d, minute, map[string]float64{"a": 1, "b": 2})
	scores(t, d) // ratio:score tracks a and b; other:score tracks a and not b
	if got := testutil.ToFloat64(m.dropped.WithLabelValues(reasonAnomalySeriesLimit)); got != 1 {
		t.Errorf("dropped{anomaly_series_limit} = %v, want 1", got)
	}
	if d.anomalySeries != 3 {
		t.Errorf("tracked %d, want 3", d.anomalySeries)
	}
	// Once forgotten, the room is free again.
	observeRatio(t, d, 20*minute, map[string]float64{"c": 1})
	scores(t, d)
	if d.anomalySeries != 2 {
		t.Errorf("tracked %d after forget, want 2 (c twice)", d.anomalySeries)
	}
}

// Results that are not finite are neither scored nor folded in; a result
// not after a series' last is counted and skipped.
func TestAnomalyNaNAndOutOfOrder(t *testing.T) {
	m := NewMetrics(nil)
	d := mustNew(t, Options{Metrics: m}, anomalyConfig(0.5, 2, model.Duration(3600e9)))
	for k, v := range []float64{1, 2, 3} {
		observeRatio(t, d, int64(k+1)*minute, map[string]float64{"a": v})
	}
	scores(t, d)
	// views 0: 0/0 is NaN.
	d.Observe(input(t, 4*minute, `views{title="a"} 0`, `errors{title="a", code="500"} 0`))
	if s := scores(t, d); len(s) != 0 {
		t.Errorf("NaN scored: %q", s)
	}
	observeRatio(t, d, 2*minute, map[string]float64{"a": 5})
	if s := scores(t, d); len(s) != 0 {
		t.Errorf("out of order scored: %q", s)
	}
	if got := testutil.ToFloat64(m.dropped.WithLabelValues(reasonAnomalyOutOfOrder)); got != 1 {
		t.Errorf("dropped{anomaly_out_of_order} = %v, want 1", got)
	}
	// The history is as after 1, 2, 3: mean 2.25, variance 0.6875.
	observeRatio(t, d, 5*minute, map[string]float64{"a": 4})
	if s := scores(t, d)["a"]; len(s) != 1 || s[0] != fmt.Sprintf("5:%.9g", (4-2.25)/math.Sqrt(0.6875)) {
		t.Errorf("score after NaN and out-of-order: %q", s)
	}
}

// A later record reads an anomaly record's scores.
func TestAnomalyChained(t *testing.T) {
	d := mustNew(t, Options{}, anomalyConfig(0.5, 2, model.Duration(3600e9)),
		Config{Record: "ratio:alarm", Expr: `ratio:score > 3`})
	var alarms []string
	for k, v := range []float64{1, 2, 1, 2, 10} {
		observeRatio(t, d, int64(k+1)*minute, map[string]float64{"a": v})
		for _, line := range evaluate(t, d) {
			if line[:len("ratio:alarm")] == "ratio:alarm" {
				alarms = append(alarms, line)
			}
		}
	}
	if len(alarms) != 1 || alarms[0][len(alarms[0])-len("@300000"):] != "@300000" {
		t.Errorf("alarms %q, want one at window 5", alarms)
	}
}

// runWindows observes and evaluates windows from..to (one title per
// window and a second one every third) and returns the output lines.
func runWindows(t *testing.T, d *Deriver, from, to int64) []string {
	var out []string
	for k := from; k <= to; k++ {
		in := map[string]float64{"a": 0.05 + 0.01*math.Sin(float64(k))}
		if k%3 == 0 {
			in["b"] = float64(k % 7)
		}
		observeRatio(t, d, k*minute, in)
		out = append(out, evaluate(t, d)...)
	}
	return out
}

func TestStateRoundTrip(t *testing.T) {
	cfgs := []Config{
		{Record: "plain", Expr: "views"},
		anomalyConfig(0.2, 3, model.Duration(3600e9)),
	}
	a := mustNew(t, Options{}, cfgs...)
	runWindows(t, a, 1, 20)
	state := a.AppendState([]byte("prefix"))
	if !bytes.HasPrefix(state, []byte("prefix")) {
		t.Fatal("AppendState did not append")
	}
	state = state[len("prefix"):]

	// A restarted or reloaded Deriver with the same records continues
	// exactly.
	m := NewMetrics(nil)
	b := mustNew(t, Options{Metrics: m}, cfgs...)
	if err := b.RestoreState(state); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.anomaly.WithLabelValues("ratio:score")); got != 2 {
		t.Errorf("anomaly_series after restore = %v, want 2", got)
	}
	if again := b.AppendState(nil); !bytes.Equal(again, state) {
		t.Error("the restored state encodes differently")
	}
	wantOut := runWindows(t, a, 21, 30)
	if got := runWindows(t, b, 21, 30); !slices.Equal(got, wantOut) {
		t.Errorf("after restore:\n got  %q\n want %q", got, wantOut)
	}

	// min_history and forget do not change what the history means: kept.
	kept := anomalyConfig(0.2, 5, model.Duration(7200e9))
	c := mustNew(t, Options{}, kept)
	if err := c.RestoreState(state); err != nil || len(c.records[0].anomaly.series) != 2 {
		t.Errorf("min_history/forget changed: %v, %d series restored, want 2", err, len(c.records[0].anomaly.series))
	}

	// A changed record (alpha, expr, labels) starts fresh; so does a
	// record of another name.
	changed := []Config{anomalyConfig(0.3, 3, model.Duration(3600e9)), anomalyConfig(0.2, 3, model.Duration(3600e9)), anomalyConfig(0.2, 3, model.Duration(3600e9)), anomalyConfig(0.2, 3, model.Duration(3600e9))}
	changed[1].Expr = `sum by (title) (errors) / on (title) views * 2`
	changed[2].Labels = map[string]string{"team": "video"}
	changed[3].Record = "renamed"
	for i, cfg := range changed {
		e := mustNew(t, Options{}, cfg)
		if err := e.RestoreState(state); err != nil {
			t.Fatal(err)
		}
		if n := len(e.records[0].anomaly.series); n != 0 {
			t.Errorf("changed record %d: %d series restored, want none", i, n)
		}
	}

	// Restored series count against the limit.
	f := mustNew(t, Options{MaxAnomalySeries: 1}, cfgs...)
	if err := f.RestoreState(state); err != nil || f.anomalySeries != 1 {
		t.Errorf("limit 1: %v, %d series", err, f.anomalySeries)
	}
}

func TestStateDamaged(t *testing.T) {
	cfgs := []Config{anomalyConfig(0.2, 3, model.Duration(3600e9))}
	a := mustNew(t, Options{}, cfgs...)
	runWindows(t, a, 1, 10)
	state := a.AppendState(nil)

	d := mustNew(t, Options{}, cfgs...)
	check := func(name string, data []byte) {
		t.Helper()
		err := d.RestoreState(data)
		if !errors.Is(err, errDamaged) {
			t.Errorf("%s: RestoreState = %v, want a damaged-state error", name, err)
		}
		if d.anomalySeries != 0 || len(d.records[0].anomaly.series) != 0 {
			t.Fatalf("%s: a failed restore changed the state", name)
		}
	}
	for n := range len(state) {
		check(fmt.Sprintf("cut to %d bytes", n), state[:n])
	}
	for i := range len(state) {
		bad := slices.Clone(state)
		bad[i] ^= 0x10
		check(fmt.Sprintf("bit flipped in byte %d", i), bad)
	}
	// Structurally wrong payloads with a valid checksum.
	seal := func(body []byte) []byte {
		return binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
	}
	body := state[:len(state)-4]
	check("version 2", seal(append([]byte{2}, body[1:]...)))
	check("trailing bytes", seal(append(slices.Clone(body), 0)))
	check("huge record count", seal(binary.AppendUvarint([]byte{stateVersion}, 1<<60)))
	check("huge series count", seal(append(append(appendString([]byte{stateVersion, 1}, "ratio:score"), make([]byte, 32)...), 0xff, 0xff, 0xff, 0xff, 0x0f)))
	rec := append(appendString([]byte{stateVersion, 1}, "ratio:score"), cfgsFingerprint(d)...)
	series := func(key string, n uint64, mean, variance float64) []byte {
		p := binary.AppendUvarint(slices.Clone(rec), 1)
		p = appendString(p, key)
		p = binary.AppendUvarint(p, n)
		p = binary.AppendVarint(p, minute)
		p = binary.LittleEndian.AppendUint64(p, math.Float64bits(mean))
		return binary.LittleEndian.AppendUint64(p, math.Float64bits(variance))
	}
	goodKey := string(appendString(appendString(nil, "title"), "a"))
	if err := d.RestoreState(seal(series(goodKey, 3, 1, 0.5))); err != nil || d.anomalySeries != 1 {
		t.Fatalf("a well-formed handmade state: %v, %d series", err, d.anomalySeries)
	}
	d = mustNew(t, Options{}, cfgs...)
	check("odd key", seal(series(string(appendString(nil, "title")), 3, 1, 0.5)))
	check("key cut short", seal(series("\x05ab", 3, 1, 0.5)))
	check("no history", seal(series(goodKey, 0, 1, 0.5)))
	check("NaN mean", seal(series(goodKey, 3, math.NaN(), 0.5)))
	check("negative variance", seal(series(goodKey, 3, 1, -1)))
	check("infinite variance", seal(series(goodKey, 3, 1, math.Inf(1))))
	dup := append(appendString([]byte{stateVersion, 2}, "ratio:score"), cfgsFingerprint(d)...)
	dup = append(dup, 0)
	dup = append(appendString(dup, "ratio:score"), cfgsFingerprint(d)...)
	check("record twice", seal(append(dup, 0)))
}

func cfgsFingerprint(d *Deriver) []byte { return d.records[0].fp[:] }

func FuzzRestoreState(f *testing.F) {
	cfgs := []Config{anomalyConfig(0.2, 3, model.Duration(3600e9))}
	a := mustNew(f, Options{}, cfgs...)
	for k := int64(1); k <= 5; k++ {
		observeRatio(f, a, k*minute, map[string]float64{"a": float64(k), "b": 1 / float64(k)})
		scores(f, a)
	}
	f.Add(a.AppendState(nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := mustNew(t, Options{}, cfgs...)
		if err := d.RestoreState(data); err != nil {
			return
		}
		// Whatever restored must round-trip.
		again := d.AppendState(nil)
		e := mustNew(t, Options{}, cfgs...)
		if err := e.RestoreState(again); err != nil {
			t.Fatalf("a state written by AppendState does not restore: %v", err)
		}
	})
}
