package ingest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/ingest/promrw"
)

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.MaxRequestBytes = 4096
	cfg.MaxDecodedBytes = 8192
	cfg.MaxConcurrentRequests = 2
	cfg.MaxLabelsPerSeries = 4
	return cfg
}

func TestRemoteWriteHandlerStatus(t *testing.T) {
	good := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("__name__", "vehicle_rpm", "vehicle_id", "V0000000001", "engine", "ic"),
		series("__name__", "vehicle_warnings", "vehicle_id", "V0000000001"),
	}})
	goodIngested := []string{
		`vehicle_rpm{engine="ic", vehicle_id="V0000000001"} 00:00:01.000=1 00:00:02.000=2`,
		`vehicle_warnings{vehicle_id="V0000000001"} 00:00:01.000=1 00:00:02.000=2`,
	}
	partial := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("__name__", "vehicle_rpm", "vehicle_id", "V0000000001", "engine", "ic"),
		series("__name__", "m", "a", "1", "b", "2", "c", "3", "d", "4"),
		series("vehicle_id", "V0000000002"),
		series("__name__", "vehicle_warnings", "vehicle_id", "V0000000001"),
	}})
	malformedProto := snappy.Encode(nil, []byte{0x0a, 0x05, 0x00})
	tooBigDecoded := snappy.Encode(nil, make([]byte, 9000))
	post := func(body []byte, mutate ...func(r *http.Request)) func() *http.Request {
		return func() *http.Request {
			r := newRemoteWriteRequest(body)
			for _, m := range mutate {
				m(r)
			}
			return r
		}
	}
	header := func(k, v string) func(r *http.Request) {
		return func(r *http.Request) {
			if v == "" {
				r.Header.Del(k)
			} else {
				r.Header.Set(k, v)
			}
		}
	}
	tests := []struct {
		name       string
		req        func() *http.Request
		script     script
		code       int
		body       string // exact response body
		retryAfter string
		allow      string
		ingested   []string
		samples    float64
		rejected   map[string]float64
	}{
		{name: "accepted", req: post(good), code: 204, ingested: goodIngested, samples: 4},
		{name: "accepted with explicit proto", req: post(good, header("Content-Type", "application/x-protobuf; proto=prometheus.WriteRequest")),
			code: 204, ingested: goodIngested, samples: 4},
		{name: "accepted without content type and encoding", req: post(good, header("Content-Type", ""), header("Content-Encoding", "")),
			code: 204, ingested: goodIngested, samples: 4},
		{name: "empty request", req: post(nil), code: 204},
		{name: "metadata only", req: post(encodeRequest(t, &prompb.WriteRequest{Metadata: []prompb.MetricMetadata{{MetricFamilyName: "m"}}})), code: 204},
		{name: "malformed snappy", req: post([]byte("hello")), code: 400,
			body: "cannot decompress snappy body: corrupt input\n"},
		{name: "malformed protobuf", req: post(malformedProto), code: 400,
			body: "cannot parse WriteRequest: timeseries[0] at decoded byte 1: length 5 exceeds the 1 remaining bytes\n"},
		{name: "partly rejected keeps good data", req: post(partial), code: 400,
			body: "accepted 4 samples of 2 series; rejected 4 samples of 2 series\n" +
				`m{a="1", b="2", c="3", d="4"}: too_many_labels: 5 labels, limit 4 (2 samples)` + "\n" +
				`{vehicle_id="V0000000002"}: missing_metric_name: no __name__ label (2 samples)` + "\n",
			ingested: goodIngested, samples: 4,
			rejected: map[string]float64{"too_many_labels": 2, "missing_metric_name": 2}},
		{name: "method not allowed", req: func() *http.Request { return httptest.NewRequest(http.MethodGet, RemoteWritePath, nil) },
			code: 405, allow: "POST", body: "method GET is not allowed; use POST\n"},
		{name: "body over limit by content length", req: post(make([]byte, 5000)), code: 413,
			body: "request body of 5000 bytes is over the limit of 4096 bytes (max_request_bytes)\n"},
		{name: "chunked body over limit", req: post(make([]byte, 5000), func(r *http.Request) {
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(make([]byte, 5000)))
		}), code: 413, body: "request body is over the limit of 4096 bytes (max_request_bytes)\n"},
		{name: "body longer than its content length", req: post(good, func(r *http.Request) {
			r.ContentLength = 10
		}), code: 400, body: "cannot read request body: request body is longer than its Content-Length\n"},
		{name: "decoded size over limit", req: post(tooBigDecoded), code: 413,
			body: "cannot decode request: decoded body would be 9000 bytes, limit 8192 (max_decoded_bytes)\n"},
		{name: "unsupported encoding", req: post(good, header("Content-Encoding", "gzip")), code: 415,
			body: `unsupported Content-Encoding "gzip": remote write 1.0 bodies are snappy-compressed` + "\n"},
		{name: "unsupported content type", req: post(good, header("Content-Type", "application/json")), code: 415,
			body: `unsupported Content-Type "application/json": want application/x-protobuf (remote write 1.0)` + "\n"},
		{name: "remote write 2.0", req: post(good, header("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")), code: 415,
			body: "remote write 2.0 is not supported yet; send remote write 1.0 (proto=prometheus.WriteRequest)\n"},
		{name: "unknown proto", req: post(good, header("Content-Type", "application/x-protobuf;proto=foo.Bar")), code: 415,
			body: `unsupported proto "foo.Bar" in Content-Type: want prometheus.WriteRequest` + "\n"},
		{name: "not admitted", req: post(good), script: script{refuse: true, retryAfter: 2500 * time.Millisecond},
			code: 429, retryAfter: "3", body: "the pipeline is busy; retry later\n"},
		{name: "not admitted without hint", req: post(good), script: script{refuse: true},
			code: 429, retryAfter: "1", body: "the pipeline is busy; retry later\n"},
		{name: "pipeline backoff", req: post(good), script: script{err: retryHint{5 * time.Second}},
			code: 429, retryAfter: "5", body: "cannot ingest: queue full\n", ingested: goodIngested},
		{name: "pipeline backoff wrapped", req: post(good), script: script{err: errors.Join(errors.New("shard 3"), ErrBackoff)},
			code: 429, retryAfter: "1", body: "cannot ingest: shard 3\npipeline is busy\n", ingested: goodIngested},
		{name: "pipeline failure", req: post(good), script: script{err: errors.New("disk queue closed")},
			code: 503, retryAfter: "1", body: "cannot ingest: disk queue closed\n", ingested: goodIngested},
		{name: "pipeline failure after partial rejection", req: post(partial), script: script{err: errors.New("down")},
			code: 503, retryAfter: "1", body: "cannot ingest: down\n", ingested: goodIngested},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			p := &fakePipeline{script: tc.script}
			h := NewRemoteWriteHandler(testConfig(), p, m, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req())

			if w.Code != tc.code {
				t.Errorf("code %d, want %d (body %q)", w.Code, tc.code, w.Body.String())
			}
			if tc.code != 204 && w.Body.String() != tc.body {
				t.Errorf("body:\n%s\nwant:\n%s", w.Body.String(), tc.body)
			}
			if tc.code == 204 && w.Body.Len() != 0 {
				t.Errorf("204 with a body %q", w.Body.String())
			}
			if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if got := p.ingested(); !reflect.DeepEqual(got, tc.ingested) {
				t.Errorf("ingested:\n%q\nwant\n%q", got, tc.ingested)
			}
			if got := testutil.ToFloat64(m.requests.WithLabelValues(ProtocolRemoteWrite, strconv.Itoa(tc.code))); got != 1 {
				t.Errorf("requests_total{code=%d} = %v, want 1", tc.code, got)
			}
			if got := testutil.ToFloat64(m.samples.WithLabelValues(ProtocolRemoteWrite)); got != tc.samples {
				t.Errorf("samples_total = %v, want %v", got, tc.samples)
			}
			for reason := promrw.Reason(1); reason < promrw.NumReasons; reason++ {
				got := testutil.ToFloat64(m.rejected.WithLabelValues(ProtocolRemoteWrite, reason.String()))
				if got != tc.rejected[reason.String()] {
					t.Errorf("rejected_samples_total{reason=%s} = %v, want %v", reason, got, tc.rejected[reason.String()])
				}
			}
			if n := testutil.CollectAndCount(m.duration); n != 1 {
				t.Errorf("%d duration series", n)
			}
		})
	}
}

func TestRemoteWriteHandlerMetricsExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h := NewRemoteWriteHandler(testConfig(), &fakePipeline{}, m, nil)
	body := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("__name__", "a"), series("__name__", "b", "x", "\xff"),
	}})
	for range 3 {
		h.ServeHTTP(httptest.NewRecorder(), newRemoteWriteRequest(body))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, RemoteWritePath, nil))
	want := `
# HELP premetrics_ingest_requests_total Ingest requests by protocol and HTTP status code.
# TYPE premetrics_ingest_requests_total counter
premetrics_ingest_requests_total{code="204",protocol="remote_write"} 0
premetrics_ingest_requests_total{code="400",protocol="remote_write"} 3
premetrics_ingest_requests_total{code="405",protocol="remote_write"} 1
premetrics_ingest_requests_total{code="413",protocol="remote_write"} 0
premetrics_ingest_requests_total{code="415",protocol="remote_write"} 0
premetrics_ingest_requests_total{code="429",protocol="remote_write"} 0
premetrics_ingest_requests_total{code="499",protocol="remote_write"} 0
premetrics_ingest_requests_total{code="503",protocol="remote_write"} 0
# HELP premetrics_ingest_samples_total Samples accepted by the pipeline, by protocol.
# TYPE premetrics_ingest_samples_total counter
premetrics_ingest_samples_total{protocol="remote_write"} 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"premetrics_ingest_requests_total", "premetrics_ingest_samples_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(m.rejected.WithLabelValues(ProtocolRemoteWrite, "invalid_label_value")); got != 6 {
		t.Errorf("rejected invalid_label_value = %v, want 6", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"defaults", func(c *Config) {}, ""},
		{"any port", func(c *Config) { c.ListenAddress = ":0" }, ""},
		{"ipv6", func(c *Config) { c.ListenAddress = "[::1]:9201" }, ""},
		{"no queue wait", func(c *Config) { c.RequestQueueTimeout = 0 }, ""},
		{"missing port", func(c *Config) { c.ListenAddress = "localhost" },
			`listen_address: must be host:port, got "localhost": address localhost: missing port in address`},
		{"bad port", func(c *Config) { c.ListenAddress = "127.0.0.1:http" },
			`listen_address: port must be a number in 0..65535, got "127.0.0.1:http"`},
		{"port too large", func(c *Config) { c.ListenAddress = "127.0.0.1:70000" },
			`listen_address: port must be a number in 0..65535, got "127.0.0.1:70000"`},
		{"request bytes", func(c *Config) { c.MaxRequestBytes = 0 }, "max_request_bytes: must be > 0, got 0"},
		{"decoded bytes", func(c *Config) { c.MaxDecodedBytes = -1 }, "max_decoded_bytes: must be in 1..4294967295, got -1"},
		{"decoded bytes too large", func(c *Config) { c.MaxDecodedBytes = 1 << 33 }, "max_decoded_bytes: must be in 1..4294967295, got 8589934592"},
		{"concurrency", func(c *Config) { c.MaxConcurrentRequests = -1 }, "max_concurrent_requests: must be > 0, got -1"},
		{"queue timeout", func(c *Config) { c.RequestQueueTimeout = model.Duration(-time.Second) }, "request_queue_timeout: must be >= 0, got -1s"},
		{"labels", func(c *Config) { c.MaxLabelsPerSeries = 0 }, "max_labels_per_series: must be > 0, got 0"},
		{"name length", func(c *Config) { c.MaxLabelNameLength = 0 }, "max_label_name_length: must be > 0, got 0"},
		{"value length", func(c *Config) { c.MaxLabelValueLength = -5 }, "max_label_value_length: must be > 0, got -5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
