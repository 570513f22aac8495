package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/ingest/jsonevent"
)

// pushServer mounts every input on a mux with a fake pipeline.
func pushServer(t *testing.T, p *fakePipeline, cfg Config) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	m, err := jsonevent.Compile(jsonevent.Config{
		Name:      "vehicles",
		Timestamp: &jsonevent.Timestamp{Field: "timestamp", Unit: "ms"},
		Labels:    map[string]string{"vehicle_id": "vehicleId", "region": "region"},
		Metrics: []jsonevent.Metric{
			{Name: "vehicle_rpm", Value: "measurement", Labels: map[string]string{"engine": "ic"}, When: map[string]jsonevent.Match{"eventType": {"IC_RPM"}}},
			{Name: "vehicle_warnings", Value: "measurement", When: map[string]jsonevent.Match{"eventType": {"WARNINGS"}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	Register(mux, cfg, Inputs{RemoteWrite: true, Influx: true, OTLP: true, PrometheusText: true, JSON: NewJSONInputs([]*jsonevent.Mapping{m})},
		p, NewMetrics(reg), nil)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, reg
}

type pushReq struct {
	path, contentType, encoding string
	body                        []byte
}

func doPush(t *testing.T, srv *httptest.Server, r pushReq) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.encoding != "" {
		req.Header.Set("Content-Encoding", r.encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	vehicleEvents = `{"eventType":"IC_RPM","vehicleId":"V0000000001","region":"UK","timestamp":1730621749123,"measurement":2356}
{"eventType":"WARNINGS","vehicleId":"V0000000001","region":"UK","timestamp":1730621749123,"measurement":2}
`
	vehicleSeries1 = `vehicle_rpm{engine="ic", region="UK", vehicle_id="V0000000001"} 08:15:49.123=2356`
	vehicleSeries2 = `vehicle_warnings{region="UK", vehicle_id="V0000000001"} 08:15:49.123=2`
)

func TestPushProtocolsReachThePipeline(t *testing.T) {
	cases := []struct {
		name string
		req  pushReq
		code int
		want []string
	}{
		{"json ndjson", pushReq{path: "/api/v1/push/vehicles", body: []byte(vehicleEvents)}, 204,
			[]string{vehicleSeries1, vehicleSeries2}},
		{"json gzip", pushReq{path: "/api/v1/push/vehicles", encoding: "gzip", body: gzipped(t, vehicleEvents)}, 204,
			[]string{vehicleSeries1, vehicleSeries2}},
		{"influx v1 precision ms", pushReq{path: "/write?db=x&precision=ms", body: []byte("cpu,host=a usage_idle=97.5 1730621749123\n")}, 204,
			[]string{`cpu_usage_idle{host="a"} 08:15:49.123=97.5`}},
		{"influx v2 default ns", pushReq{path: "/api/v2/write?org=o&bucket=b", body: []byte("mem,host=a used=5i 1730621749123000000\n")}, 204,
			[]string{`mem_used{host="a"} 08:15:49.123=5`}},
		{"prometheus text", pushReq{path: "/api/v1/import/prometheus", body: []byte("# TYPE up gauge\nup{job=\"a\"} 1 1730621749123\n")}, 204,
			[]string{`up{job="a"} 08:15:49.123=1`}},
		{"otlp json", pushReq{path: "/v1/metrics", contentType: "application/json", body: []byte(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeMetrics":[{"metrics":[{"name":"queue.depth","gauge":{"dataPoints":[{"timeUnixNano":"1730621749123000000","asDouble":3}]}}]}]}]}`)}, 200,
			[]string{`queue_depth{job="svc"} 08:15:49.123=3`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &fakePipeline{}
			srv, _ := pushServer(t, p, DefaultConfig())
			code, _, body := doPush(t, srv, c.req)
			if code != c.code {
				t.Fatalf("status %d, want %d; body %q", code, c.code, body)
			}
			got := p.ingested()
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("ingested\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestPushRefusals(t *testing.T) {
	small := DefaultConfig()
	small.MaxDecodedBytes = 64
	cases := []struct {
		name     string
		cfg      Config
		req      pushReq
		code     int
		contains string
	}{
		{"unknown json input", DefaultConfig(), pushReq{path: "/api/v1/push/trucks", body: []byte(vehicleEvents)}, 404, `no JSON input named "trucks" (inputs.json has vehicles)`},
		{"unsupported encoding", DefaultConfig(), pushReq{path: "/write", encoding: "br", body: []byte("x v=1")}, 415, `unsupported Content-Encoding "br"`},
		{"bad gzip", DefaultConfig(), pushReq{path: "/write", encoding: "gzip", body: []byte("not gzip")}, 400, "cannot decompress gzip body"},
		{"gzip over max_decoded_bytes", small, pushReq{path: "/write", encoding: "gzip", body: gzipped(t, strings.Repeat("cpu v=1\n", 100))}, 413, "max_decoded_bytes"},
		{"body over max_decoded_bytes", small, pushReq{path: "/write", body: []byte(strings.Repeat("cpu v=1\n", 100))}, 413, "max_decoded_bytes"},
		{"bad influx precision", DefaultConfig(), pushReq{path: "/write?precision=d", body: []byte("cpu v=1")}, 400, "invalid precision"},
		{"otlp content type", DefaultConfig(), pushReq{path: "/v1/metrics", contentType: "text/plain", body: []byte("x")}, 415, "application/x-protobuf or application/json"},
		{"array that is not json", DefaultConfig(), pushReq{path: "/api/v1/push/vehicles", body: []byte(`[{"a":1},`)}, 400, "invalid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &fakePipeline{}
			srv, _ := pushServer(t, p, c.cfg)
			code, _, body := doPush(t, srv, c.req)
			if code != c.code || !strings.Contains(body, c.contains) {
				t.Errorf("got %d %q, want %d containing %q", code, body, c.code, c.contains)
			}
			if n := len(p.ingested()); n != 0 {
				t.Errorf("%d series ingested from a refused request", n)
			}
		})
	}
}

// A partly bad request keeps its good items, answers 400 naming each bad
// one, and counts the rejections by protocol and reason.
func TestPushPartialRejection(t *testing.T) {
	p := &fakePipeline{}
	srv, reg := pushServer(t, p, DefaultConfig())
	body := vehicleEvents + `{"eventType":"IC_RPM","vehicleId":"V0000000002","region":"UK","timestamp":1730621749123}` + "\n" +
		`{"eventType":"DOOR","vehicleId":"V0000000003","region":"UK","timestamp":1730621749123,"measurement":1}` + "\n"
	code, _, msg := doPush(t, srv, pushReq{path: "/api/v1/push/vehicles", body: []byte(body)})
	if code != 400 {
		t.Fatalf("status %d, want 400", code)
	}
	for _, want := range []string{"json: accepted 2 samples of 2 series; rejected 2 items", "event 2: ", "missing_field", "event 3: ", "unmapped"} {
		if !strings.Contains(msg, want) {
			t.Errorf("body %q lacks %q", msg, want)
		}
	}
	if got := p.ingested(); len(got) != 2 {
		t.Errorf("ingested %v, want the 2 good events' series", got)
	}
	for reason, want := range map[string]float64{"missing_field": 1, "unmapped": 1} {
		c, err := metricValue(reg, "premetrics_ingest_rejected_samples_total", map[string]string{"protocol": "json", "reason": reason})
		if err != nil || c != want {
			t.Errorf("rejected{json,%s} = %v (%v), want %v", reason, c, err, want)
		}
	}
	if c, _ := metricValue(reg, "premetrics_ingest_requests_total", map[string]string{"protocol": "json", "code": "400"}); c != 1 {
		t.Errorf("requests{json,400} = %v, want 1", c)
	}
	if c, _ := metricValue(reg, "premetrics_ingest_samples_total", map[string]string{"protocol": "json"}); c != 2 {
		t.Errorf("samples{json} = %v, want 2", c)
	}
}

// OTLP answers a partly bad request 200 with partial_success, as the
// protocol requires (a 400 would make the sender retry or drop it all).
func TestPushOTLPPartialSuccess(t *testing.T) {
	p := &fakePipeline{}
	srv, _ := pushServer(t, p, DefaultConfig())
	body := `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
	  {"name":"ok","gauge":{"dataPoints":[{"timeUnixNano":"1730621749123000000","asDouble":1}]}},
	  {"name":"eh","exponentialHistogram":{"dataPoints":[{"timeUnixNano":"1730621749123000000","count":"1","scale":0}]}}]}]}]}`
	code, hdr, msg := doPush(t, srv, pushReq{path: "/v1/metrics", contentType: "application/json", body: []byte(body)})
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q, want 200 application/json", code, hdr.Get("Content-Type"))
	}
	if !strings.Contains(msg, `"rejectedDataPoints":"1"`) || !strings.Contains(msg, "unsupported") {
		t.Errorf("body %q: want a partial success naming the rejected point", msg)
	}
	if got := p.ingested(); len(got) != 1 {
		t.Errorf("ingested %v, want the gauge", got)
	}
}

// Overload answers 429 with Retry-After and ingests nothing.
func TestPushBackpressure(t *testing.T) {
	for name, s := range map[string]script{
		"not admitted": {refuse: true},
		"backoff":      {err: retryHint{d: 3e9}},
	} {
		t.Run(name, func(t *testing.T) {
			p := &fakePipeline{script: s}
			srv, _ := pushServer(t, p, DefaultConfig())
			code, hdr, _ := doPush(t, srv, pushReq{path: "/write", body: []byte("cpu v=1\n")})
			if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
				t.Errorf("status %d, Retry-After %q; want 429 with a hint", code, hdr.Get("Retry-After"))
			}
		})
	}
	p := &fakePipeline{script: script{err: errors.New("down")}}
	srv, _ := pushServer(t, p, DefaultConfig())
	if code, hdr, _ := doPush(t, srv, pushReq{path: "/write", body: []byte("cpu v=1\n")}); code != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("pipeline failure: status %d, want 503 with Retry-After", code)
	}
}

// OTLP answers a refused request with a google.rpc.Status in the
// request's encoding, as OTLP/HTTP requires.
func TestPushOTLPErrorIsAStatus(t *testing.T) {
	srv, _ := pushServer(t, &fakePipeline{}, DefaultConfig())
	code, hdr, body := doPush(t, srv, pushReq{path: "/v1/metrics", contentType: "application/json", body: []byte(`{"resourceMetrics": [`)})
	if code != 400 || hdr.Get("Content-Type") != "application/json" || !strings.HasPrefix(body, `{"code":3,"message":"`) {
		t.Errorf("malformed JSON: %d %q %q, want 400 with a JSON Status of code 3", code, hdr.Get("Content-Type"), body)
	}
	p := &fakePipeline{script: script{refuse: true}}
	srv, _ = pushServer(t, p, DefaultConfig())
	code, hdr, body = doPush(t, srv, pushReq{path: "/v1/metrics", contentType: "application/x-protobuf", body: nil})
	// Status{1 code: 8 RESOURCE_EXHAUSTED, 2 message}.
	if code != 429 || hdr.Get("Content-Type") != "application/x-protobuf" || hdr.Get("Retry-After") == "" ||
		!strings.HasPrefix(body, "\x08\x08\x12") || !strings.Contains(body, "the pipeline is busy") {
		t.Errorf("busy: %d %q %q Retry-After %q, want 429 with a protobuf Status of code 8", code, hdr.Get("Content-Type"), body, hdr.Get("Retry-After"))
	}
}

func TestInfluxCompatibilityEndpoints(t *testing.T) {
	srv, _ := pushServer(t, &fakePipeline{}, DefaultConfig())
	if code, _, body := doPush(t, srv, pushReq{path: "/query?q=CREATE+DATABASE+telegraf"}); code != 200 || !strings.Contains(body, "results") {
		t.Errorf("/query: %d %q", code, body)
	}
	resp, err := http.Get(srv.URL + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Errorf("/ping: %d, want 204", resp.StatusCode)
	}
}

// metricValue reads one counter of reg.
func metricValue(reg *prometheus.Registry, name string, labels map[string]string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue(), nil
		}
	}
	return 0, errors.New("not found")
}
