package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/internal/testenv"
)

// sample is one sample of a series given as `name{a="b"}`.
type sample struct {
	series string
	ts     time.Time
	value  float64
}

// encodeWrite builds a remote write 1.0 request body from samples.
func encodeWrite(t testing.TB, samples ...sample) []byte {
	t.Helper()
	bySeries := map[string]*prompb.TimeSeries{}
	var order []string
	for _, s := range samples {
		ts, ok := bySeries[s.series]
		if !ok {
			ts = &prompb.TimeSeries{Labels: parseSeries(t, s.series)}
			bySeries[s.series] = ts
			order = append(order, s.series)
		}
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: s.ts.UnixMilli(), Value: s.value})
	}
	req := &prompb.WriteRequest{}
	for _, k := range order {
		req.Timeseries = append(req.Timeseries, *bySeries[k])
	}
	raw, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

// parseSeries parses `name{a="b",c="d"}` (no escapes needed in tests).
func parseSeries(t testing.TB, s string) []prompb.Label {
	t.Helper()
	name, rest, _ := strings.Cut(s, "{")
	ls := []prompb.Label{{Name: "__name__", Value: name}}
	rest = strings.TrimSuffix(rest, "}")
	if rest != "" {
		for _, pair := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(pair, "=")
			if !ok {
				t.Fatalf("bad series %q", s)
			}
			ls = append(ls, prompb.Label{Name: strings.TrimSpace(k), Value: strings.Trim(v, `"`)})
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	return ls
}

// post sends a remote write body and returns the status code and response text.
func post(t testing.TB, url string, body []byte, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(text)
}

// premetrics is a running premetrics binary.
type premetrics struct {
	proc    *testenv.Process
	addr    string
	config  string // the config file, for reload tests to rewrite
	storage string // --storage.path
	args    []string
}

func (p *premetrics) writeURL() string   { return "http://" + p.addr + "/api/v1/write" }
func (p *premetrics) metricsURL() string { return "http://" + p.addr + "/metrics" }

// startPremetrics writes config (with %ADDR% and %RW% replaced) and starts
// the binary with it and the extra command line arguments.
func startPremetrics(t *testing.T, config string, remoteWriteURL string, args ...string) *premetrics {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	config = strings.ReplaceAll(config, "%ADDR%", addr)
	config = strings.ReplaceAll(config, "%RW%", remoteWriteURL)
	dir := t.TempDir()
	file := filepath.Join(dir, "premetrics.yaml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	pm := &premetrics{addr: addr, config: file, storage: filepath.Join(dir, "data"), args: args}
	pm.start(t)
	return pm
}

// start starts the binary with p's config, storage and arguments.
func (p *premetrics) start(t *testing.T) {
	t.Helper()
	bin := testenv.BuildBinary(t, "github.com/premetrics/premetrics/cmd/premetrics")
	args := append([]string{"run", "--config.file=" + p.config, "--storage.path=" + p.storage, "--shutdown.timeout=20s"}, p.args...)
	p.proc = testenv.StartProcess(t, bin, args, "http://"+p.addr+"/-/ready")
}

// metricValue reads one sample of premetrics' /metrics, e.g.
// `premetrics_aggregate_late_samples_total{aggregation="gauges"}`; 0 when absent.
func metricValue(t testing.TB, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			if _, err := fmt.Sscanf(line[len(series)+1:], "%g", &v); err != nil {
				t.Fatalf("cannot parse %q: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// waitUntil sleeps until the wall clock reaches t (end-to-end tests run
// against real processes, so they follow the real clock).
func waitUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receiver is a remote-write receiver on 127.0.0.1 whose answers the test
// decides; respond gets the number of samples in each request.
type receiver struct{ url string }

func (r *receiver) URL() string { return r.url }

func startReceiver(t *testing.T, respond func(w http.ResponseWriter, samples int)) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		raw, err := snappy.Decode(nil, body)
		var req prompb.WriteRequest
		if err == nil {
			err = proto.Unmarshal(raw, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n := 0
		for _, ts := range req.Timeseries {
			n += len(ts.Samples)
		}
		respond(w, n)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &receiver{url: "http://" + ln.Addr().String() + "/api/v1/write"}
}
