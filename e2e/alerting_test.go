//go:build unix

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// scenario2Config is SCENARIOS.md 2 from YAML alone: hosts push CPU
// readings as JSON, 30 s windows of avg and max per host and CPU (10 s
// lateness), per-host thresholds from PostgreSQL written as reference
// series, and an alert on a host whose 30 s average is over its own
// threshold.
const scenario2Config = `
server: {listen_address: "%%ADDR%%"}
inputs:
  json:
    - name: hosts
      timestamp: {field: occurred_at, unit: ms}
      labels: {hostname: hostname, cpu: cpu}
      metrics:
        - {name: cpu_usage, value: usage}
enrich:
  - name: cpu_thresholds
    source:
      postgres: {dsn: %q, query: "SELECT hostname, allowed_top FROM cpu_thresholds", interval: 1s}
    key: [hostname]
    series:
      - {column: allowed_top, name: cpu_threshold}
    series_interval: 1s
aggregations:
  - name: host_cpu
    match: cpu_usage
    interval: 30s
    by: [hostname, cpu]
    outputs: [avg, max]
    lateness: 10s
remote_write:
  - url: %%RW%%
    queue_config: {batch_send_deadline: 100ms}
alerting:
  groups:
    - name: hosts
      rules:
        - alert: HostCPUAboveThreshold
          expr: max by (hostname) (cpu_usage:30s_by_cpu_hostname_avg) > on (hostname) cpu_threshold
          labels: {severity: page}
          annotations:
            summary: '{{ $labels.hostname }} averaged {{ $value }}%% over 30 s'
`

// TestScenario2AlertsReachAlertmanager runs SCENARIOS.md 2 end to end: a
// real PostgreSQL holds the thresholds, premetrics aggregates pushed JSON
// events and writes the thresholds as reference series, a real
// Prometheus evaluates the rules `premetrics rules` generated, and a real
// Alertmanager must hold exactly the hosts whose 30 s CPU average is over
// their own threshold — not the ones above 80% (a static threshold) nor
// those with one high reading.
func TestScenario2AlertsReachAlertmanager(t *testing.T) {
	pg := startThresholds(t)
	config := fmt.Sprintf(scenario2Config, pg.DSN())

	// The rule file Prometheus loads is what `premetrics rules` writes.
	bin := testenv.BuildBinary(t, "github.com/premetrics/premetrics/cmd/premetrics")
	cfgFile := t.TempDir() + "/scenario2.yaml"
	if err := os.WriteFile(cfgFile, []byte(strings.NewReplacer("%ADDR%", "127.0.0.1:1", "%RW%", "http://127.0.0.1:1/").Replace(config)), 0o644); err != nil {
		t.Fatal(err)
	}
	var rulesOut, rulesErr bytes.Buffer
	cmd := exec.Command(bin, "rules", "--self-health=false", cfgFile)
	cmd.Stdout, cmd.Stderr = &rulesOut, &rulesErr
	if err := cmd.Run(); err != nil {
		t.Fatalf("premetrics rules: %v\n%s", err, rulesErr.String())
	}

	am := testenv.StartAlertmanager(t, testenv.AlertmanagerOptions{})
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		RuleFiles:       map[string]string{"premetrics.rules.yml": rulesOut.String()},
		AlertmanagerURL: am.URL(),
	})
	pm := startPremetrics(t, config, prom.RemoteWriteURL())

	// Readings in the next 30 s window, two CPUs a host, several readings
	// each. Over their own threshold on average: grumpy (31 > 30), sleepy
	// (55 > 40), sneezy (cpu1 averages 95 > 80) and dopey (95 > 90).
	// Not: doc (15 < 20), bashful (59.5 < 60, though one reading is 99),
	// happy (50 < 70), and nobody, who has no threshold.
	usage := map[string][2][]float64{
		"doc":     {{10, 20}, {15, 15}},
		"grumpy":  {{31, 31}, {20, 25}},
		"sleepy":  {{50, 60}, {40, 41}},
		"bashful": {{20, 99}, {55, 50}},
		"happy":   {{50, 50}, {10, 10}},
		"sneezy":  {{90, 100}, {10, 20}},
		"dopey":   {{95, 95}, {96, 94}},
		"nobody":  {{100, 100}, {100, 100}},
	}
	const window = 30 * time.Second
	start := time.Now().Truncate(window).Add(window)
	var events strings.Builder
	for host, cpus := range usage {
		for c, readings := range cpus {
			for i, u := range readings {
				ts := start.Add(time.Duration(1+i) * time.Second)
				fmt.Fprintf(&events, `{"hostname": %q, "cpu": "cpu%d", "usage": %g, "occurred_at": %d}`+"\n", host, c, u, ts.UnixMilli())
			}
		}
	}
	resp, err := http.Post("http://"+pm.addr+"/api/v1/push/hosts", "application/x-ndjson", strings.NewReader(events.String()))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("push: %s %s", resp.Status, msg)
	}

	want := []string{"dopey", "grumpy", "sleepy", "sneezy"}
	// The window closes at its end + lateness; then Prometheus evaluates
	// every second and sends at once (resend delay 1 s).
	waitUntil(start.Add(window + 10*time.Second))
	var got []string
	eventually(t, 30*time.Second, "the alerts of the hosts over their thresholds in Alertmanager", func() bool {
		got = got[:0]
		for _, a := range am.Alerts(t) {
			if a.Labels["alertname"] == "HostCPUAboveThreshold" {
				got = append(got, a.Labels["hostname"])
			}
		}
		slices.Sort(got)
		return slices.Equal(got, want)
	})
	for _, a := range am.Alerts(t) {
		if a.Labels["severity"] != "page" || !strings.Contains(a.Annotations["summary"], a.Labels["hostname"]+" averaged") {
			t.Errorf("alert %v: want severity page and the summary of the rule", a)
		}
	}
	// Prometheus holds each host's threshold as a series of its own.
	if res := prom.Query(t, `cpu_threshold`, time.Time{}); len(res) != 7 {
		t.Errorf("cpu_threshold: %d series in Prometheus, want 7", len(res))
	}
	// Stay a few evaluations: no other host may join.
	time.Sleep(3 * time.Second)
	got = got[:0]
	for _, a := range am.Alerts(t) {
		got = append(got, a.Labels["hostname"])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("alerts for %v, want exactly %v", got, want)
	}
}
