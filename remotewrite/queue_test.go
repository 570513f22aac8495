package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

var errBoom = errors.New("boom")

func TestBackoffGrowsAndCapsWithBoundedJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failures = 8
		fc := &fakeClient{respond: func(_ context.Context, i int, _ call) error {
			if i < failures {
				return &RecoverableError{Err: errBoom}
			}
			return nil
		}}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) {
			qc.MaxShards = 1
			qc.MinBackoff = dur(time.Second)
			qc.MaxBackoff = dur(8 * time.Second)
		}), fc)
		q.Start()
		defer q.Stop(context.Background())
		if err := q.Enqueue(context.Background(), makeBatch(5, 2, 1000)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()

		calls := fc.Calls()
		if len(calls) != failures+1 {
			t.Fatalf("%d calls, want %d", len(calls), failures+1)
		}
		base := time.Second
		jittered := false
		for k := range failures {
			gap := calls[k+1].at.Sub(calls[k].at)
			if gap < base/2 || gap > base {
				t.Errorf("gap after failure %d = %v, want in [%v, %v]", k+1, gap, base/2, base)
			}
			if gap != base {
				jittered = true
			}
			base = min(2*base, 8*time.Second)
		}
		if !jittered {
			t.Error("no gap was jittered")
		}
		if got := q.retryCount(t); got != failures {
			t.Errorf("retries = %d, want %d", got, failures)
		}
		if got := q.sentCount(t); got != 10 {
			t.Errorf("sent = %d, want 10", got)
		}
		if q.Pending() != 0 || q.pendingGauge(t) != 0 {
			t.Errorf("pending = %d (gauge %d), want 0", q.Pending(), q.pendingGauge(t))
		}
	})
}

func TestJitterBounds(t *testing.T) {
	d := 10 * time.Second
	lo, hi := d, time.Duration(0)
	for range 10000 {
		j := jitter(d)
		if j < d/2 || j > d {
			t.Fatalf("jitter(%v) = %v, want in [%v, %v]", d, j, d/2, d)
		}
		lo, hi = min(lo, j), max(hi, j)
	}
	if lo > 6*time.Second || hi < 9*time.Second {
		t.Errorf("jitter does not spread over [d/2, d]: min %v, max %v", lo, hi)
	}
	if jitter(1) < 0 || jitter(1) > 1 {
		t.Error("jitter(1) out of range")
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	for _, retryAfter := range []time.Duration{42 * time.Second, 100 * time.Millisecond} {
		t.Run(retryAfter.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fc := &fakeClient{respond: func(_ context.Context, i int, _ call) error {
					if i == 0 {
						// Wrapped, as a Client might: found with errors.As.
						return fmt.Errorf("attempt: %w", &RecoverableError{Err: errBoom, RetryAfter: retryAfter})
					}
					return nil
				}}
				q := newTestQueue(t, testConfig(func(qc *QueueConfig) {
					qc.MinBackoff = dur(time.Second)
					qc.MaxBackoff = dur(5 * time.Second)
				}), fc)
				q.Start()
				defer q.Stop(context.Background())
				if err := q.Enqueue(context.Background(), makeBatch(1, 1, 1)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Hour)
				calls := fc.Calls()
				if len(calls) != 2 {
					t.Fatalf("%d calls, want 2", len(calls))
				}
				if gap := calls[1].at.Sub(calls[0].at); gap != retryAfter {
					t.Errorf("retried after %v, want exactly %v", gap, retryAfter)
				}
			})
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 120 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"1.5", 0},
		{"99999999999999", time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(http.TimeFormat), time.Hour},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBatchSendDeadlineFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClient{}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) {
			qc.MaxShards = 1
			qc.MaxSamplesPerSend = 100
			qc.BatchSendDeadline = dur(5 * time.Second)
		}), fc)
		q.Start()
		defer q.Stop(context.Background())
		start := time.Now()
		ctx := context.Background()

		_ = q.Enqueue(ctx, makeBatch(3, 10, 0)) // 30 samples at t=0
		time.Sleep(2 * time.Second)
		_ = q.Enqueue(ctx, makeBatch(1, 5, 10)) // 5 more at t=2s, same batch
		time.Sleep(3*time.Second - time.Nanosecond)
		synctest.Wait()
		if n := len(fc.Calls()); n != 0 {
			t.Fatalf("%d requests before the deadline", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		calls := fc.Calls()
		if len(calls) != 1 || calls[0].samples != 35 || calls[0].at.Sub(start) != 5*time.Second {
			t.Fatalf("calls = %+v, want one of 35 samples at 5s", calls)
		}

		// A full batch goes at once; the rest waits for the deadline of its
		// oldest sample.
		start = time.Now()
		_ = q.Enqueue(ctx, makeBatch(5, 50, 100)) // 250 samples
		synctest.Wait()
		calls = fc.Calls()[1:]
		if len(calls) != 2 || calls[0].samples != 100 || calls[1].samples != 100 || calls[1].at != start {
			t.Fatalf("calls = %+v, want two immediate requests of 100", calls)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		calls = fc.Calls()[3:]
		if len(calls) != 1 || calls[0].samples != 50 || calls[0].at.Sub(start) != 5*time.Second {
			t.Fatalf("calls = %+v, want one of 50 at 5s", calls)
		}

		// Each Enqueue of a series is one TimeSeries; within a request the
		// TimeSeries keep enqueue order, so a series' samples stay in order.
		first := fc.Calls()[0]
		if len(first.series) != 4 {
			t.Fatalf("first request has %d TimeSeries, want 4", len(first.series))
		}
		var ts0 []int64
		for _, s := range first.series {
			if batch.String(s.Labels) == seriesName(0) {
				for _, x := range s.Samples {
					ts0 = append(ts0, x.Timestamp)
				}
			}
		}
		if len(ts0) != 15 {
			t.Fatalf("%s has %d samples in the first request, want 15", seriesName(0), len(ts0))
		}
		for i, ts := range ts0 {
			if ts != int64(i) {
				t.Errorf("sample %d of %s has timestamp %d", i, seriesName(0), ts)
			}
		}
	})
}

func TestStopDrainsWithinDeadlineAndDropsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClient{respond: func(context.Context, int, call) error {
			return &RecoverableError{Err: errBoom}
		}}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) {
			qc.MaxBackoff = dur(time.Second)
			qc.BatchSendDeadline = dur(time.Hour)
		}), fc)
		q.Start()
		if err := q.Enqueue(context.Background(), makeBatch(50, 10, 0)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		err := q.Stop(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "dropped 500 samples") {
			t.Errorf("Stop = %v, want deadline exceeded with 500 dropped", err)
		}
		if took := time.Since(start); took != 10*time.Second {
			t.Errorf("Stop took %v, want the 10s deadline", took)
		}
		if len(fc.Calls()) < 4 {
			t.Errorf("only %d attempts during the drain", len(fc.Calls()))
		}
		if got := q.droppedCount(t, ReasonShutdown); got != 500 {
			t.Errorf("dropped{shutdown} = %d, want 500", got)
		}
		if q.Pending() != 0 || q.sentCount(t) != 0 {
			t.Errorf("pending %d sent %d, want 0 0", q.Pending(), q.sentCount(t))
		}
		if err := q.Stop(context.Background()); err != nil {
			t.Errorf("second Stop = %v", err)
		}
	})
}

func TestStopSendsBufferedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClient{}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) { qc.BatchSendDeadline = dur(time.Hour) }), fc)
		q.Start()
		_ = q.Enqueue(context.Background(), makeBatch(20, 5, 0))
		start := time.Now()
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Errorf("Stop waited %v for the batch deadline", time.Since(start))
		}
		if q.sentCount(t) != 100 || q.droppedCount(t, ReasonShutdown) != 0 {
			t.Errorf("sent %d dropped %d, want 100 0", q.sentCount(t), q.droppedCount(t, ReasonShutdown))
		}
	})
}

func TestStopAbortsHangingRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClient{respond: func(ctx context.Context, _ int, _ call) error {
			<-ctx.Done() // a receiver that never answers
			return &RecoverableError{Err: ctx.Err()}
		}}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) { qc.MaxShards = 2 }), fc)
		q.Start()
		_ = q.Enqueue(context.Background(), makeBatch(10, 3, 0))
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := q.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop = %v", err)
		}
		if q.droppedCount(t, ReasonShutdown) != 30 || q.retryCount(t) != 0 {
			t.Errorf("dropped %d retries %d, want 30 0", q.droppedCount(t, ReasonShutdown), q.retryCount(t))
		}
	})
}

func TestStopWithoutStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newTestQueue(t, testConfig(nil), &fakeClient{})
		if err := q.Stop(context.Background()); err != nil {
			t.Fatalf("Stop of an empty, unstarted queue = %v", err)
		}
		if err := q.Stop(context.Background()); err != nil {
			t.Fatalf("second Stop = %v", err)
		}
		q.Start() // no-op after Stop: synctest fails on a leaked goroutine
		err := q.Enqueue(context.Background(), makeBatch(2, 3, 0))
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("Enqueue after Stop = %v", err)
		}
		if got := q.droppedCount(t, ReasonShutdown); got != 6 {
			t.Errorf("dropped{shutdown} = %d, want 6", got)
		}

		q2 := newTestQueue(t, testConfig(nil), &fakeClient{})
		_ = q2.Enqueue(context.Background(), makeBatch(4, 5, 0))
		if q2.Pending() != 20 {
			t.Fatalf("pending = %d", q2.Pending())
		}
		if err := q2.Stop(context.Background()); err == nil || !strings.Contains(err.Error(), "dropped 20 samples") {
			t.Errorf("Stop = %v, want 20 dropped", err)
		}
		if q2.droppedCount(t, ReasonShutdown) != 20 || q2.Pending() != 0 {
			t.Errorf("dropped %d pending %d", q2.droppedCount(t, ReasonShutdown), q2.Pending())
		}
	})
}

func TestEnqueueBlocksWhenFullThenCtxError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		fc := &fakeClient{respond: func(ctx context.Context, _ int, _ call) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) {
			qc.MaxShards = 1
			qc.Capacity = 100
			qc.MaxSamplesPerSend = 10
		}), fc)
		q.Start()
		defer q.Stop(context.Background())
		ctx := context.Background()

		if err := q.Enqueue(ctx, makeBatch(1, 89, 0)); err != nil {
			t.Fatal(err)
		}
		if q.Full() {
			t.Fatal("Full at 89% of capacity")
		}
		if err := q.Enqueue(ctx, makeBatch(1, 11, 1000)); err != nil {
			t.Fatal(err)
		}
		if !q.Full() || q.Pending() != 100 || q.pendingGauge(t) != 100 {
			t.Fatalf("Full %v pending %d gauge %d, want true 100 100", q.Full(), q.Pending(), q.pendingGauge(t))
		}

		tctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start := time.Now()
		err := q.Enqueue(tctx, makeBatch(3, 4, 2000))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Enqueue = %v after %v, want deadline exceeded after 1s", err, time.Since(start))
		}
		if got := q.droppedCount(t, ReasonQueueFull); got != 12 {
			t.Errorf("dropped{queue_full} = %d, want 12", got)
		}

		// A blocked Enqueue proceeds once the receiver is back.
		done := make(chan error)
		go func() { done <- q.Enqueue(ctx, makeBatch(2, 15, 3000)) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Enqueue returned %v while the shard is full", err)
		default:
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if q.Full() || q.Pending() != 0 || q.sentCount(t) != 130 {
			t.Errorf("Full %v pending %d sent %d, want false 0 130", q.Full(), q.Pending(), q.sentCount(t))
		}
	})
}

// TestSplitIsolatesRejectedSeries, for a block sent at its deadline and
// for a full one (compressed as it filled, decompressed to split).
func TestSplitIsolatesRejectedSeries(t *testing.T) {
	for _, perSend := range []int{1000, 60} {
		t.Run(fmt.Sprint("max_samples_per_send=", perSend), func(t *testing.T) { testSplitIsolatesRejectedSeries(t, perSend) })
	}
}

func testSplitIsolatesRejectedSeries(t *testing.T, perSend int) {
	synctest.Test(t, func(t *testing.T) {
		bad := []string{seriesName(3), seriesName(17)}
		fc := &fakeClient{respond: func(_ context.Context, _ int, c call) error {
			for _, b := range bad {
				if c.has(b) {
					return fmt.Errorf("store: %w", &StatusError{Code: 400, Message: "out of order sample"})
				}
			}
			return nil
		}}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) { qc.MaxShards = 1; qc.MaxSamplesPerSend = perSend }), fc)
		q.Start()
		_ = q.Enqueue(context.Background(), makeBatch(20, 3, 0))
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		calls := fc.Calls()
		for _, c := range calls {
			if c.has(bad[0]) || c.has(bad[1]) {
				continue
			}
			for _, s := range c.series {
				got[batch.String(s.Labels)] += len(s.Samples)
			}
		}
		for i := range 20 {
			want := 3
			if slices.Contains(bad, seriesName(i)) {
				want = 0
			}
			if got[seriesName(i)] != want {
				t.Errorf("%s delivered %d samples, want %d", seriesName(i), got[seriesName(i)], want)
			}
		}
		if q.droppedCount(t, ReasonHTTP400) != 6 || q.sentCount(t) != 54 {
			t.Errorf("dropped{http_400} %d sent %d, want 6 54", q.droppedCount(t, ReasonHTTP400), q.sentCount(t))
		}
		if len(calls) > 2*20-1 {
			t.Errorf("%d requests, more than 2N-1", len(calls))
		}
	})
}

func TestNonRetriedFailuresDrop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		reason string
	}{
		{"401", &StatusError{Code: 401, Message: "unauthorized"}, "http_401"},
		{"429 without retry", fmt.Errorf("x: %w", &StatusError{Code: 429}), "http_429"},
		{"plain error", errBoom, ReasonSendError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fc := &fakeClient{respond: func(context.Context, int, call) error { return tc.err }}
				q := newTestQueue(t, testConfig(nil), fc)
				q.Start()
				_ = q.Enqueue(context.Background(), makeBatch(10, 2, 0))
				if err := q.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				if q.droppedCount(t, tc.reason) != 20 || q.retryCount(t) != 0 || q.sentCount(t) != 0 {
					t.Errorf("dropped{%s} %d retries %d sent %d", tc.reason, q.droppedCount(t, tc.reason), q.retryCount(t), q.sentCount(t))
				}
				if n := len(fc.Calls()); n > q.shardsUsed(makeBatch(10, 2, 0)) {
					t.Errorf("%d requests: a dropped request was retried or split", n)
				}
			})
		})
	}
}

// shardsUsed returns how many shards b's series hash to.
func (q *Queue) shardsUsed(b *batch.Batch) int {
	seen := map[uint64]bool{}
	for _, s := range b.Series {
		seen[batch.Hash(s.Labels)%uint64(len(q.shards))] = true
	}
	return len(seen)
}

func TestPerSeriesOrderAcrossBatchesAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(1, 2))
		fc := &fakeClient{respond: func(context.Context, int, call) error {
			mu.Lock()
			fail := rng.IntN(3) == 0
			mu.Unlock()
			if fail {
				return &RecoverableError{Err: errBoom}
			}
			return nil
		}}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) {
			qc.MaxShards = 4
			qc.MaxSamplesPerSend = 7
			qc.Capacity = 50
			qc.BatchSendDeadline = dur(10 * time.Millisecond)
		}), fc)
		q.Start()
		const rounds, series = 200, 13
		for r := range rounds {
			b := makeBatch(series, 2, int64(2*r))
			if err := q.Enqueue(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := map[string][]int64{}
		retried := 0
		for _, c := range fc.Calls() {
			if c.err != nil {
				retried++
				continue
			}
			for _, s := range c.series {
				for _, x := range s.Samples {
					got[batch.String(s.Labels)] = append(got[batch.String(s.Labels)], x.Timestamp)
				}
			}
		}
		for i := range series {
			ts := got[seriesName(i)]
			if len(ts) != 2*rounds {
				t.Errorf("%s: %d samples delivered, want %d", seriesName(i), len(ts), 2*rounds)
			}
			for j := range ts {
				if ts[j] != int64(j) {
					t.Errorf("%s: sample %d has timestamp %d: order broken", seriesName(i), j, ts[j])
					break
				}
			}
		}
		if q.sentCount(t) != rounds*series*2 || retried == 0 || q.retryCount(t) != retried {
			t.Errorf("sent = %d, retries %d, failed calls %d", q.sentCount(t), q.retryCount(t), retried)
		}
	})
}

func TestWriteRelabel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(nil)
		cfg.WriteRelabelConfigs = []*relabel.Config{
			{SourceLabels: []model.LabelName{"series"}, Regex: relabel.MustNewRegexp("1.*"), Action: relabel.Drop, Separator: ";", NameValidationScheme: model.UTF8Validation},
			{Regex: relabel.MustNewRegexp("series"), Action: relabel.LabelMap, Replacement: "id", NameValidationScheme: model.UTF8Validation},
		}
		fc := &fakeClient{}
		q := newTestQueue(t, cfg, fc)
		q.Start()
		_ = q.Enqueue(context.Background(), makeBatch(12, 2, 0)) // series 1, 10, 11 dropped
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if q.droppedCount(t, ReasonRelabel) != 6 || q.sentCount(t) != 18 {
			t.Errorf("dropped{relabel} %d sent %d, want 6 18", q.droppedCount(t, ReasonRelabel), q.sentCount(t))
		}
		for _, c := range fc.Calls() {
			for _, s := range c.series {
				if batch.Get(s.Labels, "id") != batch.Get(s.Labels, "series") || strings.HasPrefix(batch.Get(s.Labels, "id"), "1") {
					t.Errorf("series %s not relabelled", batch.String(s.Labels))
				}
			}
		}
	})
}

func TestEnqueueCopiesLabels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClient{}
		q := newTestQueue(t, testConfig(nil), fc)
		q.Start()
		b := &batch.Batch{}
		buf := b.Bytes(8)
		copy(buf, "host-aaa")
		b.StartSeries()
		b.AddLabel("__name__", "up")
		b.AddLabel("host", unsafe.String(&buf[0], len(buf))) // aliases the batch's arena, as decoders do
		b.AddSample(1, 1)
		b.FinishSeries()
		_ = q.Enqueue(context.Background(), b)
		copy(buf, "host-zzz") // the caller reuses its buffers
		b.Reset()
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		calls := fc.Calls()
		if len(calls) != 1 || batch.Get(calls[0].series[0].Labels, "host") != "host-aaa" {
			t.Fatalf("sent %+v, want host-aaa", calls)
		}
	})
}

// TestBlocksBounded: blocks hold at most max_samples_per_send samples, and
// a shard keeps at most keepFreeBlocks emptied blocks, however many
// distinct series pass through.
func TestBlocksBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClient{}
		q := newTestQueue(t, testConfig(func(qc *QueueConfig) {
			qc.MaxShards = 1
			qc.Capacity = 1000
			qc.MaxSamplesPerSend = 100
		}), fc)
		q.Start()
		s := q.shards[0]
		for r := range 50 {
			b := &batch.Batch{}
			for i := range 300 {
				b.StartSeries()
				b.AddLabel("__name__", "m")
				b.AddLabel("id", fmt.Sprint(r*300+i)) // every series new
				b.AddSample(1, 1)
				b.FinishSeries()
			}
			_ = q.Enqueue(context.Background(), b)
			s.mu.Lock()
			for _, bl := range s.blocks {
				if bl.samples > 100 {
					t.Fatalf("round %d: a block holds %d samples, more than max_samples_per_send", r, bl.samples)
				}
			}
			s.mu.Unlock()
			synctest.Wait()
			s.mu.Lock()
			free := len(s.free)
			s.mu.Unlock()
			if free > keepFreeBlocks {
				t.Fatalf("round %d: %d free blocks kept, want at most %d", r, free, keepFreeBlocks)
			}
		}
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if q.sentCount(t) != 15000 {
			t.Errorf("sent %d, want 15000", q.sentCount(t))
		}
		for i, c := range fc.Calls() {
			if c.samples > 100 {
				t.Errorf("request %d holds %d samples, more than max_samples_per_send", i, c.samples)
			}
		}
	})
}

// recordHandler keeps log records for assertions.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) attrs(msgPrefix string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, r := range h.records {
		if !strings.HasPrefix(r.Message, msgPrefix) {
			continue
		}
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	return out
}

func TestRejectedSeriesWarningsAreThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeClient{respond: func(_ context.Context, _ int, c call) error {
			for _, s := range c.series {
				if batch.Get(s.Labels, "series") < "5" { // series 0..4 and 10..19 are bad
					return &StatusError{Code: 400, Message: "invalid sample"}
				}
			}
			return nil
		}}
		h := &recordHandler{}
		reg := prometheus.NewRegistry()
		q, err := New(testConfig(func(qc *QueueConfig) { qc.MaxShards = 1 }), Options{Client: fc, Logger: slog.New(h), Metrics: NewMetrics(reg)})
		if err != nil {
			t.Fatal(err)
		}
		q.Start()
		_ = q.Enqueue(context.Background(), makeBatch(20, 5, 0)) // sent at 5s: 15 series rejected
		time.Sleep(11 * time.Second)
		_ = q.Enqueue(context.Background(), makeBatch(20, 5, 100)) // sent at 16s, past the log interval
		time.Sleep(6 * time.Second)
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		warnings := h.attrs("remote write receiver rejected a series")
		if len(warnings) != 2 {
			t.Fatalf("%d warnings for 30 rejected series at 5s and 16s, want 2 (one per %v): %v", len(warnings), logEvery, warnings)
		}
		w := warnings[0]
		if w["response"] != "invalid sample" || !strings.HasPrefix(w["series"], `test_metric{series="`) || w["samples"] != "5" {
			t.Errorf("warning attrs %v", w)
		}
		if w := warnings[1]; w["similar_warnings_suppressed"] != "14" {
			t.Errorf("second warning attrs %v, want the suppressed count", w)
		}
	})
}

// TestEnqueueZeroAllocs: once a shard's blocks have grown, encoding a
// batch into them and sending it allocates nothing.
func TestEnqueueZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	cfg := DefaultConfig()
	cfg.URL = "http://127.0.0.1:1/"
	cfg.QueueConfig.MaxShards = 1
	q, err := New(cfg, Options{Client: discardClient{}})
	if err != nil {
		t.Fatal(err)
	}
	bt := benchBatch() // 2000 samples: one block of max_samples_per_send
	ctx := context.Background()
	s := q.shards[0]
	cycle := func() {
		if err := q.Enqueue(ctx, bt); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		b := s.take()
		s.mu.Unlock()
		q.sendRange(s, b, 0, len(b.ends))
		s.release(q)
	}
	cycle() // grow the block and the compression buffer
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Errorf("Enqueue and send allocate %.1f times per batch, want 0", n)
	}
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
