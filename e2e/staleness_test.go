package e2e

import (
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestStalenessMarkerEndsTheSeries: once a series' inputs stop for
// staleness_interval, premetrics sends a staleness marker, and a real
// Prometheus ends the output series at once instead of returning its last
// value for the 5 minute lookback.
func TestStalenessMarkerEndsTheSeries(t *testing.T) {
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
aggregations:
  - name: g
    match: m
    interval: 1s
    by: [site]
    outputs: [max, "quantiles(0.5)"]
    lateness: 500ms
    staleness_interval: 2s
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`, dest.RemoteWriteURL())
	var last time.Time
	for i := range 20 {
		last = time.Now()
		if code, msg := post(t, pm.writeURL(), encodeWrite(t, sample{`m{site="a"}`, last, float64(i)}), nil); code != 204 {
			t.Fatalf("push: %d %s", code, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	lastEnd := time.UnixMilli((last.UnixMilli()/1000 + 1) * 1000)
	for _, q := range []string{`m:1s_by_site_max{site="a"}`, `m:1s_by_site_quantiles{site="a",quantile="0.5"}`} {
		eventually(t, 20*time.Second, q+" has a sample at the last window end", func() bool {
			res := dest.Query(t, q, lastEnd)
			return len(res) == 1
		})
		// The marker comes within staleness_interval + lateness + a flush
		// tick; after it the series is gone, well inside the lookback.
		eventually(t, 20*time.Second, q+" ended by a staleness marker", func() bool {
			return len(dest.Query(t, q, time.Time{})) == 0
		})
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_aggregate_staleness_markers_total{aggregation="g"}`); n != 2 {
		t.Errorf("staleness markers %g, want 2 (max and one quantile)", n)
	}
}
