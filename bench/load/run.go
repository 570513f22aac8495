package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/premetrics/premetrics/bench/loopback"
)

// Options configure a Run.
type Options struct {
	// URL is the endpoint of the plan's protocol (/api/v1/write,
	// /api/v1/push/{name}, /write, /v1/metrics,
	// /api/v1/import/prometheus); only loopback hosts are accepted.
	// Unused with ProtocolMQTT.
	URL string
	// MQTT configures the publishers of ProtocolMQTT; MQTT.Broker is set
	// exactly when the plan's protocol is ProtocolMQTT.
	MQTT MQTTOptions
	// Rate is the offered load in samples per second.
	Rate float64
	// Duration bounds the schedule: requests due before it are sent.
	Duration time.Duration
	// Connections is the number of keep-alive connections, each with at
	// most one request in flight (MQTT: MQTT.Inflight publishes). Body j
	// always goes over connection j mod Connections (connections beyond
	// the number of bodies idle).
	Connections int
	// Timeout bounds one request (MQTT: a connection attempt, a PUBACK).
	Timeout time.Duration
	// Progress prints a line to ProgressOut at this interval (0: never).
	Progress    time.Duration
	ProgressOut io.Writer
	// Client, when set, sends the requests instead of the built-in
	// HTTP/1.1 client (one keep-alive connection per worker, plain http).
	Client *http.Client
}

// Validate reports every invalid option, naming its flag.
func (o *Options) Validate() error {
	var errs []error
	if o.MQTT.Broker != "" {
		errs = append(errs, o.MQTT.validate()...)
	} else if err := loopback.CheckURL(o.URL); err != nil {
		errs = append(errs, err)
	}
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		errs = append(errs, fmt.Errorf("-rate: must be > 0, got %v", o.Rate))
	}
	if o.Duration <= 0 {
		errs = append(errs, fmt.Errorf("-duration: must be > 0, got %s", o.Duration))
	}
	if o.Connections < 1 || o.Connections > 1024 {
		errs = append(errs, fmt.Errorf("-connections: must be in [1, 1024], got %d", o.Connections))
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout: must be > 0, got %s", o.Timeout))
	}
	return errors.Join(errs...)
}

// schedule maps request numbers to bodies, send numbers and due times.
// Request i sends body i mod bodies for the (i div bodies)-th time and is
// due when all samples of the requests before it have been offered at the
// target rate: due(i) = samples before i / rate. The schedule is in
// absolute time from the start, so a late request never delays the next.
type schedule struct {
	bodies      int64
	tickSamples int64
	prefix      []int64 // samples of bodies before j in a tick
	nsPerSample float64
	total       int64 // requests due before the duration
}

func newSchedule(p *Plan, rate float64, d time.Duration) *schedule {
	s := &schedule{bodies: int64(p.Bodies()), tickSamples: int64(p.Series()), nsPerSample: 1e9 / rate}
	s.prefix = make([]int64, p.Bodies())
	var sum int64
	for j := range s.prefix {
		s.prefix[j] = sum
		sum += int64(p.BodySamples(j))
	}
	// Whole ticks first, then the requests of the last tick that are due.
	s.total = int64(float64(d.Nanoseconds())/s.nsPerSample/float64(s.tickSamples)) * s.bodies
	for s.due(s.total) < d {
		s.total++
	}
	for s.total > 0 && s.due(s.total-1) >= d {
		s.total--
	}
	return s
}

func (s *schedule) split(i int64) (body int, tick int64) { return int(i % s.bodies), i / s.bodies }

// nextFor returns the request after i of worker w of n (w < bodies): the
// next body j with j mod n == w, in this tick or the next.
func (s *schedule) nextFor(i int64, w, n int) int64 {
	j, tick := s.split(i)
	if j += n; int64(j) < s.bodies {
		return tick*s.bodies + int64(j)
	}
	return (tick+1)*s.bodies + int64(w)
}

func (s *schedule) due(i int64) time.Duration {
	j, k := s.split(i)
	return time.Duration(float64(k*s.tickSamples+s.prefix[j]) * s.nsPerSample)
}

// tickStart is when send number k of the series begins, from the start.
func (s *schedule) tickStart(k int64) float64 {
	return float64(k*s.tickSamples) * s.nsPerSample / 1e9
}

// Run sends the plan's load at opts.Rate for opts.Duration, open loop:
// requests leave at their scheduled time whatever the answers, as far as
// the connections allow; when all are busy the generator falls behind
// schedule and catches up as soon as one is free, and reports how far
// behind it was. Responses other than 2xx (429, 5xx, 400) are counted,
// never retried. Samples are stamped with their request's due time, so
// they carry event time whether or not the generator keeps up.
//
// Cancelling ctx stops sending new requests; the summary is returned
// with Interrupted set.
func Run(ctx context.Context, p *Plan, opts Options) (*Summary, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if mqtt := p.Protocol() == ProtocolMQTT; mqtt != (opts.MQTT.Broker != "") {
		if mqtt {
			return nil, errNoBroker
		}
		return nil, fmt.Errorf("-mqtt-broker: only with -protocol %s, not %s", ProtocolMQTT, p.Protocol())
	}
	sched := newSchedule(p, opts.Rate, opts.Duration)
	lastChurn := p.Churned(sched.tickStart(max(sched.total-1, 0) / sched.bodies))
	if err := p.CheckChurn(lastChurn); err != nil {
		return nil, err
	}
	var senders []sender
	var pubs []*publisher
	for w := range opts.Connections {
		if opts.MQTT.Broker != "" {
			pub, err := newPublisher(&opts.MQTT, w, opts.Timeout)
			if err != nil {
				return nil, err
			}
			pubs = append(pubs, pub)
			continue
		}
		if opts.Client != nil {
			senders = append(senders, &httpSender{url: opts.URL, protocol: p.Protocol(), client: opts.Client})
			continue
		}
		s, err := newConnSender(opts.URL, opts.Timeout, p.Protocol())
		if err != nil {
			return nil, err
		}
		senders = append(senders, s)
	}
	// Connected before the start (a failure is retried at the first
	// publish), so the first publishes are not late by a handshake.
	var connecting sync.WaitGroup
	for _, pub := range pubs[:min(len(pubs), p.Bodies())] {
		connecting.Go(func() { _ = pub.connect() })
	}
	connecting.Wait()
	cpuBefore := cpuSeconds()
	start := time.Now()
	startMs := start.UnixMilli()
	if err := p.CheckTimestamp(startMs); err != nil {
		return nil, err
	}
	r := &runner{plan: p, opts: opts, sched: sched, start: start, startMs: startMs, stats: newStats(opts.Duration)}
	stopProgress := r.progress()
	var wg sync.WaitGroup
	for w, s := range senders {
		wg.Go(func() {
			defer s.close()
			r.worker(ctx, s, w, len(senders))
		})
	}
	for w, pub := range pubs {
		wg.Go(func() { r.mqttWorker(ctx, pub, w, len(pubs)) })
	}
	wg.Wait()
	stopProgress()
	elapsed := time.Since(start)
	cpu := cpuSeconds() - cpuBefore
	return r.summary(elapsed, cpu, ctx.Err() != nil), nil
}

type runner struct {
	plan    *Plan
	opts    Options
	sched   *schedule
	start   time.Time
	startMs int64
	stats   *stats
}

// worker sends, in order, the requests of the bodies j with j mod n == w:
// like a Prometheus remote write shard, one connection carries all
// samples of a series, so they arrive in timestamp order even when the
// receiver stalls. A stalled connection delays only its own bodies.
func (r *runner) worker(ctx context.Context, s sender, w, n int) {
	buf := make([]byte, 0, r.plan.MaxBodyBytes())
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	if int64(w) >= r.sched.bodies {
		return // more connections than bodies
	}
	for i := int64(w); i < r.sched.total; i = r.sched.nextFor(i, w, n) {
		if ctx.Err() != nil {
			return
		}
		due := r.sched.due(i)
		if wait := due - time.Since(r.start); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		r.stats.behind(i, time.Since(r.start)-due)
		j, tick := r.sched.split(i)
		churned := r.plan.Churned(r.sched.tickStart(tick))
		var samples int
		buf, samples = r.plan.Render(buf, j, tick, r.startMs+due.Milliseconds(), churned)
		r.stats.churned(churned)
		a := s.post(buf)
		r.stats.response(time.Since(r.start), samples, len(buf), a)
	}
}

// progress prints a line every opts.Progress until stopped.
func (r *runner) progress() (stop func()) {
	if r.opts.Progress <= 0 || r.opts.ProgressOut == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.opts.Progress)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(r.start)
				s := r.stats.snapshot()
				fmt.Fprintf(r.opts.ProgressOut, "loadgen: %s: %d samples sent (%.0f/s), %d accepted, behind schedule %s (max %s), responses %s\n",
					el.Round(time.Second), s.samplesSent, float64(s.samplesSent)/el.Seconds(), s.samplesAccepted,
					s.lastBehind.Round(time.Millisecond), s.maxBehind.Round(time.Millisecond), formatCounts(s.status))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// cpuSeconds returns the user+system CPU time of this process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// status is the key of an answer in the status counts: the HTTP code,
// "puback" for an acknowledged MQTT publish, or "error" when there was no
// answer.
func (a *answer) status() string {
	switch {
	case a.err != nil:
		return "error"
	case a.acked:
		return statusPuback
	}
	return strconv.Itoa(a.code)
}

// ok reports whether the receiver took the request (some of its samples
// may still be rejected).
func (a *answer) ok() bool { return a.err == nil && (a.acked || a.code/100 == 2) }
