package e2e

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

const histogramConfig = `
server:
  listen_address: %ADDR%
aggregations:
  - name: latency
    match: lat
    interval: 5s
    by: [path]
    outputs: [histogram, count_samples]
    lateness: 1s
    keep_input: true                   # for latency_fine
  - name: latency_fine
    match: lat
    interval: 5s
    by: [path]
    outputs: ["histogram(5)"]
    lateness: 1s
    output_relabel_configs:
      - {source_labels: [__name__], target_label: __name__, replacement: lat_fine}
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`

// TestHistogramOutput pushes raw latencies and requires Prometheus (with
// native histograms on) to hold, for the window, native histograms whose
// histogram_count and histogram_sum are those of the raw samples, and
// whose histogram_quantile is within one bucket of the raw quantile: 9%
// at the default schema 3, 2.2% at schema 5.
func TestHistogramOutput(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{ExtraFlags: []string{"--enable-feature=native-histograms"}})
	pm := startPremetrics(t, histogramConfig, prom.RemoteWriteURL())

	const interval = 5 * time.Second
	a := time.Now().Truncate(interval).Add(2 * interval)
	rng := rand.New(rand.NewPCG(uint64(a.UnixMilli()), 3))
	vals := map[string][]float64{}
	var raw []sample
	for i := range 400 {
		path := []string{"/a", "/b"}[i%2]
		v := math.Exp(rng.NormFloat64()) * 100
		if path == "/b" {
			v *= 10
		}
		vals[path] = append(vals[path], v)
		raw = append(raw, sample{series: fmt.Sprintf(`lat{path=%q}`, path), ts: a.Add(time.Duration(i) * 10 * time.Millisecond), value: v})
	}
	if code, msg := post(t, pm.writeURL(), encodeWrite(t, raw...), nil); code != 204 {
		t.Fatalf("push: status %d: %s", code, msg)
	}
	end := a.Add(interval)
	waitUntil(end.Add(2 * time.Second))
	eventually(t, 15*time.Second, "the window's histograms in Prometheus", func() bool {
		return len(prom.Query(t, `histogram_count(lat:5s_by_path_histogram)`, end)) == 2 &&
			len(prom.Query(t, `histogram_count(lat_fine)`, end)) == 2
	})
	for path, vs := range vals {
		sorted := slices.Sorted(slices.Values(vs))
		sum := 0.0
		for _, v := range vs {
			sum += v
		}
		for _, h := range []struct {
			name  string
			width float64 // bucket growth factor
		}{{"lat:5s_by_path_histogram", math.Exp2(1.0 / 8)}, {"lat_fine", math.Exp2(1.0 / 32)}} {
			sel := fmt.Sprintf(`%s{path=%q}`, h.name, path)
			if got := one(t, prom, `histogram_count(`+sel+`)`, end); got != float64(len(vs)) {
				t.Errorf("histogram_count(%s) = %g, want %d", sel, got, len(vs))
			}
			if got := one(t, prom, `histogram_sum(`+sel+`)`, end); math.Abs(got-sum) > 1e-9*sum {
				t.Errorf("histogram_sum(%s) = %g, want %g", sel, got, sum)
			}
			for _, phi := range []float64{0.5, 0.9, 0.99} {
				want := sorted[int(math.Ceil(phi*float64(len(sorted))))-1]
				got := one(t, prom, fmt.Sprintf(`histogram_quantile(%g, %s)`, phi, sel), end)
				if got < want/h.width || got > want*h.width {
					t.Errorf("histogram_quantile(%g, %s) = %g, want %g within a factor %.4f (one bucket)", phi, sel, got, want, h.width)
				}
			}
		}
	}
	if code := pm.proc.Stop(t, 20*time.Second); code != 0 {
		t.Errorf("premetrics exited with %d after SIGTERM, want 0\n%s", code, pm.proc.Output())
	}
}

// one returns the single value of the instant query q at ts.
func one(t *testing.T, prom *testenv.Prometheus, q string, ts time.Time) float64 {
	t.Helper()
	res := prom.Query(t, q, ts)
	if len(res) != 1 {
		t.Fatalf("%s: %d results, want 1: %v", q, len(res), res)
	}
	return res[0].Value
}
