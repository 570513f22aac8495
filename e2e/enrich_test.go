//go:build unix

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestEnrichFromPostgres is SCENARIOS.md 2 through the binary: per-host
// CPU thresholds come from a real PostgreSQL table, join onto the pushed
// series, and the 30 s windows (1 s here) carry the host's own threshold
// into a real Prometheus, where an alert rule can compare them. A host
// not in the table is dropped and counted (on_miss: drop).
func TestEnrichFromPostgres(t *testing.T) {
	pg := startThresholds(t)
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, fmt.Sprintf(`
server: {listen_address: "%%ADDR%%"}
enrich:
  - name: cpu_thresholds
    source:
      postgres: {dsn: %q, query: "SELECT hostname, allowed_top FROM cpu_thresholds", interval: 1s}
    key: [hostname]
    add: [allowed_top]
    on_miss: drop
aggregations:
  - name: host_cpu
    match: cpu_usage
    interval: 1s
    by: [hostname, allowed_top]
    outputs: [avg]
    lateness: 500ms
remote_write:
  - url: %%RW%%
    queue_config: {batch_send_deadline: 100ms}
`, pg.DSN()), dest.RemoteWriteURL())

	if n := metricValue(t, pm.metricsURL(), `premetrics_enrich_rows{table="cpu_thresholds"}`); n != 7 {
		t.Fatalf("premetrics_enrich_rows = %g, want 7 (loaded before ready)", n)
	}
	now := time.Now()
	body := encodeWrite(t,
		sample{`cpu_usage{cpu="cpu2",hostname="sleepy"}`, now, 50},
		sample{`cpu_usage{cpu="cpu1",hostname="sleepy"}`, now, 30},
		sample{`cpu_usage{cpu="cpu0",hostname="nobody"}`, now, 99},
	)
	if code, msg := post(t, pm.writeURL(), body, nil); code != 204 {
		t.Fatalf("push: %d %s", code, msg)
	}
	end := time.UnixMilli((now.UnixMilli()/1000 + 1) * 1000)
	q := `cpu_usage:1s_by_allowed_top_hostname_avg{hostname="sleepy",allowed_top="40"}`
	eventually(t, 20*time.Second, q, func() bool {
		res := dest.Query(t, q, end)
		return len(res) == 1
	})
	if v := dest.Query(t, q, end)[0].Value; v != 40 {
		t.Errorf("%s = %g, want 40", q, v)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_dropped_samples_total{reason="enrich_miss",stage="enrich"}`); n != 1 {
		t.Errorf("enrich_miss drops = %g, want 1", n)
	}

	// The table changes; within its refresh interval the new threshold joins.
	pg.Exec(t, "UPDATE cpu_thresholds SET allowed_top = 45 WHERE hostname = 'sleepy'")
	eventually(t, 20*time.Second, "the new threshold", func() bool {
		now := time.Now()
		if code, msg := post(t, pm.writeURL(), encodeWrite(t, sample{`cpu_usage{cpu="cpu2",hostname="sleepy"}`, now, 10}), nil); code != 204 {
			t.Fatalf("push: %d %s", code, msg)
		}
		time.Sleep(2 * time.Second)
		return len(dest.Query(t, `cpu_usage:1s_by_allowed_top_hostname_avg{hostname="sleepy",allowed_top="45"}`, time.Time{})) == 1
	})

	// PostgreSQL goes away: the last snapshot stays, failures are counted.
	pg.Process().Kill(t)
	eventually(t, 20*time.Second, "a counted refresh failure", func() bool {
		return metricValue(t, pm.metricsURL(), `premetrics_enrich_refresh_failures_total{table="cpu_thresholds"}`) > 0
	})
	if n := metricValue(t, pm.metricsURL(), `premetrics_enrich_rows{table="cpu_thresholds"}`); n != 7 {
		t.Errorf("rows after the source failed = %g, want 7 (the last snapshot)", n)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_enrich_last_refresh_successful{table="cpu_thresholds"}`); n != 0 {
		t.Errorf("last_refresh_successful = %g, want 0", n)
	}
}

// startThresholds starts a throwaway PostgreSQL holding SCENARIOS.md 2's
// cpu_thresholds(hostname, allowed_top) table.
func startThresholds(t *testing.T) *testenv.Postgres {
	t.Helper()
	pg := testenv.StartPostgres(t)
	pg.Exec(t, `CREATE TABLE cpu_thresholds (hostname text PRIMARY KEY, allowed_top integer);
		INSERT INTO cpu_thresholds VALUES ('doc', 20), ('grumpy', 30), ('sleepy', 40), ('bashful', 60),
			('happy', 70), ('sneezy', 80), ('dopey', 90)`)
	return pg
}
