package load

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
)

// sink decodes requests with premetrics' decoder and records, per request,
// its samples, timestamp and arrival time. Its answer is chosen by answer.
type sink struct {
	mu       sync.Mutex
	answer   func(n int) int // status for the n-th request (from 0)
	delay    time.Duration
	requests int
	samples  int
	series   map[string]bool
	// stamps[i] is (arrival - start, sample timestamp) of request i.
	arrivals []time.Time
	stamps   []int64
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(s.delay)
	var b batch.Batch
	var res outcome.Result
	if err := promrw.Decode(body, &b, outcome.Limits{}, &res); err != nil || r.Header.Get("Content-Encoding") != "snappy" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.requests
	s.requests++
	if code := s.answer(n); code/100 != 2 {
		http.Error(w, "no\nmore", code)
		return
	}
	s.samples += res.Samples
	for _, ser := range b.Series {
		s.series[batch.String(ser.Labels)] = true
	}
	s.arrivals = append(s.arrivals, time.Now())
	s.stamps = append(s.stamps, b.Series[0].Samples[0].Timestamp)
	w.WriteHeader(http.StatusNoContent)
}

// inProcess serves requests without a network, so tests run in a synctest
// bubble.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

func newSink(answer func(int) int) *sink {
	if answer == nil {
		answer = func(int) int { return http.StatusNoContent }
	}
	return &sink{answer: answer, series: map[string]bool{}}
}

func testPlan(t *testing.T, shape Shape, batch int) *Plan {
	t.Helper()
	if shape.ValueTicks == 0 {
		shape.ValueTicks = 4
	}
	p, err := NewPlan(shape, batch)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunPacesAtTheExactRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := testPlan(t, Shape{Schema: SchemaGeneric, Series: 100, MetricsPerDevice: 1}, 30)
		sk := newSink(nil)
		var progress strings.Builder
		start := time.Now()
		sum, err := Run(t.Context(), p, Options{URL: "http://127.0.0.1:1/api/v1/write", Rate: 1000, Duration: 3 * time.Second,
			Connections: 2, Timeout: time.Second, Client: &http.Client{Transport: inProcess{sk}},
			Progress: time.Second, ProgressOut: &progress})
		if err != nil {
			t.Fatal(err)
		}
		// A tick of 100 samples every 0.1 s: 30 ticks of 4 requests.
		if sum.Requests != 120 || sum.RequestsScheduled != 120 || sum.SamplesSent != 3000 || sum.SamplesAccepted != 3000 || sk.samples != 3000 {
			t.Fatalf("summary %+v, sink %d samples", sum, sk.samples)
		}
		if sum.AchievedRate != 1000 || sum.AcceptedRate != 1000 || sum.SustainedRate != 1000 || sum.ElapsedSeconds != 3 {
			t.Errorf("rates %v %v %v over %vs", sum.AchievedRate, sum.AcceptedRate, sum.SustainedRate, sum.ElapsedSeconds)
		}
		if sum.BehindMaxSeconds != 0 || sum.StatusCounts["204"] != 120 || sum.Responses429 != 0 || len(sk.series) != 100 {
			t.Errorf("behind %v, status %v, %d series", sum.BehindMaxSeconds, sum.StatusCounts, len(sk.series))
		}
		// Requests leave on schedule, stamped with their due time: the
		// bodies of 30, 30, 30 and 10 samples of a tick are due at 0, 30,
		// 60 and 90 ms after the tick start.
		offsets := []int64{0, 30, 60, 90}
		for i, at := range sk.arrivals {
			due := int64(i/4)*100 + offsets[i%4]
			if got := at.Sub(start).Milliseconds(); got != due || sk.stamps[i] != start.UnixMilli()+due {
				t.Fatalf("request %d arrived at %d ms stamped %d, want %d", i, got, sk.stamps[i]-start.UnixMilli(), due)
			}
		}
		if n := strings.Count(progress.String(), "loadgen: "); n != 2 { // at 1 s and 2 s; the run ends at 2.99 s
			t.Errorf("%d progress lines:\n%s", n, progress.String())
		}
		if !strings.Contains(sum.Line(), "sent 3000 samples (100 series, 100 distinct) in 120 requests over 3.0s: 1000 samples/s of 1000 target") {
			t.Errorf("line %q", sum.Line())
		}
	})
}

func TestRunCountsRejectionsWithoutSlowingDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := testPlan(t, Shape{Schema: SchemaFleet, Series: 30}, 10)
		sk := newSink(func(n int) int {
			switch {
			case n%10 == 3:
				return http.StatusTooManyRequests
			case n == 5:
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		})
		sum, err := Run(t.Context(), p, Options{URL: "http://localhost/api/v1/write", Rate: 300, Duration: 2 * time.Second,
			Connections: 1, Timeout: time.Second, Client: &http.Client{Transport: inProcess{sk}}})
		if err != nil {
			t.Fatal(err)
		}
		// 600 samples in 60 requests, none retried.
		if sum.Requests != 60 || sk.requests != 60 || sum.Responses429 != 6 || sum.StatusCounts["503"] != 1 || sum.StatusCounts["204"] != 53 {
			t.Fatalf("requests %d (sink %d), status %v", sum.Requests, sk.requests, sum.StatusCounts)
		}
		if sum.SamplesAccepted != 530 || sum.RejectedSamples["429"] != 60 || sum.RejectedSamples["503"] != 10 || sum.FirstErrors["429"] != "no" {
			t.Errorf("accepted %d, rejected %v, errors %q", sum.SamplesAccepted, sum.RejectedSamples, sum.FirstErrors)
		}
		if sum.ElapsedSeconds != 2 || sum.AchievedRate != 300 {
			t.Errorf("elapsed %v, achieved %v", sum.ElapsedSeconds, sum.AchievedRate)
		}
	})
}

func TestRunFallsBehindAndCatchesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := testPlan(t, Shape{Schema: SchemaGeneric, Series: 10, MetricsPerDevice: 1}, 10)
		// One connection, a request every 10 ms, each answered after 15 ms.
		sk := newSink(nil)
		sk.delay = 15 * time.Millisecond
		sum, err := Run(t.Context(), p, Options{URL: "http://127.0.0.1:1/", Rate: 1000, Duration: time.Second,
			Connections: 1, Timeout: time.Second, Client: &http.Client{Transport: inProcess{sk}}})
		if err != nil {
			t.Fatal(err)
		}
		// All 100 requests are sent, stamped with their due times; the last
		// starts 99 × 5 ms behind schedule.
		if sum.Requests != 100 || sum.SamplesAccepted != 1000 {
			t.Fatalf("summary %+v", sum)
		}
		if sum.BehindFinalSeconds != 0.495 || sum.BehindMaxSeconds != 0.495 || sum.ElapsedSeconds != 1.5 {
			t.Errorf("behind final %v max %v, elapsed %v", sum.BehindFinalSeconds, sum.BehindMaxSeconds, sum.ElapsedSeconds)
		}
		for i, ts := range sk.stamps {
			if i > 0 && ts-sk.stamps[i-1] != 10 {
				t.Fatalf("request %d stamped %d ms after the previous, want 10", i, ts-sk.stamps[i-1])
			}
		}
		if sum.AchievedRate >= 1000 || sum.SustainedRate >= 1000 {
			t.Errorf("achieved %v sustained %v while falling behind", sum.AchievedRate, sum.SustainedRate)
		}
	})
}

func TestRunChurnsAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := testPlan(t, Shape{Schema: SchemaGeneric, Series: 100, MetricsPerDevice: 2, Churn: 0.1, ChurnInterval: time.Second}, 50)
		sk := newSink(nil)
		sum, err := Run(t.Context(), p, Options{URL: "http://127.0.0.1:1/", Rate: 100, Duration: 10 * time.Second,
			Connections: 2, Timeout: time.Second, Client: &http.Client{Transport: inProcess{sk}}})
		if err != nil {
			t.Fatal(err)
		}
		// One tick a second; tick k starts after k×5 of the 50 devices were
		// replaced: 10 ticks see 50 + 45 devices of 2 series.
		if sum.DistinctSeries != 190 || len(sk.series) != 190 {
			t.Errorf("distinct series %d, sink saw %d", sum.DistinctSeries, len(sk.series))
		}

		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(2500*time.Millisecond, cancel)
		sum, err = Run(ctx, p, Options{URL: "http://127.0.0.1:1/", Rate: 100, Duration: 10 * time.Second,
			Connections: 2, Timeout: time.Second, Client: &http.Client{Transport: inProcess{sk}}})
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Interrupted || sum.Requests != 6 {
			t.Errorf("interrupted %v after %d requests", sum.Interrupted, sum.Requests)
		}
	})
}

func TestRunRefusesRemoteHosts(t *testing.T) {
	p := testPlan(t, Shape{Schema: SchemaFleet, Series: 3}, 10)
	_, err := Run(context.Background(), p, Options{URL: "http://192.0.2.1:9201/api/v1/write", Rate: 1, Duration: time.Second, Connections: 1, Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "is not a loopback address") {
		t.Fatalf("got %v", err)
	}
	_, err = Run(context.Background(), p, Options{URL: "http://127.0.0.1/", Rate: 0, Duration: 0, Connections: 0, Timeout: 0})
	for _, want := range []string{"-rate: must be > 0, got 0", "-duration: must be > 0, got 0s", "-connections: must be in [1, 1024], got 0", "-timeout: must be > 0, got 0s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}

func TestSustained(t *testing.T) {
	per := []int64{10, 10, 10, 10, 10, 0, 10, 10, 10, 10, 10, 99}
	if got := sustained(per, 11, 5); got != 8 {
		t.Errorf("sustained = %v, want 8 (the 5 s windows around the gap)", got)
	}
	if got := sustained(per, 3, 5); got != 10 {
		t.Errorf("short run: %v, want 10", got)
	}
	if got := sustained(nil, 3, 5); got != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestRunKeepsEachSeriesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := testPlan(t, Shape{Schema: SchemaGeneric, Series: 50, MetricsPerDevice: 1}, 10)
		// Answers take 0 to 45 ms, much longer than the 2 ms between
		// requests: connections fall behind by different amounts.
		var mu sync.Mutex
		last := map[string]int64{}
		n := 0
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			n++
			delay := time.Duration(n*7919%10) * 5 * time.Millisecond
			mu.Unlock()
			time.Sleep(delay)
			var b batch.Batch
			var res outcome.Result
			if err := promrw.Decode(body, &b, outcome.Limits{}, &res); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, s := range b.Series {
				key := batch.String(s.Labels)
				if ts := s.Samples[0].Timestamp; ts <= last[key] {
					t.Errorf("%s: sample at %d after %d", key, ts, last[key])
				} else {
					last[key] = ts
				}
			}
			w.WriteHeader(http.StatusNoContent)
		})
		sum, err := Run(t.Context(), p, Options{URL: "http://127.0.0.1:1/", Rate: 5000, Duration: time.Second,
			Connections: 3, Timeout: time.Second, Client: &http.Client{Transport: inProcess{h}}})
		if err != nil {
			t.Fatal(err)
		}
		if sum.SamplesAccepted != 5000 || len(last) != 50 || sum.BehindMaxSeconds == 0 {
			t.Errorf("accepted %d of %d series, behind %v", sum.SamplesAccepted, len(last), sum.BehindMaxSeconds)
		}
	})
}
