package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestCardinalityBudgetOverflow: beyond max_output_series, new series go
// to their metric's overflow group, emitted like any other output and
// counted, so nothing is lost in silence and memory stays bounded.
func TestCardinalityBudgetOverflow(t *testing.T) {
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
aggregations:
  - name: per_device
    match: temp
    interval: 2s
    by: [device]
    outputs: [count_samples, sum_samples]
    lateness: 1s
    max_output_series: 3
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`, dest.RemoteWriteURL())
	now := time.Now()
	end := (now.UnixMilli()/2000 + 1) * 2000
	var samples []sample
	for d := range 10 {
		samples = append(samples, sample{fmt.Sprintf(`temp{device="d%d"}`, d), now, float64(d)})
	}
	// One request: three of the series get groups of their own (which
	// three depends on the group hash), the other seven the overflow group.
	if code, msg := post(t, pm.writeURL(), encodeWrite(t, samples...), nil); code != 204 {
		t.Fatalf("push: %d %s", code, msg)
	}
	var got []testenv.Series
	eventually(t, 20*time.Second, "the window in Prometheus", func() bool {
		got = dest.RawSamples(t, `temp:2s_by_device_count_samples`, now.Add(-time.Minute), time.Now())
		return len(got) == 4
	})
	total, overflow := 0.0, 0.0
	for _, s := range got {
		if len(s.Points) != 1 || s.Points[0].Timestamp.UnixMilli() != end {
			t.Errorf("%v: want one sample at the window end %d", s, end)
			continue
		}
		total += s.Points[0].Value
		if s.Labels["premetrics_overflow"] == "true" {
			if s.Labels["device"] != "" {
				t.Errorf("overflow series %v keeps a device label", s.Labels)
			}
			overflow = s.Points[0].Value
		}
	}
	if total != 10 || overflow != 7 {
		t.Errorf("counted %g samples, %g in the overflow group; want 10 and 7", total, overflow)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_aggregate_rejected_samples_total{aggregation="per_device",reason="output_series_limit"}`); n != 7 {
		t.Errorf("output_series_limit samples %g, want 7", n)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_dropped_samples_total{reason="output_series_limit",stage="aggregate"}`); n != 0 {
		t.Errorf("%g samples dropped; the overflow group takes them", n)
	}
}
