package remotewrite

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// logEvery is the least time between two warnings of the same kind.
const logEvery = 10 * time.Second

// runShard is the sender of one shard: it waits until the shard has
// max_samples_per_send samples, its oldest sample is batch_send_deadline
// old, or Stop began; then it sends one batch and removes it.
func (q *Queue) runShard(s *shard) {
	defer q.wg.Done()
	for q.runCtx.Err() == nil {
		s.mu.Lock()
		n := s.count
		stopping := q.stopping.Load()
		if n == 0 && stopping {
			s.mu.Unlock()
			return
		}
		var wait time.Duration
		if n > 0 && n < q.maxPerSend && !stopping {
			wait = q.deadline - time.Duration(q.now()-s.oldest())
		}
		if n > 0 && wait <= 0 {
			s.collect(min(n, q.maxPerSend))
			s.mu.Unlock()
			q.sendOut(s)
			s.release(q, s.out.n)
			s.out.reset()
			continue
		}
		s.mu.Unlock()

		var expired <-chan time.Time
		if n > 0 {
			s.timer.Reset(wait)
			expired = s.timer.C
		}
		select {
		case <-s.wake:
		case <-expired:
		case <-q.stopCh:
		case <-q.runCtx.Done():
		}
		s.timer.Stop()
	}
}

// sendOut sends the collected batch; every sample ends up sent or dropped.
func (q *Queue) sendOut(s *shard) {
	s.out.group()
	q.sendRange(s, 0, len(s.out.series))
}

// sendRange sends the series [lo, hi) of s.out until it succeeds, the
// receiver refuses it, or Stop's deadline passes. On 400 it splits the
// range in halves and sends each, so only series rejected alone are dropped.
func (q *Queue) sendRange(s *shard, lo, hi int) {
	o := &s.out
	samples := int(o.offsets[hi] - o.offsets[lo])
	req := o.enc.encode(o.series, o.offsets, o.samples, lo, hi)
	backoff := q.minBackoff
	for {
		if q.runCtx.Err() != nil {
			q.dropBuffered(samples)
			return
		}
		start := time.Now()
		err := q.client.Store(q.runCtx, req, samples)
		q.sendDuration.Observe(time.Since(start).Seconds())
		if err == nil {
			q.sent.Add(float64(samples))
			return
		}
		if q.runCtx.Err() != nil {
			q.dropBuffered(samples)
			return
		}

		var rerr *RecoverableError
		if errors.As(err, &rerr) {
			q.retries.Inc()
			sleep := rerr.RetryAfter
			if sleep <= 0 {
				sleep = jitter(backoff)
			}
			backoff = min(2*backoff, q.maxBackoff)
			if ok, suppressed := q.logRetry.allow(); ok {
				q.log.Warn("remote write failed, retrying", "err", err, "samples", samples,
					"retry_in", sleep, "similar_warnings_suppressed", suppressed)
			}
			if !q.sleep(s.timer, sleep) {
				q.dropBuffered(samples)
				return
			}
			continue
		}

		var serr *StatusError
		if errors.As(err, &serr) && serr.Code == 400 {
			if hi-lo > 1 {
				mid := lo + (hi-lo)/2
				q.sendRange(s, lo, mid)
				q.sendRange(s, mid, hi)
				return
			}
			q.drop(ReasonHTTP400, samples)
			if ok, suppressed := q.logDrop.allow(); ok {
				q.log.Warn("remote write receiver rejected a series; its samples were dropped",
					"series", batch.String(o.series[lo]), "samples", samples, "response", serr.Message,
					"similar_warnings_suppressed", suppressed)
			}
			return
		}
		reason := ReasonSendError
		if serr != nil {
			reason = "http_" + strconv.Itoa(serr.Code)
		}
		q.drop(reason, samples)
		if ok, suppressed := q.logDrop.allow(); ok {
			q.log.Warn("remote write request failed and will not be retried; samples dropped",
				"err", err, "samples", samples, "reason", reason, "similar_warnings_suppressed", suppressed)
		}
		return
	}
}

// jitter returns a duration in [d/2, d] ("equal jitter").
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(d-half+1)
}

// sleep waits d on t; false when Stop's deadline passed first.
func (q *Queue) sleep(t *time.Timer, d time.Duration) bool {
	t.Reset(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-q.runCtx.Done():
		return false
	}
}

// throttle lets one event through per logEvery and counts the others.
type throttle struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

func (t *throttle) allow() (ok bool, suppressed int) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.next) {
		t.suppressed++
		return false, 0
	}
	t.next = now.Add(logEvery)
	suppressed, t.suppressed = t.suppressed, 0
	return true, suppressed
}
