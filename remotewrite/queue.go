package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/rules"
	"github.com/premetrics/premetrics/telemetry"
)

// Drop reasons (the reason label of the drop counters).
const (
	ReasonRelabel   = "relabel"
	ReasonQueueFull = "queue_full"
	ReasonShutdown  = "shutdown"
	ReasonHTTP400   = "http_400"
	ReasonSendError = "send_error"
)

// Options are a Queue's collaborators.
type Options struct {
	// Dropped is the shared premetrics_dropped_samples_total{stage,reason}
	// (telemetry.NewDroppedSamples); nil: an unregistered one.
	Dropped *prometheus.CounterVec
	// Metrics are the remote-write metrics (NewMetrics); nil: unregistered ones.
	Metrics *Metrics
	// Client sends requests; nil: an HTTP client built from the Config.
	Client Client
	// Logger; nil: discard.
	Logger *slog.Logger
	// Version goes into the User-Agent: premetrics/<Version>.
	Version string
}

// Queue batches, shards and sends the series of one remote_write entry.
// Its methods are safe for concurrent use.
type Queue struct {
	endpoint      string
	capacity      int
	highWatermark int
	maxPerSend    int
	deadline      time.Duration
	minBackoff    time.Duration
	maxBackoff    time.Duration
	relabel       *rules.Relabeler
	client        Client
	log           *slog.Logger
	shards        []*shard
	scratch       sync.Pool // *[]batch.Label, relabel output
	base          time.Time // origin of now()

	metrics      *Metrics
	sent         prometheus.Counter
	retries      prometheus.Counter
	sendDuration prometheus.Observer
	dropped      *prometheus.CounterVec           // {reason}, curried with the endpoint
	droppedAll   *prometheus.CounterVec           // {reason}, curried with stage=remotewrite
	dropCounters map[string][2]prometheus.Counter // fixed reasons, resolved once; read-only
	logRetry     throttle
	logDrop      throttle

	fullShards atomic.Int32 // shards at or above the high watermark
	lost       atomic.Int64 // samples dropped as shutdown, for Stop's error
	stopping   atomic.Bool  // set before stopCh is closed

	lifecycle sync.Mutex
	started   bool
	stopped   bool
	stopCh    chan struct{} // closed when Stop begins
	done      chan struct{} // closed when Stop has finished
	runCtx    context.Context
	cancelRun context.CancelFunc // aborts requests and backoffs: Stop's deadline passed
	wg        sync.WaitGroup
}

// New validates cfg, compiles its write_relabel_configs and builds a Queue;
// call Start to begin sending. From New until Stop, the queue's pending
// samples are reported through opts.Metrics.
func New(cfg Config, opts Options) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create remote write queue %q: %w", cfg.Endpoint(), err)
	}
	relabeler, err := rules.CompileRelabel(cfg.WriteRelabelConfigs)
	if err != nil {
		return nil, fmt.Errorf("cannot compile write_relabel_configs of %q: %w", cfg.Endpoint(), err)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Dropped == nil {
		opts.Dropped = telemetry.NewDroppedSamples(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "unknown"
	}
	ep := cfg.Endpoint()
	m := opts.Metrics
	qc := cfg.QueueConfig
	q := &Queue{
		endpoint:      ep,
		capacity:      qc.Capacity,
		highWatermark: max(qc.Capacity*9/10, 1),
		maxPerSend:    qc.MaxSamplesPerSend,
		deadline:      time.Duration(qc.BatchSendDeadline),
		minBackoff:    time.Duration(qc.MinBackoff),
		maxBackoff:    time.Duration(qc.MaxBackoff),
		relabel:       relabeler,
		client:        opts.Client,
		log:           opts.Logger.With("component", "remotewrite", "endpoint", ep),
		base:          time.Now(),
		metrics:       m,
		sent:          m.samplesSent.WithLabelValues(ep),
		retries:       m.retries.WithLabelValues(ep),
		sendDuration:  m.sendDuration.WithLabelValues(ep),
		dropped:       m.samplesDropped.MustCurryWith(prometheus.Labels{"endpoint": ep}),
		droppedAll:    opts.Dropped.MustCurryWith(prometheus.Labels{"stage": telemetry.StageRemoteWrite}),
		stopCh:        make(chan struct{}),
		done:          make(chan struct{}),
	}
	q.dropCounters = map[string][2]prometheus.Counter{}
	for _, r := range []string{ReasonRelabel, ReasonQueueFull, ReasonShutdown, ReasonHTTP400, ReasonSendError} {
		q.dropCounters[r] = [2]prometheus.Counter{q.dropped.WithLabelValues(r), q.droppedAll.WithLabelValues(r)}
	}
	q.scratch.New = func() any { return new([]batch.Label) }
	if q.client == nil {
		c, err := newHTTPClient(&cfg, userAgentProduct+"/"+opts.Version,
			m.requests.MustCurryWith(prometheus.Labels{"endpoint": ep}))
		if err != nil {
			return nil, fmt.Errorf("cannot create remote write queue %q: %w", ep, err)
		}
		q.client = c
	}
	q.runCtx, q.cancelRun = context.WithCancel(context.Background())
	q.shards = make([]*shard, qc.MaxShards)
	for i := range q.shards {
		q.shards[i] = newShard(q)
	}
	m.pending.add(q)
	return q, nil
}

// Endpoint returns the endpoint label of this queue.
func (q *Queue) Endpoint() string { return q.endpoint }

// Start starts one sender goroutine per shard. It does nothing after Stop
// or when already started.
func (q *Queue) Start() {
	q.lifecycle.Lock()
	defer q.lifecycle.Unlock()
	if q.started || q.stopped {
		return
	}
	q.started = true
	q.wg.Add(len(q.shards))
	for _, s := range q.shards {
		s.timer = time.NewTimer(time.Hour)
		s.timer.Stop()
		go q.runShard(s)
	}
}

// Enqueue copies b's series, after write_relabel_configs, into the shards
// and returns when all are buffered. While a shard is full it blocks until
// ctx is done; then it returns ctx.Err() wrapped, and counts the samples it
// did not buffer as dropped (queue_full). After Stop has begun it returns
// ErrStopped wrapped and counts them as shutdown. The caller keeps b.
func (q *Queue) Enqueue(ctx context.Context, b *batch.Batch) error {
	buf := q.scratch.Get().(*[]batch.Label)
	defer q.scratch.Put(buf)
	relabeled := 0
	defer func() { q.drop(ReasonRelabel, relabeled) }()
	now := q.now() // one clock read per call; put refreshes it after blocking
	for i := range b.Series {
		s := &b.Series[i]
		if len(s.Samples) == 0 {
			continue
		}
		ls := s.Labels
		if q.relabel != nil {
			out, keep := q.relabel.Apply(ls, (*buf)[:0])
			*buf = out[:0]
			if !keep || len(out) == 0 {
				relabeled += len(s.Samples)
				continue
			}
			ls = out
		}
		h := batch.Hash(ls)
		n, err := q.shards[h%uint64(len(q.shards))].put(ctx, q, &now, ls, s.Samples, s.Histograms)
		if err != nil {
			lost := len(s.Samples) - n
			for j := i + 1; j < len(b.Series); j++ {
				lost += len(b.Series[j].Samples)
			}
			reason := ReasonQueueFull
			if errors.Is(err, ErrStopped) {
				reason = ReasonShutdown
			}
			q.drop(reason, lost)
			return fmt.Errorf("cannot enqueue %d samples for remote write %q: %w", lost, q.endpoint, err)
		}
	}
	return nil
}

// Full reports whether any shard holds at least 90% of its capacity.
func (q *Queue) Full() bool { return q.fullShards.Load() > 0 }

// Pending returns the number of buffered samples, including those being sent.
func (q *Queue) Pending() int {
	n := int64(0)
	for _, s := range q.shards {
		n += s.pending.Load()
	}
	return int(n)
}

// Stop stops accepting samples, sends what is buffered (retrying as usual)
// until ctx is done, then drops the rest (counted as shutdown), waits for
// the sender goroutines and returns. The error says how many samples were
// dropped and wraps ctx.Err(). Stop is idempotent (later calls wait for
// the first to finish) and safe without Start (then what is buffered is
// dropped).
func (q *Queue) Stop(ctx context.Context) error {
	q.lifecycle.Lock()
	if q.stopped {
		q.lifecycle.Unlock()
		select {
		case <-q.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("cannot stop remote write %q: %w", q.endpoint, ctx.Err())
		}
	}
	q.stopped = true
	started := q.started
	q.stopping.Store(true)
	close(q.stopCh)
	q.lifecycle.Unlock()

	defer close(q.done)
	defer q.metrics.pending.remove(q)
	if started {
		stopAfter := context.AfterFunc(ctx, q.cancelRun)
		q.wg.Wait()
		stopAfter()
	}
	q.cancelRun()
	if c, ok := q.client.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	left := 0
	for _, s := range q.shards {
		left += s.drain(q)
	}
	q.dropBuffered(left)
	dropped := q.lost.Load()
	if dropped == 0 {
		return nil
	}
	q.log.Warn("remote write stopped before sending everything; samples dropped", "samples", dropped)
	err := ctx.Err()
	if err == nil {
		err = errors.New("queue was never started")
	}
	return fmt.Errorf("cannot flush remote write %q: dropped %d samples: %w", q.endpoint, dropped, err)
}

// drop counts n dropped samples with reason in both drop counters.
func (q *Queue) drop(reason string, n int) {
	if n <= 0 {
		return
	}
	c, ok := q.dropCounters[reason]
	if !ok {
		c = [2]prometheus.Counter{q.dropped.WithLabelValues(reason), q.droppedAll.WithLabelValues(reason)}
	}
	c[0].Add(float64(n))
	c[1].Add(float64(n))
}

// dropBuffered counts n buffered samples dropped because Stop's deadline passed.
func (q *Queue) dropBuffered(n int) {
	q.drop(ReasonShutdown, n)
	q.lost.Add(int64(n))
}

// now is the time since the queue was created (monotonic).
func (q *Queue) now() int64 { return int64(time.Since(q.base)) }
