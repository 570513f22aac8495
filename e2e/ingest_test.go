package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/premetrics/premetrics/internal/testenv"
)

// ingestConfig maps both SCENARIOS.md event schemas, subscribes to MQTT,
// forwards every raw series it does not aggregate, and averages host CPU
// per hostname in 2 s windows.
const ingestConfig = `
server: {listen_address: "%ADDR%"}
inputs:
  json:
    - name: vehicles
      timestamp: {field: timestamp, unit: ms}
      labels: {vehicle_id: vehicleId, region: region}
      metrics:
        - {name: vehicle_rpm, value: measurement, labels: {engine: ic}, when: {eventType: IC_RPM}}
        - {name: vehicle_rpm, value: measurement, labels: {engine: electric}, when: {eventType: ELECTRIC_RPM}}
        - {name: vehicle_warnings, value: measurement, when: {eventType: WARNINGS}}
    - name: hosts
      timestamp: {field: occurred_at, unit: ms}
      labels: {hostname: hostname, cpu: cpu}
      metrics:
        - {name: cpu_usage, value: usage}
  mqtt:
    - name: fleet
      brokers: ["%MQTT%"]
      client_id: premetrics-e2e
      topics:
        - {filter: "fleet/+/events", qos: 1, format: json, input: vehicles, topic_labels: {gateway: 1}}
        - {filter: "telegraf/#", qos: 1, format: influx}
aggregations:
  - name: host_cpu
    match: cpu_usage
    interval: 2s
    by: [hostname]
    outputs: [avg, max]
    lateness: 1s
forward_unmatched: true
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`

// TestDeviceIngestEndToEnd pushes every device protocol from its real
// client (curl, mosquitto_pub) through the premetrics binary into a real
// Prometheus and reads each sample back with PromQL, with its labels,
// value and millisecond timestamp.
func TestDeviceIngestEndToEnd(t *testing.T) {
	curl := testenv.RequireBinary(t, "curl")
	broker := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, strings.ReplaceAll(ingestConfig, "%MQTT%", broker.URL()), dest.RemoteWriteURL())
	base := "http://" + pm.addr
	eventually(t, 15*time.Second, "the MQTT input to connect", func() bool {
		return metricValue(t, pm.metricsURL(), `premetrics_mqtt_connected{broker="`+broker.URL()+`",input="fleet"}`) == 1
	})

	// Stamps a few seconds old, distinct per protocol, ms precision.
	ts := time.Now().Add(-5 * time.Second).Truncate(time.Millisecond)
	ms := ts.UnixMilli()
	post := func(path, contentType string, body []byte, extra ...string) string {
		t.Helper()
		args := []string{"-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "-X", "POST", "--data-binary", "@-", "-H", "Content-Type: " + contentType}
		args = append(args, extra...)
		cmd := exec.Command(curl, append(args, base+path)...)
		cmd.Stdin = bytes.NewReader(body)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl %s: %v: %s", path, err, stderr.String())
		}
		return string(out) + " " + stderr.String()
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, `{"eventType":"IC_RPM","vehicleId":"V0000000001","region":"UK","timestamp":%d,"measurement":2356}
{"eventType":"ELECTRIC_RPM","vehicleId":"V0000000001","region":"UK","timestamp":%d,"measurement":-1200}
{"eventType":"WARNINGS","vehicleId":"V0000000001","region":"UK","timestamp":%d,"measurement":2}
`, ms, ms, ms)
	zw.Close()
	if got := post("/api/v1/push/vehicles", "application/x-ndjson", gz.Bytes(), "-H", "Content-Encoding: gzip"); !strings.HasPrefix(got, "204") {
		t.Fatalf("JSON vehicle events: %s", got)
	}
	// One bad event among good ones: 400 naming it, the good ones kept.
	// Stamped now: the aggregation's 2 s windows close 1 s after their end.
	hostMs := time.Now().UnixMilli()
	hostEvents := fmt.Sprintf(`[{"hostname":"sleepy","cpu":"cpu2","usage":87.25,"occurred_at":%d},
	  {"hostname":"sleepy","cpu":"cpu3","usage":"high","occurred_at":%d},
	  {"hostname":"sleepy","cpu":"cpu1","usage":40.75,"occurred_at":%d}]`, hostMs, hostMs, hostMs)
	if got := post("/api/v1/push/hosts", "application/json", []byte(hostEvents)); !strings.HasPrefix(got, "400") ||
		!strings.Contains(got, "event 1: ") || !strings.Contains(got, "wrong_type") {
		t.Fatalf("JSON host events with a bad one: %s", got)
	}
	if got := post("/write?db=telegraf&precision=ms", "text/plain; charset=utf-8",
		fmt.Appendf(nil, "cpu,host=h1,cpu=cpu-total usage_idle=97.5,usage_user=1.25 %d\n", ms+2)); !strings.HasPrefix(got, "204") {
		t.Fatalf("Influx v1: %s", got)
	}
	if got := post("/api/v2/write?org=o&bucket=b&precision=ns", "text/plain",
		fmt.Appendf(nil, "mem,host=h1 used=5368709120i %d\n", (ms+3)*1e6)); !strings.HasPrefix(got, "204") {
		t.Fatalf("Influx v2: %s", got)
	}
	if got := post("/api/v1/import/prometheus", "text/plain; version=0.0.4",
		fmt.Appendf(nil, "# TYPE jobs_done_total counter\njobs_done_total{queue=\"q1\"} 42 %d\n# TYPE temp gauge\ntemp{room=\"r1\"} 21.5 %d\n", ms+4, ms+4)); !strings.HasPrefix(got, "204") {
		t.Fatalf("Prometheus text: %s", got)
	}
	otlp := fmt.Sprintf(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
	  "scopeMetrics":[{"metrics":[{"name":"http.server.requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,
	  "dataPoints":[{"attributes":[{"key":"http.route","value":{"stringValue":"/pay"}}],"timeUnixNano":"%d","asInt":"17"}]}}]}]}]}`, (ms+5)*1e6)
	if got := post("/v1/metrics", "application/json", []byte(otlp)); !strings.HasPrefix(got, "200") {
		t.Fatalf("OTLP JSON: %s", got)
	}
	pub := func(topic, payload string) {
		t.Helper()
		out, err := exec.Command(testenv.RequireBinary(t, "mosquitto_pub"), "-h", "127.0.0.1", "-p", strconv.Itoa(broker.Port()),
			"-q", "1", "-t", topic, "-m", payload).CombinedOutput()
		if err != nil {
			t.Fatalf("mosquitto_pub %s: %v: %s", topic, err, out)
		}
	}
	pub("fleet/gw7/events", fmt.Sprintf(`{"eventType":"IC_RPM","vehicleId":"V0000000002","region":"Japan","timestamp":%d,"measurement":800}`, ms+6))
	pub("telegraf/h2", fmt.Sprintf("disk,host=h2,path=/ used_percent=61.5 %d\n", (ms+7)*1e6))

	want := []struct {
		selector string
		labels   map[string]string
		value    float64
		ms       int64
	}{
		{`vehicle_rpm{engine="ic",vehicle_id="V0000000001"}`, map[string]string{"region": "UK"}, 2356, ms},
		{`vehicle_rpm{engine="electric",vehicle_id="V0000000001"}`, map[string]string{"region": "UK"}, -1200, ms},
		{`vehicle_warnings{vehicle_id="V0000000001"}`, map[string]string{"region": "UK"}, 2, ms},
		{`cpu_usage_idle{host="h1"}`, map[string]string{"cpu": "cpu-total"}, 97.5, ms + 2},
		{`cpu_usage_user{host="h1"}`, map[string]string{"cpu": "cpu-total"}, 1.25, ms + 2},
		{`mem_used{host="h1"}`, nil, 5368709120, ms + 3},
		{`jobs_done_total{queue="q1"}`, nil, 42, ms + 4},
		{`temp{room="r1"}`, nil, 21.5, ms + 4},
		{`http_server_requests_total{http_route="/pay"}`, map[string]string{"job": "checkout"}, 17, ms + 5},
		{`vehicle_rpm{vehicle_id="V0000000002"}`, map[string]string{"region": "Japan", "gateway": "gw7", "engine": "ic"}, 800, ms + 6},
		{`disk_used_percent{host="h2"}`, map[string]string{"path": "/"}, 61.5, ms + 7},
	}
	for _, w := range want {
		var got []testenv.Series
		eventually(t, 20*time.Second, w.selector+" in Prometheus", func() bool {
			got = dest.RawSamples(t, w.selector, ts.Add(-time.Minute), time.Now())
			return len(got) > 0
		})
		if len(got) != 1 || len(got[0].Points) != 1 {
			t.Errorf("%s: got %v, want one sample", w.selector, got)
			continue
		}
		p := got[0].Points[0]
		if p.Value != w.value || p.Timestamp.UnixMilli() != w.ms {
			t.Errorf("%s: %g @%d, want %g @%d", w.selector, p.Value, p.Timestamp.UnixMilli(), w.value, w.ms)
		}
		for k, v := range w.labels {
			if got[0].Labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q (labels %v)", w.selector, k, got[0].Labels[k], v, got[0].Labels)
			}
		}
	}

	// The host events went into the aggregation, not forwarded: the
	// window of ms has the mean and max of the two good readings.
	win := (hostMs/2000 + 1) * 2000
	eventually(t, 20*time.Second, "the host CPU window", func() bool {
		return len(dest.RawSamples(t, `cpu_usage:2s_by_hostname_avg`, ts.Add(-time.Minute), time.Now())) > 0
	})
	for name, v := range map[string]float64{"avg": (87.25 + 40.75) / 2, "max": 87.25} {
		got := dest.RawSamples(t, `cpu_usage:2s_by_hostname_`+name+`{hostname="sleepy"}`, ts.Add(-time.Minute), time.Now())
		if len(got) != 1 || len(got[0].Points) != 1 || got[0].Points[0].Value != v || got[0].Points[0].Timestamp.UnixMilli() != win {
			t.Errorf("cpu_usage %s: %v, want %g @%d", name, got, v, win)
		}
	}
	if n := len(dest.RawSamples(t, `cpu_usage`, ts.Add(-time.Minute), time.Now())); n != 0 {
		t.Errorf("%d raw cpu_usage series forwarded; the aggregation consumes them", n)
	}

	// Self metrics per protocol.
	for proto, min := range map[string]float64{"json": 5, "influx": 3, "prometheus_text": 2, "otlp": 1, "mqtt": 2} {
		if n := metricValue(t, pm.metricsURL(), `premetrics_ingest_samples_total{protocol="`+proto+`"}`); n < min {
			t.Errorf("premetrics_ingest_samples_total{protocol=%q} = %g, want >= %g", proto, n, min)
		}
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_ingest_rejected_samples_total{protocol="json",reason="wrong_type"}`); n != 1 {
		t.Errorf("rejected wrong_type samples = %g, want 1", n)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_mqtt_messages_total{input="fleet",result="accepted"}`); n != 2 {
		t.Errorf("accepted MQTT messages = %g, want 2", n)
	}
}

// TestPrometheusAgentAsSender: Prometheus 2.42 in agent mode, the usual
// sender in front of premetrics, scrapes premetrics and remote-writes to
// it, metadata-only requests included; every request is accepted and the
// samples reach the receiving Prometheus with the agent's target labels.
func TestPrometheusAgentAsSender(t *testing.T) {
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
forward_unmatched: true
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`, dest.RemoteWriteURL())
	testenv.StartPrometheus(t, testenv.PrometheusOptions{
		Agent:           true,
		ScrapeConfigs:   fmt.Sprintf("- job_name: premetrics\n  static_configs: [{targets: ['%s']}]\n", pm.addr),
		RemoteWriteURLs: []string{pm.writeURL()},
	})
	eventually(t, 40*time.Second, "premetrics_build_info scraped by the agent in the receiving Prometheus", func() bool {
		res := dest.Query(t, `premetrics_build_info{job="premetrics",instance="`+pm.addr+`"}`, time.Time{})
		return len(res) == 1 && res[0].Value == 1
	})
	// Metadata is sent every second; wait for a few requests.
	eventually(t, 20*time.Second, "several accepted requests", func() bool {
		return metricValue(t, pm.metricsURL(), `premetrics_ingest_requests_total{code="204",protocol="remote_write"}`) >= 5
	})
	for _, code := range []string{"400", "413", "415", "429", "503"} {
		if n := metricValue(t, pm.metricsURL(), `premetrics_ingest_requests_total{code="`+code+`",protocol="remote_write"}`); n != 0 {
			t.Errorf("agent requests answered %s: %g", code, n)
		}
	}
	labels := dest.SeriesLabels(t, `up{job="premetrics"}`, time.Now().Add(-time.Minute), time.Now())
	if len(labels) != 1 || !maps.Equal(labels[0], map[string]string{"__name__": "up", "job": "premetrics", "instance": pm.addr}) {
		t.Errorf("up series %v, want the agent's target labels", labels)
	}
}

// TestRemoteWrite2EndToEnd sends remote write 2.0 to the binary: float
// samples arrive in a real Prometheus, the response headers count what
// was written, and native histogram samples are refused with a 400 that
// says so while the float samples of the same request are kept.
func TestRemoteWrite2EndToEnd(t *testing.T) {
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
forward_unmatched: true
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`, dest.RemoteWriteURL())
	ms := time.Now().Add(-5 * time.Second).UnixMilli()
	st := writev2.NewSymbolTable()
	req := &writev2.Request{Timeseries: []writev2.TimeSeries{
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "rw2_gauge", "site", "a"), nil),
			Samples:  []writev2.Sample{{Timestamp: ms, Value: 1.5}, {Timestamp: ms + 1000, Value: 2.5}},
			Metadata: writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_GAUGE, HelpRef: st.Symbolize("a gauge")}},
		{LabelsRefs: st.SymbolizeLabels(labels.FromStrings("__name__", "rw2_hist", "site", "a"), nil),
			Samples:    []writev2.Sample{{Timestamp: ms, Value: 7}},
			Histograms: []writev2.Histogram{writev2.FromFloatHistogram(ms, 0, &histogram.FloatHistogram{Count: 1, Sum: 1, ZeroCount: 1})}},
	}}
	req.Symbols = st.Symbols()
	raw, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	httpReq, err := http.NewRequest(http.MethodPost, pm.writeURL(), bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		t.Fatal(err)
	}
	httpReq.Header.Set("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
	httpReq.Header.Set("Content-Encoding", "snappy")
	httpReq.Header.Set("X-Prometheus-Remote-Write-Version", "2.0.0")
	resp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "native_histogram_unsupported") {
		t.Errorf("status %d %q, want 400 naming the histogram samples", resp.StatusCode, body)
	}
	for h, want := range map[string]string{"Samples": "3", "Histograms": "0", "Exemplars": "0"} {
		if got := resp.Header.Get("X-Prometheus-Remote-Write-" + h + "-Written"); got != want {
			t.Errorf("X-Prometheus-Remote-Write-%s-Written = %q, want %q", h, got, want)
		}
	}
	var got []testenv.Series
	eventually(t, 20*time.Second, "the 2.0 samples in Prometheus", func() bool {
		got = dest.RawSamples(t, `{__name__=~"rw2_.+"}`, time.UnixMilli(ms-1000), time.Now())
		n := 0
		for _, s := range got {
			n += len(s.Points)
		}
		return n == 3
	})
	for _, s := range got {
		if s.Labels["site"] != "a" {
			t.Errorf("series %v lost its labels", s.Labels)
		}
	}
}
