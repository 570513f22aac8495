package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestPrometheusAsSender puts premetrics between two real Prometheus
// servers: the sender scrapes premetrics' own /metrics every second and
// remote-writes everything (including metadata-only requests) to
// premetrics, which aggregates `up` and a counter and writes the results to
// the receiving Prometheus.
func TestPrometheusAsSender(t *testing.T) {
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
aggregations:
  - name: up
    match: up
    interval: 2s
    by: [job]
    outputs: [max, count_samples]
    lateness: 3s
  - name: requests
    match: premetrics_ingest_requests_total
    interval: 2s
    by: [code]
    outputs: [increase]
    lateness: 3s
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`, dest.RemoteWriteURL())
	testenv.StartPrometheus(t, testenv.PrometheusOptions{
		ScrapeConfigs:   fmt.Sprintf("- job_name: premetrics\n  static_configs: [{targets: ['%s']}]\n", pm.addr),
		RemoteWriteURLs: []string{pm.writeURL()},
	})

	// up is 1 for every scrape; one scrape a second gives 1 or 2 samples per 2 s window.
	eventually(t, 40*time.Second, "aggregated up in the receiving Prometheus", func() bool {
		res := dest.Query(t, `up:2s_by_job_max{job="premetrics"}`, time.Time{})
		return len(res) == 1 && res[0].Value == 1
	})
	eventually(t, 20*time.Second, "aggregated request counter in the receiving Prometheus", func() bool {
		return len(dest.Query(t, `premetrics_ingest_requests_total:2s_by_code_increase{code="204"}`, time.Time{})) == 1
	})
	for _, s := range dest.RawSamples(t, `up:2s_by_job_count_samples`, time.Now().Add(-time.Minute), time.Now()) {
		for _, p := range s.Points {
			if p.Value < 1 || p.Value > 3 || p.Timestamp.UnixMilli()%2000 != 0 {
				t.Errorf("window sample %g at %d: want 1..3 samples per window at a 2 s boundary", p.Value, p.Timestamp.UnixMilli())
			}
		}
	}
	// Every request, including metadata-only ones, was accepted.
	for _, code := range []string{"400", "413", "415", "429", "503"} {
		if n := metricValue(t, pm.metricsURL(), `premetrics_ingest_requests_total{code="`+code+`",protocol="remote_write"}`); n != 0 {
			t.Errorf("Prometheus' requests answered %s: %g", code, n)
		}
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_ingest_requests_total{code="204",protocol="remote_write"}`); n < 3 {
		t.Errorf("only %g requests from Prometheus accepted", n)
	}
}
