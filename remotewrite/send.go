package remotewrite

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// logEvery is the least time between two warnings of the same kind.
const logEvery = 10 * time.Second

// runShard is the sender of one shard: it waits until the oldest block
// holds max_samples_per_send samples, is batch_send_deadline old, or Stop
// began; then it sends that block and removes it.
func (q *Queue) runShard(s *shard) {
	defer q.wg.Done()
	for q.runCtx.Err() == nil {
		s.mu.Lock()
		stopping := q.stopping.Load()
		if len(s.blocks) == 0 && stopping {
			s.mu.Unlock()
			return
		}
		var wait time.Duration
		if len(s.blocks) > 0 {
			if head := s.blocks[0]; head.samples < q.maxPerSend && !stopping {
				wait = q.deadline - time.Duration(q.now()-head.enqueued)
			}
			if wait <= 0 {
				b := s.take()
				s.mu.Unlock()
				q.sendRange(s, b, 0, len(b.ends))
				s.release(q)
				continue
			}
		}
		s.mu.Unlock()

		var expired <-chan time.Time
		if wait > 0 {
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

// sendRange sends the records [lo, hi) of b until it succeeds, the
// receiver refuses it, or Stop's deadline passes. On 400 it splits the
// range in halves and sends each, so only series rejected alone are
// dropped. Every sample ends up sent or dropped.
func (q *Queue) sendRange(s *shard, b *block, lo, hi int) {
	var req []byte
	var samples int
	if b.z != nil && lo == 0 && hi == len(b.ends) {
		req, samples = b.z, b.samples // sealed: compressed already
	} else {
		var pb []byte
		pb, samples = b.records(lo, hi, &s.unz)
		req = s.enc.compress(pb)
	}
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
				q.sendRange(s, b, lo, mid)
				q.sendRange(s, b, mid, hi)
				return
			}
			q.drop(ReasonHTTP400, samples)
			if ok, suppressed := q.logDrop.allow(); ok {
				q.log.Warn("remote write receiver rejected a series; its samples were dropped",
					"series", recordSeries(first(b, lo, &s.unz)), "samples", samples, "response", serr.Message,
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

// first returns the bytes of record lo of b, for a log line.
func first(b *block, lo int, scratch *[]byte) []byte {
	pb, _ := b.records(lo, lo+1, scratch)
	return pb
}
