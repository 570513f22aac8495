package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestHAPairCountsOnce: two replicas of an HA pair send the same series,
// told apart only by a replica label; with the label dropped and a
// dedup_interval, the windows in a real Prometheus equal those of one
// replica, and the duplicates are counted.
func TestHAPairCountsOnce(t *testing.T) {
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
aggregations:
  - name: ha
    match: requests_total
    interval: 2s
    by: [job]
    outputs: [count_samples, increase]
    lateness: 1s
    dedup_interval: 500ms
    input_relabel_configs:
      - {action: labeldrop, regex: replica}
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`, dest.RemoteWriteURL())
	// Both replicas scrape every 500 ms at the same instants (as an HA
	// pair of Prometheus servers does, give or take), one request each.
	start := time.Now().Truncate(500 * time.Millisecond).Add(500 * time.Millisecond)
	want := map[int64]int{} // window end → samples of one replica
	var lastEnd int64
	for i := range 12 {
		ts := start.Add(time.Duration(i) * 500 * time.Millisecond)
		waitUntil(ts)
		for _, replica := range []string{"a", "b"} {
			s := sample{fmt.Sprintf(`requests_total{job="api",replica="%s"}`, replica), ts, float64(100 + 10*i)}
			if code, msg := post(t, pm.writeURL(), encodeWrite(t, s), nil); code != 204 {
				t.Fatalf("replica %s: %d %s", replica, code, msg)
			}
		}
		lastEnd = (ts.UnixMilli()/2000 + 1) * 2000
		want[lastEnd]++
	}
	got := map[int64]int{}
	eventually(t, 20*time.Second, "the last window in Prometheus", func() bool {
		for _, s := range dest.RawSamples(t, `requests_total:2s_by_job_count_samples{job="api"}`, start.Add(-time.Minute), time.Now()) {
			for _, p := range s.Points {
				got[p.Timestamp.UnixMilli()] = int(p.Value)
			}
		}
		_, ok := got[lastEnd]
		return ok
	})
	for end, n := range want {
		if got[end] != n {
			t.Errorf("window ending %d: %d samples counted, one replica sent %d", end, got[end], n)
		}
	}
	// Every sample of replica b duplicates one of a (or the other way
	// round): 12 are dropped as duplicates.
	if n := metricValue(t, pm.metricsURL(), `premetrics_aggregate_rejected_samples_total{aggregation="ha",reason="deduplicated"}`); n != 12 {
		t.Errorf("deduplicated samples %g, want 12", n)
	}
	// The counter grew by 10 per scrape: each full window's increase is
	// 10 per sample, never doubled.
	for _, s := range dest.RawSamples(t, `requests_total:2s_by_job_increase{job="api"}`, start.Add(-time.Minute), time.Now()) {
		for _, p := range s.Points {
			if n := want[p.Timestamp.UnixMilli()]; p.Value > float64(10*n) {
				t.Errorf("window ending %d: increase %g over %d scrapes of +10: double counted", p.Timestamp.UnixMilli(), p.Value, n)
			}
		}
	}
}
