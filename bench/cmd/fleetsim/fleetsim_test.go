package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
)

func TestRealMainRefusesRemoteURL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := realMain([]string{"-url", "http://192.0.2.10:9201/api/v1/write", "-duration", "1s"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "is not a loopback address") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:04:15 GMT": 10 * time.Second,
		"Fri, 02 Jan 2026 03:04:00 GMT": 0,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

// receiver is a fake premetrics: it decodes remote write with promrw and
// NDJSON (plain or gzipped) with jsonevent and the vehicles input of
// config.example.yaml, records what arrived when, and answers the first
// `throttle` requests with 429.
type receiver struct {
	mu       sync.Mutex
	vehicles *jsonevent.Mapping // nil: remote write only
	throttle int
	samples  int
	series   map[string]bool
	arrivals []time.Time
	late     int // requests whose newest sample is older than 3 s on arrival

	jsonRequests int
}

// vehiclesInput compiles the vehicles input of config.example.yaml.
func vehiclesInput(t *testing.T) *jsonevent.Mapping {
	t.Helper()
	cfg, err := config.LoadFile(filepath.Join("..", "..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Inputs.JSON {
		if c.Name == "vehicles" {
			m, err := jsonevent.Compile(c)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatal("config.example.yaml has no JSON input vehicles")
	return nil
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.throttle > 0 {
		rc.throttle--
		w.Header().Set("Retry-After", "2")
		http.Error(w, "busy", http.StatusTooManyRequests)
		return
	}
	b := &batch.Batch{}
	var res outcome.Result
	var err error
	switch r.Header.Get("Content-Type") {
	case "application/x-ndjson":
		if rc.vehicles == nil {
			http.Error(w, "no JSON input", http.StatusNotFound)
			return
		}
		if r.Header.Get("Content-Encoding") == "gzip" {
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
				body, err = io.ReadAll(zr)
			}
		}
		if err == nil {
			s := jsonevent.GetScratch()
			err = rc.vehicles.Decode(body, b, outcome.Limits{MaxLabelsPerSeries: 8, MaxLineBytes: 1024}, 1, s, &res)
			jsonevent.PutScratch(s)
		}
		rc.jsonRequests++
	case "application/x-protobuf":
		err = promrw.Decode(body, b, outcome.Limits{MaxLabelsPerSeries: 8}, &res)
	default:
		http.Error(w, "content type", http.StatusUnsupportedMediaType)
		return
	}
	if err != nil || res.RejectedItems > 0 {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	newest := int64(0)
	for _, s := range b.Series {
		rc.series[batch.String(s.Labels)] = true
		newest = max(newest, s.Samples[0].Timestamp)
	}
	if time.Since(time.UnixMilli(newest)) > 3*time.Second {
		rc.late++
	}
	rc.samples += res.Samples
	rc.arrivals = append(rc.arrivals, time.Now())
	w.WriteHeader(http.StatusNoContent)
}

// handlerTransport serves requests in-process, so the test runs inside a
// synctest bubble without a network.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

func TestRunSendsFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &receiver{throttle: 1, series: map[string]bool{}}
		client := &http.Client{Transport: handlerTransport{rc}, Timeout: time.Second}
		o := options{
			Protocol: protocolRemoteWrite, Vehicles: 10, Interval: time.Second, Duration: 10 * time.Second,
			Seed: 4, Batch: 7, Concurrency: 2, LateFraction: 0.3, LateDelay: 4 * time.Second, Retries: 2,
			Progress: 5 * time.Second, TruthWindow: 5 * time.Second,
		}
		var out bytes.Buffer
		began := time.Now()
		s, err := run(t.Context(), o, client, &out)
		if err != nil {
			t.Fatal(err)
		}
		// 10 ticks of 30 series in requests of at most 7: 5 requests per tick.
		if s.Ticks != 10 || s.Requests != 50 || s.SamplesGenerated != 300 || s.SamplesSent != 300 || s.Series != 30 {
			t.Errorf("summary %+v", s)
		}
		if s.Retries != 1 || s.FailedRequests != 0 || s.Attempts != 51 ||
			s.StatusCounts["204"] != 50 || s.StatusCounts["429"] != 1 || len(s.StatusCounts) != 2 {
			t.Errorf("retries %d, failed %d, attempts %d, status %v", s.Retries, s.FailedRequests, s.Attempts, s.StatusCounts)
		}
		if rc.samples != 300 || len(rc.series) != 30 {
			t.Errorf("receiver got %d samples of %d series", rc.samples, len(rc.series))
		}
		if s.LateRequests == 0 || rc.late != int(s.LateRequests) {
			t.Errorf("%d late requests made, %d arrived late", s.LateRequests, rc.late)
		}
		// The run lasts its duration (from an interval boundary) plus the late delay.
		if elapsed := time.Since(began); elapsed < 10*time.Second || elapsed > 15*time.Second {
			t.Errorf("ran for %s", elapsed)
		}
		if got := strings.Count(out.String(), "fleetsim: 5s:") + strings.Count(out.String(), "fleetsim: 10s:"); got != 2 {
			t.Errorf("progress lines:\n%s", out.String())
		}
		complete := 0
		for _, w := range s.Expected.Windows {
			if w.Complete {
				complete++
				if w.VehiclesReporting != 10 {
					t.Errorf("complete window %+v without every vehicle", w)
				}
			}
		}
		if complete < 1 {
			t.Errorf("no complete window in %+v", s.Expected.Windows)
		}
		want := "fleetsim: sent 300 of 300 samples (30 series, 10 vehicles) as remote_write in 50 requests over "
		if line := s.line(); !strings.HasPrefix(line, want) || !strings.HasSuffix(line, "; 1 retries, 0 failed requests; non-2xx responses: 429=1") {
			t.Errorf("line %q", line)
		}
	})
}

func TestRunReportsFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "pipeline down\nsecond line", http.StatusServiceUnavailable)
		})
		client := &http.Client{Transport: handlerTransport{failing}}
		o := options{
			Protocol: protocolJSON, URL: "http://localhost:9201/api/v1/push/vehicles", Vehicles: 2, Interval: time.Second, Duration: time.Second,
			Seed: 1, Batch: 100, Concurrency: 1, Retries: 2, TruthWindow: 5 * time.Second,
		}
		var out bytes.Buffer
		s, err := run(t.Context(), o, client, &out)
		if err != nil {
			t.Fatal(err)
		}
		if s.FailedRequests != 1 || s.SamplesFailed != 6 || s.Attempts != 3 || s.StatusCounts["503"] != 3 {
			t.Errorf("summary %+v", s)
		}
		if want := "fleetsim: request of 6 samples failed after 3 attempts: 503: pipeline down\n"; out.String() != want {
			t.Errorf("output %q, want %q", out.String(), want)
		}
	})
}

func TestSummaryFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &receiver{series: map[string]bool{}}
		client := &http.Client{Transport: handlerTransport{rc}}
		o := options{Protocol: protocolRemoteWrite, URL: "http://127.0.0.1:1/", Vehicles: 3, Interval: 500 * time.Millisecond, Duration: 6 * time.Second,
			Seed: 1, Batch: 1000, Concurrency: 1, TruthWindow: 5 * time.Second}
		s, err := run(t.Context(), o, client, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "summary.json")
		if err := s.writeFile(path); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"requests", "samples_sent", "series", "status_counts", "expected"} {
			if _, ok := got[key]; !ok {
				t.Errorf("summary has no %q: %s", key, data)
			}
		}
		if got["samples_sent"].(float64) != 3*3*12 {
			t.Errorf("samples_sent %v", got["samples_sent"])
		}
	})
}

func TestRunSendsJSONEvents(t *testing.T) {
	for _, gz := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			rc := &receiver{vehicles: vehiclesInput(t), throttle: 1, series: map[string]bool{}}
			client := &http.Client{Transport: handlerTransport{rc}, Timeout: time.Second}
			o := options{
				Protocol: protocolJSON, Gzip: gz, Vehicles: 10, Interval: time.Second, Duration: 10 * time.Second,
				Seed: 4, Batch: 7, Concurrency: 2, Retries: 2, TruthWindow: 5 * time.Second,
			}
			s, err := run(t.Context(), o, client, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if s.URL != defaultJSONURL || s.Protocol != protocolJSON || s.Gzip != gz || s.ModelLabel {
				t.Errorf("url %q, protocol %q, gzip %v, model label %v", s.URL, s.Protocol, s.Gzip, s.ModelLabel)
			}
			// 10 ticks of 30 events in requests of at most 7: 5 requests per tick.
			if s.Requests != 50 || s.SamplesGenerated != 300 || s.SamplesSent != 300 || s.Retries != 1 || s.BodyBytes == 0 {
				t.Errorf("summary %+v", s)
			}
			if rc.jsonRequests != 50 || rc.samples != 300 || len(rc.series) != 30 {
				t.Errorf("receiver got %d JSON requests, %d samples of %d series", rc.jsonRequests, rc.samples, len(rc.series))
			}
			for key := range rc.series {
				if strings.Contains(key, "model=") || !strings.Contains(key, "region=") {
					t.Errorf("series %s", key)
				}
			}
			for _, w := range s.Expected.Windows {
				if w.WarningsByRegion == nil || w.WarningsByModelRegion == nil {
					t.Fatalf("window %+v: want per region and per model and region (the model joins from the registry)", w)
				}
			}
			if want := "fleetsim: sent 300 of 300 events (30 series, 10 vehicles) as json in 50 requests"; !strings.HasPrefix(s.line(), want) {
				t.Errorf("line %q", s.line())
			}
		})
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-protocol", "influx"}, `-protocol: must be "json" or "remote_write", got "influx"`},
		{[]string{"-protocol", "remote_write", "-gzip"}, "-gzip: only with -protocol json"},
		{[]string{"-vehicles", "0"}, "-vehicles: must be > 0, got 0"},
	} {
		var stdout, stderr bytes.Buffer
		if code := realMain(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr.String(), tc.want)
		}
	}
	o := options{Protocol: protocolRemoteWrite}
	if o.defaults(); o.URL != defaultRemoteWriteURL {
		t.Errorf("remote write URL %q", o.URL)
	}
}
