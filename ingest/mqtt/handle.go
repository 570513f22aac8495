package mqtt

import (
	"errors"
	"slices"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// maxHold bounds one wait for the pipeline, whatever its hint says.
const maxHold = 10 * time.Second

// queueFullCheck is how often onMessage, waiting for room in a full queue,
// checks whether the connection or the Subscriber went away.
const queueFullCheck = 100 * time.Millisecond

// onMessage is paho's handler for every message. It runs on paho's
// dispatch goroutine, which also reads the connection, so it only queues
// the message. When the queue is full it waits for room (the broker then
// sees TCP backpressure), and gives up (leaving the message
// unacknowledged) when the connection is lost or Stop is called, so paho
// can tear the connection down.
func (s *Subscriber) onMessage(_ paho.Client, msg paho.Message) {
	d := delivery{msg: msg, gen: s.gen.Load(), received: time.Now()}
	select {
	case <-s.stopping:
		s.m.abandoned.Inc()
		return
	default:
	}
	select {
	case s.queue <- d:
		return
	default:
	}
	tick := time.NewTicker(queueFullCheck)
	defer tick.Stop()
	for {
		select {
		case s.queue <- d:
			return
		case <-s.stopping:
			s.m.abandoned.Inc()
			return
		case <-tick.C:
			if !s.client.IsConnectionOpen() {
				s.m.abandoned.Inc()
				return
			}
		}
	}
}

// worker is the scratch space of the worker goroutine.
type worker struct {
	b   *batch.Batch
	res outcome.Result
	lab labeler
}

// work handles queued messages one at a time, in order, until Stop; then
// it handles what is queued without waiting for the pipeline.
func (s *Subscriber) work() {
	defer close(s.workerDone)
	w := &worker{b: batch.GetBatch()}
	defer batch.PutBatch(w.b)
	for {
		select {
		case d := <-s.queue:
			s.handle(w, &d)
		case <-s.stopping:
			for {
				select {
				case d := <-s.queue:
					s.handle(w, &d)
				default:
					return
				}
			}
		}
	}
}

// connGone reports whether d came over a connection that is gone.
func (s *Subscriber) connGone(d *delivery) bool {
	return d.gen != s.gen.Load() || !s.client.IsConnectionOpen()
}

// redelivered reports whether the broker will deliver d again: it came
// with QoS 1 or 2 in a persistent session over a connection that is gone,
// so it was never acknowledged there.
func (s *Subscriber) redelivered(d *delivery) bool {
	return d.msg.Qos() > 0 && !s.cfg.CleanSession && s.connGone(d)
}

// ack acknowledges d on its connection; on a gone connection there is
// nothing to acknowledge to.
func (s *Subscriber) ack(d *delivery) {
	if !s.connGone(d) {
		d.msg.Ack()
	}
}

// handle brings one message into the pipeline: it waits while the
// pipeline does not admit data or Ingest fails, decoding afresh for every
// attempt (Ingest edits the batch in place), and acknowledges once Ingest
// returned nil. A payload that does not decode is acknowledged and
// dropped. A message is abandoned unacknowledged when Stop is called
// while it waits, or when its connection is gone and the broker will
// deliver it again.
func (s *Subscriber) handle(w *worker, d *delivery) {
	t := s.match(d.msg.Topic())
	if t == nil {
		s.m.unmatched.Inc()
		s.warnf(warnUnmatched, "MQTT message on a topic no configured filter matches (a subscription left in the persistent session by an earlier config?); acknowledged and dropped",
			"topic", d.msg.Topic())
		s.ack(d)
		return
	}
	for {
		if s.runCtx.Err() != nil || s.redelivered(d) {
			s.m.abandoned.Inc()
			return
		}
		wait, ok := s.pipeline.Admit()
		if ok {
			done, err := s.attempt(w, d, t)
			if done {
				return
			}
			wait = retryAfterOf(err)
			if errors.Is(err, ingest.ErrBackoff) {
				s.warnf(warnBusy, "pipeline is busy; holding the MQTT message unacknowledged", "topic", d.msg.Topic(), "retry_after", wait)
			} else {
				s.warnf(warnIngest, "pipeline failed to ingest an MQTT message; holding it unacknowledged", "topic", d.msg.Topic(), "err", err, "retry_after", wait)
			}
		} else {
			s.warnf(warnNotAdmitted, "pipeline is not admitting data; holding the MQTT message unacknowledged", "topic", d.msg.Topic(), "retry_after", wait)
		}
		s.m.retried.Inc()
		if wait <= 0 {
			wait = ingest.DefaultRetryAfter
		}
		if !s.sleep(min(wait, maxHold)) {
			s.m.abandoned.Inc()
			return
		}
	}
}

// attempt decodes d and ingests it. done is true when d is finished
// (ingested or dropped as malformed, and acknowledged); otherwise err is
// Ingest's error and d is to be retried.
func (s *Subscriber) attempt(w *worker, d *delivery, t *topic) (done bool, err error) {
	b, res := w.b, &w.res
	b.Reset()
	res.Reset()
	if err := t.decoder.Decode(d.msg.Payload(), b, d.received.UnixMilli(), res); err != nil {
		s.m.malformed.Inc()
		s.warnf(warnMalformed, "malformed MQTT payload; acknowledged and dropped", "topic", d.msg.Topic(), "err", err)
		s.ack(d)
		return true, nil
	}
	w.lab.apply(b, d.msg.Topic(), t.labels)
	if b.Len() > 0 {
		if err := s.pipeline.Ingest(s.runCtx, b); err != nil {
			return false, err
		}
	}
	s.ack(d)
	s.m.samples.Add(float64(res.Samples))
	if res.RejectedItems == 0 {
		s.m.accepted.Inc()
		return true, nil
	}
	s.m.rejected.Inc()
	for r := outcome.Reason(1); r < outcome.NumReasons; r++ {
		n := res.RejectedByReason[r]
		if n == 0 {
			continue
		}
		s.m.reasons[r].Add(float64(n))
		args := []any{"topic", d.msg.Topic(), "reason", r.String(), "samples", n}
		if i := slices.IndexFunc(res.Rejected, func(rej outcome.Rejection) bool { return rej.Reason == r }); i >= 0 {
			args = append(args, "item", res.Rejected[i].Item, "series", res.Rejected[i].Series, "detail", res.Rejected[i].Detail)
		}
		s.warnf(warnRejected, "rejected items in an MQTT message; the rest was ingested", args...)
	}
	return true, nil
}

// match returns the first topic whose filter matches name, or nil.
func (s *Subscriber) match(name string) *topic {
	for i := range s.topics {
		if matchTopic(s.topics[i].levels, name) {
			return &s.topics[i]
		}
	}
	return nil
}

// retryAfterOf returns the hint an Ingest error carries, or 0.
func retryAfterOf(err error) time.Duration {
	var h interface{ RetryAfter() time.Duration }
	if errors.As(err, &h) {
		return h.RetryAfter()
	}
	return 0
}

// Kinds of throttled warnings.
const (
	warnMalformed = iota
	warnRejected
	warnUnmatched
	warnNotAdmitted
	warnBusy
	warnIngest
	warnConnect
	warnKinds
)

// warnf logs a throttled warning of kind.
func (s *Subscriber) warnf(kind int, msg string, args ...any) {
	ok, suppressed := s.warn.Allow(kind, time.Now())
	if !ok {
		return
	}
	s.log.Warn(msg, append(args, "suppressed", suppressed)...)
}
