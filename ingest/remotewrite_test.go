package ingest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/premetrics/premetrics/ingest/outcome"
)

// supportedProtos is how a 415 names what the endpoint takes.
const supportedProtos = "proto=prometheus.WriteRequest (remote write 1.0) or proto=io.prometheus.write.v2.Request (remote write 2.0)"

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
			body: "remote write 1.0: accepted 4 samples of 2 series; rejected 2 items (4 samples)\n" +
				`series 1: m{a="1", b="2", c="3", d="4"}: too_many_labels: 5 labels, limit 4` + "\n" +
				`series 2: {vehicle_id="V0000000002"}: missing_metric_name: no __name__ label` + "\n",
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
			body: `unsupported Content-Encoding "gzip": remote write bodies are snappy-compressed` + "\n"},
		{name: "unsupported content type", req: post(good, header("Content-Type", "application/json")), code: 415,
			body: `unsupported Content-Type "application/json": want application/x-protobuf with ` + supportedProtos + "\n"},
		{name: "unknown proto", req: post(good, header("Content-Type", "application/x-protobuf;proto=foo.Bar")), code: 415,
			body: `unsupported proto "foo.Bar" in Content-Type: want ` + supportedProtos + "\n"},
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
			for reason := outcome.Reason(1); reason < outcome.NumReasons; reason++ {
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

const contentTypeV2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"

// TestRemoteWriteHandlerNegotiation: the proto parameter of Content-Type
// picks the decoder; every 2.0 answer says what was written.
func TestRemoteWriteHandlerNegotiation(t *testing.T) {
	v1 := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		series("__name__", "vehicle_rpm", "vehicle_id", "V0000000001", "engine", "ic"),
		series("__name__", "vehicle_warnings", "vehicle_id", "V0000000001"),
	}})
	v2 := encodeRequestV2(t, requestV2(
		[]string{"__name__", "vehicle_rpm", "vehicle_id", "V0000000001", "engine", "ic"},
		[]string{"__name__", "vehicle_warnings", "vehicle_id", "V0000000001"},
	))
	ingested := []string{
		`vehicle_rpm{engine="ic", vehicle_id="V0000000001"} 00:00:01.000=1 00:00:02.000=2`,
		`vehicle_warnings{vehicle_id="V0000000001"} 00:00:01.000=1 00:00:02.000=2`,
	}
	partial := requestV2(
		[]string{"__name__", "vehicle_rpm", "vehicle_id", "V0000000001", "engine", "ic"},
		[]string{"vehicle_id", "V0000000002"},
		[]string{"__name__", "vehicle_speed", "vehicle_id"}, // odd references
		[]string{"__name__", "vehicle_warnings", "vehicle_id", "V0000000001"},
		[]string{"__name__", "latency"},
	)
	// A native histogram next to the float samples of the last series,
	// and a series of native histograms only.
	partial.Timeseries[4].Histograms = []writev2.Histogram{{Timestamp: 3000, Count: &writev2.Histogram_CountInt{CountInt: 1}}}
	histOnly := requestV2([]string{"__name__", "latency"})
	histOnly.Timeseries[0].Samples = nil
	histOnly.Timeseries[0].Histograms = []writev2.Histogram{{Timestamp: 1000, Count: &writev2.Histogram_CountInt{CountInt: 1}}}
	zero := &[3]string{"0", "0", "0"}
	tests := []struct {
		name        string
		contentType string // "-" for none
		encoding    string
		body        []byte
		script      script
		code        int
		respBody    string     // exact, unless code is 204
		written     *[3]string // samples, histograms, exemplars headers; nil: absent
		ingested    []string
		samples     float64
		rejected    map[string]float64
	}{
		{name: "1.0 without content type", contentType: "-", body: v1, code: 204, ingested: ingested, samples: 4},
		{name: "1.0 without proto", contentType: "application/x-protobuf", body: v1, code: 204, ingested: ingested, samples: 4},
		{name: "1.0 with proto", contentType: "application/x-protobuf;proto=prometheus.WriteRequest", body: v1, code: 204, ingested: ingested, samples: 4},
		{name: "2.0", contentType: contentTypeV2, body: v2, code: 204, written: &[3]string{"4", "0", "0"}, ingested: ingested, samples: 4},
		{name: "2.0 quoted, with spaces and another parameter", contentType: `Application/X-Protobuf; charset=binary; proto="io.prometheus.write.v2.Request"`,
			body: v2, code: 204, written: &[3]string{"4", "0", "0"}, ingested: ingested, samples: 4},
		{name: "2.0 empty request", contentType: contentTypeV2, code: 204, written: zero},
		{name: "2.0 partly rejected", contentType: contentTypeV2, body: encodeRequestV2(t, partial), code: 400,
			respBody: "remote write 2.0: accepted 6 samples of 3 series; rejected 3 items (5 samples)\n" +
				`series 1: {vehicle_id="V0000000002"}: missing_metric_name: no __name__ label` + "\n" +
				`series 2: vehicle_speed{}: malformed: 3 labels_refs: want name/value pairs, an even number` + "\n" +
				`series 4: latency{}: native_histogram_unsupported: 1 native histogram samples dropped; 2 float samples kept` + "\n",
			written:  &[3]string{"6", "0", "0"},
			ingested: append(slices.Clone(ingested), `latency{} 00:00:01.000=1 00:00:02.000=2`), samples: 6,
			rejected: map[string]float64{"missing_metric_name": 2, "malformed": 2, "native_histogram_unsupported": 1}},
		{name: "2.0 native histograms only", contentType: contentTypeV2, body: encodeRequestV2(t, histOnly), code: 400,
			respBody: "remote write 2.0: accepted 0 samples of 0 series; rejected 1 items (1 samples)\n" +
				"series 0: latency{}: native_histogram_unsupported: 1 native histogram samples dropped; the series has no float samples\n",
			written: zero, rejected: map[string]float64{"native_histogram_unsupported": 1}},
		{name: "2.0 malformed", contentType: contentTypeV2, body: snappy.Encode(nil, []byte{0x2a, 0x05, 0x00}), code: 400,
			respBody: "cannot parse io.prometheus.write.v2.Request: timeseries[0] at decoded byte 1: length 5 exceeds the 1 remaining bytes\n",
			written:  zero},
		{name: "2.0 decoded size over limit", contentType: contentTypeV2, body: snappy.Encode(nil, make([]byte, 9000)), code: 413,
			respBody: "cannot decode request: decoded body would be 9000 bytes, limit 8192 (max_decoded_bytes)\n", written: zero},
		{name: "2.0 pipeline failure", contentType: contentTypeV2, body: v2, script: script{err: errors.New("disk queue closed")}, code: 503,
			respBody: "cannot ingest: disk queue closed\n", written: zero, ingested: ingested},
		{name: "2.0 not admitted", contentType: contentTypeV2, body: v2, script: script{refuse: true}, code: 429,
			respBody: "the pipeline is busy; retry later\n", written: zero},
		{name: "1.0 body sent as 2.0", contentType: contentTypeV2, body: v1, code: 400,
			respBody: "cannot parse io.prometheus.write.v2.Request at decoded byte 0: field 1 is reserved in remote write 2.0: is this a remote write 1.0 WriteRequest? Send it with proto=prometheus.WriteRequest\n",
			written:  zero},
		{name: "2.0 body sent as 1.0", contentType: "application/x-protobuf", body: v2, code: 400,
			respBody: "cannot parse WriteRequest at decoded byte 0: field 4 is not in a WriteRequest but is in a remote write 2.0 Request: send it with proto=io.prometheus.write.v2.Request\n"},
		{name: "unknown proto", contentType: "application/x-protobuf;proto=io.prometheus.write.v3.Request", body: v2, code: 415,
			respBody: `unsupported proto "io.prometheus.write.v3.Request" in Content-Type: want ` + supportedProtos + "\n"},
		{name: "bad content type", contentType: "application/json; proto=io.prometheus.write.v2.Request", body: v2, code: 415,
			respBody: `unsupported Content-Type "application/json; proto=io.prometheus.write.v2.Request": want application/x-protobuf with ` + supportedProtos + "\n"},
		{name: "2.0 with an unsupported encoding", contentType: contentTypeV2, encoding: "zstd", body: v2, code: 415,
			respBody: `unsupported Content-Encoding "zstd": remote write bodies are snappy-compressed` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics(prometheus.NewRegistry())
			p := &fakePipeline{script: tc.script}
			h := NewRemoteWriteHandler(testConfig(), p, m, nil)
			r := newRemoteWriteRequest(tc.body)
			switch tc.contentType {
			case "-":
				r.Header.Del("Content-Type")
			default:
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.encoding != "" {
				r.Header.Set("Content-Encoding", tc.encoding)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if w.Code != tc.code {
				t.Errorf("code %d, want %d (body %q)", w.Code, tc.code, w.Body.String())
			}
			if tc.code == 204 && w.Body.Len() != 0 {
				t.Errorf("204 with a body %q", w.Body.String())
			}
			if tc.code != 204 && w.Body.String() != tc.respBody {
				t.Errorf("body:\n%s\nwant:\n%s", w.Body.String(), tc.respBody)
			}
			hdr := w.Header()
			got := [3]string{hdr.Get(headerSamplesWritten), hdr.Get(headerHistogramsWritten), hdr.Get(headerExemplarsWritten)}
			_, present := hdr[headerSamplesWritten]
			switch {
			case tc.written == nil && present:
				t.Errorf("written headers %q on a request that is not 2.0", got)
			case tc.written != nil && got != *tc.written:
				t.Errorf("written headers %q, want %q", got, *tc.written)
			}
			if got := p.ingested(); !reflect.DeepEqual(got, tc.ingested) {
				t.Errorf("ingested:\n%q\nwant\n%q", got, tc.ingested)
			}
			if got := testutil.ToFloat64(m.samples.WithLabelValues(ProtocolRemoteWrite)); got != tc.samples {
				t.Errorf("samples_total = %v, want %v", got, tc.samples)
			}
			for reason := outcome.Reason(1); reason < outcome.NumReasons; reason++ {
				got := testutil.ToFloat64(m.rejected.WithLabelValues(ProtocolRemoteWrite, reason.String()))
				if got != tc.rejected[reason.String()] {
					t.Errorf("rejected_samples_total{reason=%s} = %v, want %v", reason, got, tc.rejected[reason.String()])
				}
			}
			if got := testutil.ToFloat64(m.requests.WithLabelValues(ProtocolRemoteWrite, strconv.Itoa(tc.code))); got != 1 {
				t.Errorf("requests_total{code=%d} = %v, want 1", tc.code, got)
			}
		})
	}
}
