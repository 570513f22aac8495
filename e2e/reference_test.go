//go:build unix

package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestReferenceSeriesFromPostgres is SCENARIOS.md 2 with each host's own
// threshold as a series: the thresholds table in a real PostgreSQL is
// emitted as cpu_threshold{hostname} every series_interval into a real
// Prometheus, where the alerting rule's comparison of each host's
// average with its own threshold holds for the host over it; an UPDATE
// in PostgreSQL reaches Prometheus as the new value.
func TestReferenceSeriesFromPostgres(t *testing.T) {
	pg := startThresholds(t)
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, fmt.Sprintf(`
server: {listen_address: "%%ADDR%%"}
enrich:
  - name: cpu_thresholds
    source:
      postgres: {dsn: %q, query: "SELECT hostname, allowed_top FROM cpu_thresholds", interval: 500ms}
    key: [hostname]
    series: [{column: allowed_top, name: cpu_threshold}]
    series_interval: 1s
aggregations:
  - name: host_cpu
    match: cpu_usage
    interval: 1s
    by: [hostname, cpu]
    outputs: [avg]
    lateness: 500ms
remote_write:
  - url: %%RW%%
    queue_config: {batch_send_deadline: 100ms}
`, pg.DSN()), dest.RemoteWriteURL())

	want := map[string]float64{"doc": 20, "grumpy": 30, "sleepy": 40, "bashful": 60, "happy": 70, "sneezy": 80, "dopey": 90}
	thresholds := func() (map[string]float64, string) {
		got := map[string]float64{}
		var odd []string
		for _, s := range dest.Query(t, "cpu_threshold", time.Time{}) {
			if len(s.Labels) != 2 || s.Labels["__name__"] != "cpu_threshold" || s.Labels["hostname"] == "" {
				odd = append(odd, fmt.Sprint(s.Labels))
			}
			got[s.Labels["hostname"]] = s.Value
		}
		return got, strings.Join(odd, " ")
	}
	eventually(t, 20*time.Second, "the 7 thresholds in Prometheus", func() bool {
		got, _ := thresholds()
		return len(got) == len(want)
	})
	if got, odd := thresholds(); !maps.Equal(got, want) || odd != "" {
		t.Fatalf("cpu_threshold = %v (unexpected label sets: %s), want %v", got, odd, want)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_enrich_reference_series{table="cpu_thresholds"}`); n != 7 {
		t.Errorf("premetrics_enrich_reference_series = %g, want 7", n)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_enrich_reference_samples_total{table="cpu_thresholds"}`); n < 7 {
		t.Errorf("premetrics_enrich_reference_samples_total = %g, want at least 7", n)
	}

	// The alerting rule's expression: sleepy's average (55) is over its
	// threshold (40), doc's (10) under its own (20).
	now := time.Now()
	body := encodeWrite(t,
		sample{`cpu_usage{cpu="cpu0",hostname="sleepy"}`, now, 50},
		sample{`cpu_usage{cpu="cpu1",hostname="sleepy"}`, now, 60},
		sample{`cpu_usage{cpu="cpu0",hostname="doc"}`, now, 10},
	)
	if code, msg := post(t, pm.writeURL(), body, nil); code != 204 {
		t.Fatalf("push: %d %s", code, msg)
	}
	const rule = `avg by (hostname) (cpu_usage:1s_by_cpu_hostname_avg) > on (hostname) cpu_threshold`
	var over []string
	eventually(t, 20*time.Second, "the windows in Prometheus", func() bool {
		return len(dest.Query(t, `cpu_usage:1s_by_cpu_hostname_avg`, time.Time{})) == 3
	})
	for _, s := range dest.Query(t, rule, time.Time{}) {
		over = append(over, fmt.Sprintf("%s=%g", s.Labels["hostname"], s.Value))
	}
	if slices.Compare(over, []string{"sleepy=55"}) != 0 {
		t.Errorf("%s = %v, want [sleepy=55]", rule, over)
	}

	// The table changes: within a refresh and an emission, Prometheus has
	// the new threshold, and the others are unchanged.
	pg.Exec(t, "UPDATE cpu_thresholds SET allowed_top = 45 WHERE hostname = 'sleepy'")
	want["sleepy"] = 45
	eventually(t, 20*time.Second, "sleepy's new threshold in Prometheus", func() bool {
		got, _ := thresholds()
		return got["sleepy"] == 45
	})
	if got, odd := thresholds(); !maps.Equal(got, want) || odd != "" {
		t.Errorf("after the update cpu_threshold = %v (unexpected label sets: %s), want %v", got, odd, want)
	}
}
