package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
)

// TestConnSenderOverLoopback runs the built-in client against a real
// server: keep-alive, headers, answers, a server that closes connections.
func TestConnSenderOverLoopback(t *testing.T) {
	var mu sync.Mutex
	var samples, requests int
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b batch.Batch
		var res outcome.Result
		err := promrw.Decode(body, &b, outcome.Limits{}, &res)
		mu.Lock()
		n := requests
		requests++
		conns[r.RemoteAddr] = true
		mu.Unlock()
		switch {
		case err != nil || r.URL.Path != "/api/v1/write" || r.Header.Get("Content-Encoding") != "snappy" ||
			r.Header.Get("Content-Type") != "application/x-protobuf" || r.Header.Get("X-Prometheus-Remote-Write-Version") != "0.1.0":
			http.Error(w, "bad request", http.StatusBadRequest)
		case n == 3:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests\nsecond line", http.StatusTooManyRequests)
		case n == 5:
			w.Header().Set("Connection", "close") // the client must reconnect
			w.WriteHeader(http.StatusNoContent)
		case n == 7:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close() // no answer at all
		default:
			mu.Lock()
			samples += res.Samples
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()

	p := testPlan(t, Shape{Schema: SchemaFleet, Series: 300, FleetCounter: true}, 100)
	sum, err := Run(context.Background(), p, Options{URL: srv.URL + "/api/v1/write", Rate: 3000, Duration: time.Second,
		Connections: 1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// 30 requests of 100 samples: one 429, one without an answer.
	if sum.Requests != 30 || requests != 30 || sum.StatusCounts["204"] != 28 || sum.Responses429 != 1 || sum.StatusCounts["error"] != 1 {
		t.Fatalf("requests %d (server %d), status %v, errors %v", sum.Requests, requests, sum.StatusCounts, sum.FirstErrors)
	}
	if sum.SamplesAccepted != 2800 || samples != 2700 || sum.FirstErrors["429"] != "too many requests" {
		t.Errorf("accepted %d, server kept %d (the 6th answer was a 204 it did not count), errors %q", sum.SamplesAccepted, samples, sum.FirstErrors)
	}
	// One connection, replaced after the close and after the hang-up.
	if len(conns) != 3 {
		t.Errorf("%d connections, want 3", len(conns))
	}
	if sum.GeneratorCPUSeconds <= 0 || sum.GeneratorCPUPerMillionSamples <= 0 || sum.BytesSent <= 0 {
		t.Errorf("cpu %v, per million %v, bytes %d", sum.GeneratorCPUSeconds, sum.GeneratorCPUPerMillionSamples, sum.BytesSent)
	}
}

func TestConnSenderRefusesHTTPS(t *testing.T) {
	if _, err := newConnSender("https://127.0.0.1/api/v1/write", time.Second, ProtocolRemoteWrite); err == nil || !strings.Contains(err.Error(), "plain http only") {
		t.Errorf("got %v", err)
	}
}
