package testenv

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

func TestPrometheusRemoteWriteRoundTrip(t *testing.T) {
	prom := StartPrometheus(t, PrometheusOptions{})

	// Millisecond timestamps that are not round seconds, a few minutes
	// old: well inside what an empty head accepts.
	base := time.Now().Add(-5 * time.Minute).Truncate(time.Second).Add(123 * time.Millisecond)
	cpu := []Point{
		{Timestamp: base, Value: 1.5},
		{Timestamp: base.Add(15*time.Second + 7*time.Millisecond), Value: -2},
		{Timestamp: base.Add(30 * time.Second), Value: 1e300},
	}
	mem := []Point{{Timestamp: base.Add(time.Second), Value: 42}}
	PushRemoteWrite(t, prom.RemoteWriteURL(),
		NewTimeSeries(map[string]string{"__name__": "testenv_cpu", "host": "a"}, cpu...),
		NewTimeSeries(map[string]string{"__name__": "testenv_mem", "host": "a"}, mem...),
	)

	got := prom.RawSamples(t, `{__name__=~"testenv_.*"}`, base, base.Add(time.Minute))
	want := []Series{
		{Labels: map[string]string{"__name__": "testenv_cpu", "host": "a"}, Points: cpu},
		{Labels: map[string]string{"__name__": "testenv_mem", "host": "a"}, Points: mem},
	}
	if diff := diffSeries(got, want); diff != "" {
		t.Fatalf("RawSamples: %s", diff)
	}

	// Both ends of the range are inclusive.
	edge := prom.RawSamples(t, "testenv_cpu", cpu[1].Timestamp, cpu[2].Timestamp)
	if diff := diffSeries(edge, []Series{{Labels: want[0].Labels, Points: cpu[1:]}}); diff != "" {
		t.Fatalf("RawSamples on exact bounds: %s", diff)
	}

	// An instant query at a time between samples returns the last one at
	// or before it, stamped with the query time.
	at := cpu[1].Timestamp.Add(time.Second)
	vec := prom.Query(t, `testenv_cpu{host="a"}`, at)
	if len(vec) != 1 || vec[0].Value != -2 || !vec[0].Timestamp.Equal(at) || vec[0].Labels["host"] != "a" {
		t.Fatalf("Query() = %+v, want one sample -2 at %v", vec, at)
	}

	sc := prom.Query(t, `scalar(testenv_mem)`, mem[0].Timestamp)
	if len(sc) != 1 || sc[0].Value != 42 {
		t.Fatalf("scalar Query() = %+v, want 42", sc)
	}

	rng := prom.QueryRange(t, "testenv_mem", mem[0].Timestamp, mem[0].Timestamp.Add(2*time.Second), time.Second)
	if len(rng) != 1 || len(rng[0].Points) != 3 || rng[0].Points[2].Value != 42 {
		t.Fatalf("QueryRange() = %+v, want 3 steps of 42", rng)
	}

	sets := prom.SeriesLabels(t, `{host="a"}`, base, base.Add(time.Minute))
	if len(sets) != 2 || sets[0]["__name__"] != "testenv_cpu" || sets[1]["__name__"] != "testenv_mem" {
		t.Fatalf("SeriesLabels() = %v, want testenv_cpu and testenv_mem", sets)
	}
}

// TestPrometheusAcceptedTimeRange pins down the time rules the package doc
// promises for Prometheus 2.42, so a different Prometheus that changes
// them is noticed.
func TestPrometheusAcceptedTimeRange(t *testing.T) {
	prom := StartPrometheus(t, PrometheusOptions{})
	now := time.Now().Truncate(time.Millisecond)
	write := func(name string, ts time.Time) (int, string) {
		return PostRemoteWrite(t, prom.RemoteWriteURL(), &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
			NewTimeSeries(map[string]string{"__name__": name}, Point{Timestamp: ts, Value: 1}),
		}})
	}
	cases := []struct {
		name       string
		series     string
		ts         time.Time
		wantStatus int
		wantBody   string
	}{
		{"newest sample sets the head", "testenv_a", now, http.StatusNoContent, ""},
		{"50m older than newest, new series", "testenv_b", now.Add(-50 * time.Minute), http.StatusNoContent, ""},
		{"2h older than newest", "testenv_c", now.Add(-2 * time.Hour), http.StatusBadRequest, "out of bounds"},
		{"older than the series' last sample", "testenv_a", now.Add(-time.Second), http.StatusBadRequest, "out of order"},
		{"same series, newer", "testenv_a", now.Add(time.Second), http.StatusNoContent, ""},
	}
	for _, c := range cases {
		status, body := write(c.series, c.ts)
		if status != c.wantStatus || !strings.Contains(body, c.wantBody) {
			t.Errorf("%s: remote write answered %d %q, want %d containing %q", c.name, status, body, c.wantStatus, c.wantBody)
		}
	}
}

func TestPrometheusOutOfOrderWindow(t *testing.T) {
	prom := StartPrometheus(t, PrometheusOptions{OutOfOrderTimeWindow: 10 * time.Minute})
	now := time.Now().Truncate(time.Millisecond)
	labels := map[string]string{"__name__": "testenv_ooo"}
	PushRemoteWrite(t, prom.RemoteWriteURL(), NewTimeSeries(labels, Point{Timestamp: now, Value: 2}))
	PushRemoteWrite(t, prom.RemoteWriteURL(), NewTimeSeries(labels, Point{Timestamp: now.Add(-time.Minute), Value: 1}))
	got := prom.RawSamples(t, "testenv_ooo", now.Add(-time.Hour), now)
	want := []Series{{Labels: labels, Points: []Point{{now.Add(-time.Minute), 1}, {now, 2}}}}
	if diff := diffSeries(got, want); diff != "" {
		t.Fatalf("RawSamples: %s", diff)
	}
}

func TestPrometheusAlertsReachAlertmanager(t *testing.T) {
	am := StartAlertmanager(t, AlertmanagerOptions{})
	prom := StartPrometheus(t, PrometheusOptions{
		AlertmanagerURL: am.URL(),
		RuleFiles: map[string]string{"alerts.yml": `
groups:
  - name: testenv
    rules:
      - alert: TestenvAlwaysFiring
        expr: vector(1)
        labels: {severity: page}
`},
	})
	WaitFor(t, 30*time.Second, "the alert in Alertmanager", func() error {
		alerts := am.Alerts(t)
		for _, a := range alerts {
			if a.Labels["alertname"] == "TestenvAlwaysFiring" && a.Labels["severity"] == "page" && a.State == "active" {
				return nil
			}
		}
		return fmt.Errorf("alerts: %v", alerts)
	})
	// The rule is evaluated by Prometheus too.
	if v := prom.Query(t, `ALERTS{alertname="TestenvAlwaysFiring",alertstate="firing"}`, time.Time{}); len(v) != 1 {
		t.Fatalf("ALERTS = %+v, want one firing alert", v)
	}
}

func TestPrometheusScrapeConfigs(t *testing.T) {
	prom := StartPrometheus(t, PrometheusOptions{})
	// A second server scrapes the first one.
	scraper := StartPrometheus(t, PrometheusOptions{ScrapeConfigs: fmt.Sprintf(`
- job_name: target
  static_configs:
    - targets: [%q]
`, strings.TrimPrefix(prom.URL(), "http://"))})
	WaitFor(t, 30*time.Second, "a successful scrape", func() error {
		v := scraper.Query(t, `up{job="target"}`, time.Time{})
		if len(v) != 1 || v[0].Value != 1 {
			return fmt.Errorf("up = %+v", v)
		}
		return nil
	})
}

func TestPrometheusOptionErrors(t *testing.T) {
	cases := []struct {
		opts PrometheusOptions
		want string
	}{
		{PrometheusOptions{RuleFiles: map[string]string{"../x.yml": ""}}, `PrometheusOptions.RuleFiles: name must be a plain file name, got "../x.yml"`},
		{PrometheusOptions{AlertmanagerURL: "127.0.0.1:9093"}, `PrometheusOptions.AlertmanagerURL: must be an http(s) URL, got "127.0.0.1:9093"`},
	}
	for _, c := range cases {
		_, err := writePrometheusConfig(t.TempDir(), c.opts)
		if err == nil || err.Error() != c.want {
			t.Errorf("writePrometheusConfig(%+v) error = %v, want %q", c.opts, err, c.want)
		}
	}
}

// diffSeries describes the first difference between got and want, with
// exact timestamps and values; "" when equal.
func diffSeries(got, want []Series) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d series %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if labelKey(g.Labels) != labelKey(w.Labels) {
			return fmt.Sprintf("series %d: labels %s, want %s", i, labelKey(g.Labels), labelKey(w.Labels))
		}
		if len(g.Points) != len(w.Points) {
			return fmt.Sprintf("%s: got %d points %+v, want %d %+v", labelKey(w.Labels), len(g.Points), g.Points, len(w.Points), w.Points)
		}
		for j := range w.Points {
			if !g.Points[j].Timestamp.Equal(w.Points[j].Timestamp) || g.Points[j].Value != w.Points[j].Value {
				return fmt.Sprintf("%s point %d: got %v@%d, want %v@%d", labelKey(w.Labels), j,
					g.Points[j].Value, g.Points[j].Timestamp.UnixMilli(), w.Points[j].Value, w.Points[j].Timestamp.UnixMilli())
			}
		}
	}
	return ""
}
