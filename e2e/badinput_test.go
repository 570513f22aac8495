package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"

	"github.com/premetrics/premetrics/internal/testenv"
)

const passThroughConfig = `
server:
  listen_address: %ADDR%
  max_request_bytes: 100000
  max_label_value_length: 64
forward_unmatched: true
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`

// TestBadRequestBurst interleaves malformed, oversized and partly invalid
// requests with good ones from several clients: premetrics answers each
// with the right 4xx, keeps every good sample (including the good series of
// partly bad requests), counts every rejection, and keeps running.
func TestBadRequestBurst(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, passThroughConfig, prom.RemoteWriteURL())
	base := time.Now().Add(-time.Minute).Truncate(time.Second)

	type badCase struct {
		name   string
		body   []byte
		header map[string]string
		code   int
		text   string
	}
	long := strings.Repeat("x", 100)
	bad := []badCase{
		{"not snappy", []byte("definitely not snappy"), nil, 400, "snappy"},
		{"not protobuf", snappy.Encode(nil, []byte{0xff, 0xff, 0xff, 0xff}), nil, 400, "WriteRequest"},
		{"too large", bytes.Repeat([]byte{1}, 200000), nil, 413, ""},
		{"wrong encoding", encodeWrite(t, sample{`good{c="x"}`, base, 1}), map[string]string{"Content-Encoding": "gzip"}, 415, ""},
		{"wrong type", encodeWrite(t, sample{`good{c="x"}`, base, 1}), map[string]string{"Content-Type": "application/json"}, 415, ""},
		{"1.0 body sent as 2.0", encodeWrite(t, sample{`good{c="x"}`, base, 1}), map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request"}, 400, "proto=prometheus.WriteRequest"},
		{"unknown proto", encodeWrite(t, sample{`good{c="x"}`, base, 1}), map[string]string{"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v3.Request"}, 415, "proto"},
	}
	const clients, rounds = 4, 20
	var wg sync.WaitGroup
	errs := make(chan string, clients*rounds*4)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				ts := base.Add(time.Duration(r) * time.Second)
				// A good request.
				if code, msg := post(t, pm.writeURL(), encodeWrite(t, sample{fmt.Sprintf(`good{client="%d"}`, c), ts, float64(r)}), nil); code != 204 {
					errs <- fmt.Sprintf("good request: %d %s", code, msg)
				}
				// A partly bad request: the good series must be kept.
				body := encodeWrite(t,
					sample{fmt.Sprintf(`partial{client="%d"}`, c), ts, float64(r)},
					sample{fmt.Sprintf(`partial{client="%d",v="%s"}`, c, long), ts, 1},
				)
				if code, msg := post(t, pm.writeURL(), body, nil); code != 400 || !strings.Contains(msg, "label_value_too_long") {
					errs <- fmt.Sprintf("partial request: %d %s", code, msg)
				}
				bc := bad[(c+r)%len(bad)]
				if code, msg := post(t, pm.writeURL(), bc.body, bc.header); code != bc.code || !strings.Contains(msg, bc.text) {
					errs <- fmt.Sprintf("%s: got %d %q, want %d containing %q", bc.name, code, msg, bc.code, bc.text)
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	// Every good sample arrives: clients*rounds for each of good and partial.
	eventually(t, 15*time.Second, "all good samples in Prometheus", func() bool {
		n := 0
		for _, s := range prom.RawSamples(t, `{__name__=~"good|partial"}`, base.Add(-time.Second), base.Add(time.Minute)) {
			n += len(s.Points)
		}
		return n == 2*clients*rounds
	})
	checks := map[string]float64{
		`premetrics_ingest_rejected_samples_total{protocol="remote_write",reason="label_value_too_long"}`: clients * rounds,
		`premetrics_ingest_requests_total{code="204",protocol="remote_write"}`:                            clients * rounds,
	}
	for series, want := range checks {
		if got := metricValue(t, pm.metricsURL(), series); got != want {
			t.Errorf("%s = %g, want %g", series, got, want)
		}
	}
	var badRequests float64
	for _, code := range []string{"400", "413", "415"} {
		badRequests += metricValue(t, pm.metricsURL(), `premetrics_ingest_requests_total{code="`+code+`",protocol="remote_write"}`)
	}
	if want := float64(2 * clients * rounds); badRequests != want {
		t.Errorf("4xx requests counted = %g, want %g", badRequests, want)
	}
	if resp, err := http.Get("http://" + pm.addr + "/-/healthy"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("premetrics unhealthy after the burst: %v", err)
	}
}

// TestBackpressure points premetrics at a receiver that is down (503):
// the queue fills, ingest answers 429 with Retry-After instead of growing,
// and once the receiver recovers everything buffered is delivered.
func TestBackpressure(t *testing.T) {
	var mu sync.Mutex
	down := true
	received := 0
	recv := startReceiver(t, func(w http.ResponseWriter, samples int) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		received += samples
		w.WriteHeader(http.StatusNoContent)
	})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
forward_unmatched: true
remote_write:
  - url: %RW%
    queue_config: {capacity: 200, max_shards: 1, max_samples_per_send: 50, batch_send_deadline: 50ms, min_backoff: 10ms, max_backoff: 100ms}
`, recv.URL())

	ts := time.Now()
	accepted, throttled := 0, 0
	var retryAfter string
	for i := 0; i < 100 && throttled == 0; i++ {
		var samples []sample
		for j := 0; j < 20; j++ {
			samples = append(samples, sample{fmt.Sprintf(`m{i="%d"}`, j), ts.Add(time.Duration(i) * time.Millisecond), 1})
		}
		req, _ := http.NewRequest(http.MethodPost, pm.writeURL(), bytes.NewReader(encodeWrite(t, samples...)))
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 204:
			accepted += 20
		case 429:
			throttled++
			retryAfter = resp.Header.Get("Retry-After")
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if throttled == 0 {
		t.Fatalf("never answered 429 with the receiver down (accepted %d samples)", accepted)
	}
	if retryAfter == "" {
		t.Error("429 without Retry-After")
	}
	if pending := metricValue(t, pm.metricsURL(), `premetrics_remotewrite_pending_samples{endpoint="`+recv.URL()+`"}`); pending > 200 {
		t.Errorf("pending samples %g exceed the queue capacity 200", pending)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	eventually(t, 10*time.Second, "buffered samples delivered after recovery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return received == accepted
	})
	if got := metricValue(t, pm.metricsURL(), `premetrics_remotewrite_retries_total{endpoint="`+recv.URL()+`"}`); got == 0 {
		t.Error("no retries counted while the receiver was down")
	}
}
