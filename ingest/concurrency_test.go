package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
)

func TestRemoteWriteHandlerBoundsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxConcurrentRequests = 1
		cfg.RequestQueueTimeout = model.Duration(2 * time.Second)
		m := NewMetrics(nil)
		p := &fakePipeline{block: make(chan struct{})}
		h := NewRemoteWriteHandler(cfg, p, m, nil)
		body := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("__name__", "a")}})

		first := httptest.NewRecorder()
		firstDone := make(chan struct{})
		go func() {
			defer close(firstDone)
			h.ServeHTTP(first, newRemoteWriteRequest(body))
		}()
		synctest.Wait() // the first request holds the only slot, blocked in Ingest

		// A second request waits request_queue_timeout, then gets 429.
		second := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(second, newRemoteWriteRequest(body))
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("waited %s for a slot, want 2s", waited)
		}
		if second.Code != http.StatusTooManyRequests || second.Header().Get("Retry-After") != "2" {
			t.Errorf("second: %d Retry-After %q, body %q", second.Code, second.Header().Get("Retry-After"), second.Body)
		}
		if want := "too many concurrent requests: all 1 slots stayed busy for 2s\n"; second.Body.String() != want {
			t.Errorf("second body %q, want %q", second.Body, want)
		}

		// A third request waiting when the slot frees up gets it.
		third := httptest.NewRecorder()
		thirdDone := make(chan struct{})
		go func() {
			defer close(thirdDone)
			h.ServeHTTP(third, newRemoteWriteRequest(body))
		}()
		synctest.Wait()
		time.Sleep(time.Second) // within the queue timeout
		close(p.block)
		<-firstDone
		<-thirdDone
		if first.Code != http.StatusNoContent || third.Code != http.StatusNoContent {
			t.Errorf("first %d, third %d; want 204", first.Code, third.Code)
		}
		if got := testutil.ToFloat64(m.requests.WithLabelValues(ProtocolRemoteWrite, "429")); got != 1 {
			t.Errorf("429s counted: %v", got)
		}
		if got := testutil.ToFloat64(m.samples.WithLabelValues(ProtocolRemoteWrite)); got != 4 {
			t.Errorf("samples counted: %v, want 4", got)
		}
	})
}

func TestRemoteWriteHandlerNoQueueing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxConcurrentRequests = 1
		cfg.RequestQueueTimeout = 0
		p := &fakePipeline{block: make(chan struct{})}
		h := NewRemoteWriteHandler(cfg, p, nil, nil)
		body := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("__name__", "a")}})
		var wg sync.WaitGroup
		wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), newRemoteWriteRequest(body)) })
		synctest.Wait()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, newRemoteWriteRequest(body))
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
			t.Errorf("got %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
		}
		close(p.block)
		wg.Wait()
	})
}

func TestRemoteWriteHandlerClientGoneWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxConcurrentRequests = 1
		m := NewMetrics(nil)
		p := &fakePipeline{block: make(chan struct{})}
		h := NewRemoteWriteHandler(cfg, p, m, nil)
		body := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("__name__", "a")}})
		var wg sync.WaitGroup
		wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), newRemoteWriteRequest(body)) })
		synctest.Wait()

		ctx, cancel := context.WithCancel(t.Context())
		w := httptest.NewRecorder()
		wg.Go(func() { h.ServeHTTP(w, newRemoteWriteRequest(body).WithContext(ctx)) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		if w.Code != statusClientClosed {
			t.Errorf("got %d, want 499", w.Code)
		}
		close(p.block)
		wg.Wait()
		if got := testutil.ToFloat64(m.requests.WithLabelValues(ProtocolRemoteWrite, "499")); got != 1 {
			t.Errorf("499s counted: %v", got)
		}
		if p.calls != 1 {
			t.Errorf("pipeline called %d times, want 1", p.calls)
		}
	})
}

func TestRemoteWriteHandlerThrottlesWarnings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		h := NewRemoteWriteHandler(testConfig(), &fakePipeline{}, nil, log)
		bad := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("x", "1")}})
		for _, wait := range []time.Duration{0, time.Second, 5 * time.Second, 5 * time.Second, time.Second} {
			time.Sleep(wait)
			h.ServeHTTP(httptest.NewRecorder(), newRemoteWriteRequest(bad))
			h.ServeHTTP(httptest.NewRecorder(), newRemoteWriteRequest([]byte("junk")))
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 4 {
			t.Fatalf("got %d log lines, want 4:\n%s", len(lines), buf.String())
		}
		want := []string{
			`level=WARN msg="rejected series in remote write request" protocol=remote_write reason=missing_metric_name samples=2 item="series 0" series="{x=\"1\"}" detail="no __name__ label" remote_addr=192.0.2.1:1234 user_agent="" suppressed=0`,
			`level=WARN msg="rejected malformed remote write request" protocol=remote_write err="cannot decompress snappy body: corrupt input" remote_addr=192.0.2.1:1234 user_agent="" suppressed=0`,
			`level=WARN msg="rejected series in remote write request" protocol=remote_write reason=missing_metric_name samples=2 item="series 0" series="{x=\"1\"}" detail="no __name__ label" remote_addr=192.0.2.1:1234 user_agent="" suppressed=2`,
			`level=WARN msg="rejected malformed remote write request" protocol=remote_write err="cannot decompress snappy body: corrupt input" remote_addr=192.0.2.1:1234 user_agent="" suppressed=2`,
		}
		for i := range want {
			if lines[i] != want[i] {
				t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want[i])
			}
		}
	})
}
