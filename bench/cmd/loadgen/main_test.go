package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/premetrics/premetrics/bench/load"
)

func TestRealMainSendsAndSummarises(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-url", srv.URL + "/api/v1/write", "-rate", "2000", "-duration", "1s", "-series", "400",
		"-batch", "100", "-schema", "generic", "-metrics-per-device", "2", "-progress", "0"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var sum load.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout.String())
	}
	if sum.SamplesAccepted != 2000 || sum.Series != 400 || sum.Devices != 200 || sum.Schema != "generic" || sum.PrepareSeconds <= 0 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(stderr.String(), "loadgen: sent 2000 samples (400 series, 400 distinct) in 20 requests") {
		t.Errorf("stderr %q", stderr.String())
	}

	path := filepath.Join(t.TempDir(), "s.json")
	stdout.Reset()
	if code := realMain([]string{"-url", srv.URL, "-rate", "100", "-duration", "100ms", "-series", "10", "-summary", path, "-progress", "0"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if data, err := os.ReadFile(path); err != nil || !json.Valid(data) || stdout.Len() != 0 {
		t.Errorf("summary file %q (%v), stdout %q", data, err, stdout.String())
	}
}

func TestRealMainRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-url", "http://192.0.2.10:9201/api/v1/write"}, "is not a loopback address"},
		{[]string{"-rate", "0"}, "-rate: must be > 0, got 0"},
		{[]string{"-schema", "json"}, `-schema: must be "generic" or "fleet", got "json"`},
		{[]string{"-protocol", "otlp_json"}, `-protocol: must be one of "remote_write", "json", "influx", "otlp", "prometheus_text" or "mqtt", got "otlp_json"`},
		{[]string{"-protocol", "mqtt", "-url", "http://127.0.0.1:9201/"}, "-url: not used with -protocol mqtt: set -mqtt-broker"},
		{[]string{"-protocol", "otlp", "-mqtt-topic", "a"}, "-mqtt-topic: only with -protocol mqtt"},
		{[]string{"-protocol", "mqtt", "-mqtt-broker", "tcp://192.0.2.1:1883"}, `host "192.0.2.1" is not a loopback address`},
		{[]string{"-protocol", "mqtt", "-mqtt-inflight", "0"}, "-mqtt-inflight: must be in [1, 10000], got 0"},
		{[]string{"-protocol", "json", "-fleet-counter"}, "-fleet-counter: the vehicle events of SCENARIOS.md have no distance counter"},
		{[]string{"-procs", "0"}, "-procs: must be > 0, got 0"},
		{[]string{"-batch", "0"}, "-batch: must be > 0, got 0"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var stdout, stderr bytes.Buffer
		if code := realMain(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestRealMainFailsWhenNothingIsAccepted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-url", srv.URL, "-rate", "100", "-duration", "100ms", "-series", "10", "-progress", "0"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "first 429 answer: overloaded") || !strings.Contains(stderr.String(), "no sample was accepted") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestRealMainSendsJSONEvents(t *testing.T) {
	var paths []string
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		paths = append(paths, r.URL.Path+" "+r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	// The fleet's JSON events: no distance counter, no extra labels unless asked.
	code := realMain([]string{"-protocol", "json", "-url", srv.URL + "/api/v1/push/vehicles", "-rate", "300", "-duration", "1s",
		"-series", "30", "-batch", "30", "-progress", "0"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var sum load.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Protocol != "json" || sum.SeriesPerDevice != 3 || sum.ExtraLabels != 0 || sum.SamplesAccepted != 300 || len(paths) != 10 ||
		paths[0] != "/api/v1/push/vehicles application/x-ndjson" {
		t.Errorf("summary %+v, requests %q", sum, paths)
	}
	if n := bytes.Count(body, []byte(`{"eventType":"`)); n != 30 {
		t.Errorf("%d events in the last body:\n%s", n, body)
	}
}

func TestRealMainPrintsJSONInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"-protocol", "json", "-schema", "generic", "-metrics-per-device", "2", "-extra-labels", "1", "-print-json-input"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := `inputs:
  json:
    - name: bench
      timestamp: {field: timestamp, unit: ms}
      labels: {device: device, label_0: label_0}
      metrics:
        - {name: bench_counter_0_total, value: value, when: {metric: bench_counter_0_total}}
        - {name: bench_gauge_1, value: value, when: {metric: bench_gauge_1}}
`
	if stdout.String() != want {
		t.Errorf("got\n%s\nwant\n%s", stdout.String(), want)
	}
}

func TestDefaultURL(t *testing.T) {
	for protocol, want := range map[string]string{
		"":                "http://127.0.0.1:9201/api/v1/write",
		"remote_write":    "http://127.0.0.1:9201/api/v1/write",
		"json":            "http://127.0.0.1:9201/api/v1/push/vehicles",
		"influx":          "http://127.0.0.1:9201/write",
		"otlp":            "http://127.0.0.1:9201/v1/metrics",
		"prometheus_text": "http://127.0.0.1:9201/api/v1/import/prometheus",
	} {
		if got := defaultURL(&load.Shape{Schema: load.SchemaFleet, Protocol: protocol}); got != want {
			t.Errorf("%q: %s, want %s", protocol, got, want)
		}
	}
	if got := defaultURL(&load.Shape{Schema: load.SchemaGeneric, Protocol: "json"}); got != "http://127.0.0.1:9201/api/v1/push/bench" {
		t.Errorf("generic json: %s", got)
	}
}

func TestRealMainSendsOTLPAndText(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.URL.Path+" "+r.Header.Get("Content-Type")]++
		mu.Unlock()
		if r.URL.Path == "/v1/metrics" {
			w.WriteHeader(http.StatusOK) // an empty ExportMetricsServiceResponse
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, tc := range []struct{ protocol, path string }{{"otlp", "/v1/metrics"}, {"prometheus_text", "/api/v1/import/prometheus"}} {
		var stdout, stderr bytes.Buffer
		code := realMain([]string{"-protocol", tc.protocol, "-url", srv.URL + tc.path, "-rate", "400", "-duration", "500ms",
			"-series", "40", "-batch", "20", "-progress", "0"}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.protocol, code, stderr.String())
		}
		var sum load.Summary
		if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Protocol != tc.protocol || sum.SamplesAccepted != 200 || sum.SeriesPerDevice != 4 {
			t.Errorf("%s: summary %+v", tc.protocol, sum)
		}
	}
	want := map[string]int{"/v1/metrics application/x-protobuf": 10, "/api/v1/import/prometheus text/plain; version=0.0.4; charset=utf-8": 10}
	if !maps.Equal(got, want) {
		t.Errorf("requests %v, want %v", got, want)
	}
}

// TestRealMainMQTTDefaults: the vehicle events, 20 a message, to the
// broker (none here: every publish fails).
func TestRealMainMQTTDefaults(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-protocol", "mqtt", "-mqtt-broker", "tcp://" + addr, "-rate", "400", "-duration", "500ms",
		"-series", "60", "-progress", "0"}, &stdout, &stderr)
	var sum load.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if code != 1 || sum.Protocol != "mqtt" || sum.URL != "tcp://"+addr || sum.MQTTTopic != "vehicles/{gateway}/events" || sum.MQTTInflight != 64 ||
		sum.SeriesPerRequest != 20 || sum.SeriesPerDevice != 3 || sum.ExtraLabels != 0 || sum.Requests != 10 || sum.StatusCounts["error"] != 10 {
		t.Errorf("exit %d, summary %+v", code, sum)
	}
	if !strings.Contains(stderr.String(), "to tcp://"+addr+" topic vehicles/{gateway}/events") {
		t.Errorf("stderr %q", stderr.String())
	}
}
