package remotewrite

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/remotewrite/rwtest"
)

// These tests use real HTTP on 127.0.0.1 (synctest cannot fake network
// I/O), so durations are short and every wait is bounded by a context.

func httpConfig(rcv *rwtest.Receiver, mod func(qc *QueueConfig)) Config {
	cfg := DefaultConfig()
	cfg.URL = rcv.URL()
	cfg.Name = "rcv"
	cfg.RemoteTimeout = dur(5 * time.Second)
	cfg.QueueConfig.MinBackoff = dur(time.Millisecond)
	cfg.QueueConfig.MaxBackoff = dur(10 * time.Millisecond)
	cfg.QueueConfig.BatchSendDeadline = dur(5 * time.Millisecond)
	if mod != nil {
		mod(&cfg.QueueConfig)
	}
	return cfg
}

func newHTTPQueue(t *testing.T, cfg Config) *testQueue {
	t.Helper()
	tq := newTestQueue(t, cfg, nil)
	tq.Start()
	t.Cleanup(func() {
		// Bounded: a failed test must not hang on a receiver that is down.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tq.Stop(ctx)
	})
	return tq
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stopAndCheck stops q (draining it) and fails on an error.
func stopAndCheck(t *testing.T, q *testQueue) {
	t.Helper()
	if err := q.Stop(waitCtx(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestHTTPSplitIsolatesBadSeries(t *testing.T) {
	rcv := rwtest.New(t)
	rcv.RejectSeries(seriesName(7), rwtest.Response{Body: "out of order sample"})
	rcv.RejectSeries(seriesName(22), rwtest.Response{})
	q := newHTTPQueue(t, httpConfig(rcv, func(qc *QueueConfig) { qc.MaxShards = 2 }))
	if err := q.Enqueue(waitCtx(t), makeBatch(30, 2, 100)); err != nil {
		t.Fatal(err)
	}
	stopAndCheck(t, q)

	for i := range 30 {
		got := rcv.Samples(seriesName(i))
		want := 2
		if i == 7 || i == 22 {
			want = 0
		}
		if len(got) != want {
			t.Errorf("%s: %d samples stored, want %d", seriesName(i), len(got), want)
		}
	}
	if q.droppedCount(t, ReasonHTTP400) != 4 || q.sentCount(t) != 56 {
		t.Errorf("dropped{http_400} %d sent %d, want 4 56", q.droppedCount(t, ReasonHTTP400), q.sentCount(t))
	}
	if n := value(t, q.metrics.requests.WithLabelValues("rcv", "400")); n < 2 {
		t.Errorf("requests_total{code=400} = %v", n)
	}
}

func TestHTTPRetriesThenDeliversOnce(t *testing.T) {
	rcv := rwtest.New(t)
	rcv.Script(
		rwtest.Response{Status: 500, Body: "internal error " + strings.Repeat("x", 4096)}, // longer than the message kept: must be drained
		rwtest.Response{Status: 503},
		rwtest.Response{Status: 429, Body: "slow down"},
	)
	q := newHTTPQueue(t, httpConfig(rcv, func(qc *QueueConfig) { qc.MaxShards = 1 }))
	if err := q.Enqueue(waitCtx(t), makeBatch(10, 4, 0)); err != nil {
		t.Fatal(err)
	}
	if err := rcv.WaitSamples(waitCtx(t), 40); err != nil {
		t.Fatal(err)
	}
	stopAndCheck(t, q)

	for i := range 10 {
		if got := rcv.Samples(seriesName(i)); len(got) != 4 {
			t.Errorf("%s: %d samples stored, want exactly 4", seriesName(i), len(got))
		}
	}
	reqs := rcv.Requests()
	if len(reqs) != 4 || reqs[3].Status != 204 {
		t.Errorf("requests %v, want 500, 503, 429, 204", reqs)
	}
	if q.retryCount(t) != 3 || q.sentCount(t) != 40 {
		t.Errorf("retries %d sent %d, want 3 40", q.retryCount(t), q.sentCount(t))
	}
	for code, want := range map[string]float64{"500": 1, "503": 1, "429": 1, "204": 1} {
		if got := value(t, q.metrics.requests.WithLabelValues("rcv", code)); got != want {
			t.Errorf("requests_total{code=%s} = %v, want %v", code, got, want)
		}
	}
	// One shard sends one request at a time over one kept-alive connection,
	// also after error responses with bodies.
	for _, r := range reqs[1:] {
		if r.RemoteAddr != reqs[0].RemoteAddr {
			t.Errorf("request from %s, first from %s: connection not reused", r.RemoteAddr, reqs[0].RemoteAddr)
		}
	}
}

func TestHTTPClientErrorsDropped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		retry  bool
		reason string
	}{
		{"401", 401, true, "http_401"},
		{"404", 404, true, "http_404"},
		{"429 retry off", 429, false, "http_429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := rwtest.New(t)
			rcv.SetDefault(rwtest.Response{Status: tc.status, Body: "no"})
			cfg := httpConfig(rcv, func(qc *QueueConfig) {
				qc.MaxShards = 1
				qc.RetryOnRateLimit = tc.retry
			})
			q := newHTTPQueue(t, cfg)
			_ = q.Enqueue(waitCtx(t), makeBatch(5, 2, 0))
			stopAndCheck(t, q)
			if q.droppedCount(t, tc.reason) != 10 || q.retryCount(t) != 0 || len(rcv.Requests()) != 1 {
				t.Errorf("dropped{%s} %d retries %d requests %d, want 10 0 1",
					tc.reason, q.droppedCount(t, tc.reason), q.retryCount(t), len(rcv.Requests()))
			}
		})
	}
}

func TestHTTPPerSeriesOrderManyBatches(t *testing.T) {
	rcv := rwtest.New(t)
	for range 10 {
		rcv.Script(rwtest.Response{Status: 204}, rwtest.Response{Status: 502}, rwtest.Response{Status: 204})
	}
	q := newHTTPQueue(t, httpConfig(rcv, func(qc *QueueConfig) {
		qc.MaxShards = 4
		qc.MaxSamplesPerSend = 25
		qc.Capacity = 100
	}))
	const rounds, series = 100, 20
	for r := range rounds {
		if err := q.Enqueue(waitCtx(t), makeBatch(series, 1, int64(r))); err != nil {
			t.Fatal(err)
		}
	}
	stopAndCheck(t, q)
	for i := range series {
		got := rcv.Samples(seriesName(i))
		if len(got) != rounds {
			t.Errorf("%s: %d samples, want %d", seriesName(i), len(got), rounds)
		}
		for j, s := range got {
			if s.Timestamp != int64(j) {
				t.Errorf("%s: sample %d has timestamp %d: out of order", seriesName(i), j, s.Timestamp)
				break
			}
		}
	}
	if q.retryCount(t) != 10 {
		t.Errorf("retries = %d, want 10", q.retryCount(t))
	}
}

func TestHTTPHeadersAndBasicAuth(t *testing.T) {
	rcv := rwtest.New(t)
	cfg := httpConfig(rcv, nil)
	cfg.Headers = map[string]string{"X-Scope-OrgID": "fleet"}
	cfg.HTTPClientConfig.BasicAuth = &config.BasicAuth{Username: "alice", Password: "s3cret"}
	q, err := New(cfg, Options{Version: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	q.Start()
	_ = q.Enqueue(waitCtx(t), makeBatch(1, 1, 1))
	if err := q.Stop(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	h := reqs[0].Header
	for k, want := range map[string]string{
		"Content-Encoding":                  "snappy",
		"Content-Type":                      "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
		"User-Agent":                        "premetrics/1.2.3",
		"X-Scope-Orgid":                     "fleet",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	user, pass, ok := (&http.Request{Header: h}).BasicAuth()
	if !ok || user != "alice" || pass != "s3cret" {
		t.Errorf("basic auth = %q %q %v", user, pass, ok)
	}
}

func TestHTTPFullWhenReceiverDown(t *testing.T) {
	rcv := rwtest.New(t)
	rcv.SetDefault(rwtest.Response{Status: 503})
	q := newHTTPQueue(t, httpConfig(rcv, func(qc *QueueConfig) {
		qc.MaxShards = 1
		qc.Capacity = 100
		qc.MaxSamplesPerSend = 10
	}))
	if err := q.Enqueue(waitCtx(t), makeBatch(5, 19, 0)); err != nil { // 95 samples
		t.Fatal(err)
	}
	if !q.Full() {
		t.Fatal("Full() = false with the receiver down and 95% buffered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := q.Enqueue(ctx, makeBatch(1, 10, 100)) // 5 fit, then it blocks
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Enqueue = %v, want deadline exceeded", err)
	}
	if q.droppedCount(t, ReasonQueueFull) != 5 || q.Pending() != 100 {
		t.Errorf("dropped{queue_full} %d pending %d, want 5 100", q.droppedCount(t, ReasonQueueFull), q.Pending())
	}
	if err := rcv.Wait(waitCtx(t), func() bool { return len(rcv.Requests()) >= 3 }); err != nil {
		t.Fatal(err)
	}
	if q.retryCount(t) == 0 {
		t.Error("no retries while the receiver is down")
	}

	rcv.SetDefault(rwtest.Response{}) // back up
	if err := rcv.WaitSamples(waitCtx(t), 100); err != nil {
		t.Fatal(err)
	}
	stopAndCheck(t, q)
	if q.Full() || q.Pending() != 0 || q.sentCount(t) != 100 {
		t.Errorf("Full %v pending %d sent %d, want false 0 100", q.Full(), q.Pending(), q.sentCount(t))
	}
}

func TestHTTPClientClassifiesResponses(t *testing.T) {
	rcv := rwtest.New(t)
	cfg := httpConfig(rcv, nil)
	m := NewMetrics(nil)
	c, err := newHTTPClient(&cfg, "premetrics/test", m.requests.MustCurryWith(map[string]string{"endpoint": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	ls, offsets, samples := grouped([]batch.Series{{Labels: []batch.Label{{Name: "__name__", Value: "up"}}, Samples: []batch.Sample{{Timestamp: 1, Value: 1}}}})
	var e encoder
	req := e.encode(ls, offsets, samples, 0, 1)
	ctx := waitCtx(t)

	rcv.Script(
		rwtest.Response{},
		rwtest.Response{Status: 500, Body: "db down"},
		rwtest.Response{Status: 429, RetryAfter: "3"},
		rwtest.Response{Status: 400, Body: "bad label"},
		rwtest.Response{Status: 307},
	)
	if err := c.Store(ctx, req, 1); err != nil {
		t.Errorf("204: %v", err)
	}
	var rerr *RecoverableError
	if err := c.Store(ctx, req, 1); !errors.As(err, &rerr) || rerr.RetryAfter != 0 {
		t.Errorf("500: %v, want recoverable", err)
	}
	var serr *StatusError
	if !errors.As(rerr, &serr) || serr.Code != 500 || serr.Message != "db down" {
		t.Errorf("500: status error %+v", serr)
	}
	if err := c.Store(ctx, req, 1); !errors.As(err, &rerr) || rerr.RetryAfter != 3*time.Second {
		t.Errorf("429: %v (retry after %v), want recoverable after 3s", err, rerr.RetryAfter)
	}
	if err := c.Store(ctx, req, 1); errors.As(err, &rerr) || !errors.As(err, &serr) || serr.Code != 400 || serr.Message != "bad label" {
		t.Errorf("400: %v, want a non-recoverable StatusError with the body", err)
	}
	if err := c.Store(ctx, req, 1); !errors.As(err, &serr) || serr.Code != 307 {
		t.Errorf("307 without Location: %v", err)
	}

	c.retryOn429 = false
	rcv.Script(rwtest.Response{Status: 429})
	if err := c.Store(ctx, req, 1); errors.As(err, &rerr) || !errors.As(err, &serr) || serr.Code != 429 {
		t.Errorf("429 with retry off: %v", err)
	}

	rcv.Close()
	if err := c.Store(ctx, req, 1); !errors.As(err, &rerr) {
		t.Errorf("connection refused: %v, want recoverable", err)
	}
	if got := value(t, m.requests.WithLabelValues("x", "error")); got != 1 {
		t.Errorf("requests_total{code=error} = %v", got)
	}
}
