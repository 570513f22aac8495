package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/logthrottle"
)

// statusClientClosed (nginx's 499) answers a client that went away while
// its request waited for a slot; it is there for the metrics.
const statusClientClosed = 499

// Kinds of throttled warnings: the fixed ones, then one per reject reason.
const (
	warnMalformed = iota
	warnTooLarge
	warnQueueTimeout
	warnNotAdmitted
	warnPipeline
	warnRejected // + outcome.Reason
	warnKinds    = warnRejected + int(outcome.NumReasons)
)

// intake is what every HTTP ingest handler does around its decoder: take
// a request slot, ask the pipeline, read the body, hand the batch over,
// count and log rejections. Its methods answer the request themselves
// when they refuse it and return the status code sent (0: go on).
type intake struct {
	cfg      Config
	gate     *Gate
	pipeline Pipeline
	log      *slog.Logger
	m        *rwMetrics
	warn     *logthrottle.Throttle
	what     string // the request in log messages: "remote write request"
	items    string // its items in log messages: "series"
	// reply answers a refused request: plain text unless the protocol
	// has its own error body (OTLP's google.rpc.Status).
	reply func(w http.ResponseWriter, r *http.Request, code int, msg string) int
}

func newIntake(cfg Config, gate *Gate, p Pipeline, m *Metrics, log *slog.Logger, protocol, what, items string) intake {
	if gate == nil {
		gate = NewGate(cfg)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return intake{
		cfg:      cfg,
		gate:     gate,
		pipeline: p,
		log:      log.With("protocol", protocol),
		m:        m.forProtocol(protocol),
		warn:     logthrottle.New(warnKinds, logthrottle.Every),
		what:     what,
		items:    items,
		reply:    func(w http.ResponseWriter, _ *http.Request, code int, msg string) int { return reply(w, code, msg) },
	}
}

// observe counts a request answered with code after start.
func (in *intake) observe(code int, start time.Time) {
	in.m.request(code)
	in.m.duration.Observe(time.Since(start).Seconds())
}

// checkLength refuses a declared body over max_request_bytes (413).
func (in *intake) checkLength(w http.ResponseWriter, r *http.Request) int {
	if r.ContentLength > in.cfg.MaxRequestBytes {
		return in.reply(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body of %d bytes is over the limit of %d bytes (max_request_bytes)", r.ContentLength, in.cfg.MaxRequestBytes))
	}
	return 0
}

// admit takes a request slot, waiting up to request_queue_timeout, and
// asks the pipeline: 429 (or 499 for a client that left) when either
// refuses. When it returns 0 the caller holds a slot and must release it
// with in.gate.release.
func (in *intake) admit(w http.ResponseWriter, r *http.Request) int {
	switch in.gate.acquire(r.Context()) {
	case errQueueTimeout:
		in.warnf(warnQueueTimeout, r, in.what+" waited too long for a slot; answering 429",
			"max_concurrent_requests", cap(in.gate.slots), "request_queue_timeout", in.gate.timeout)
		setRetryAfter(w, in.gate.timeout)
		return in.reply(w, r, http.StatusTooManyRequests, fmt.Sprintf(
			"too many concurrent requests: all %d slots stayed busy for %s", cap(in.gate.slots), in.gate.timeout))
	case errClientGone:
		return in.reply(w, r, statusClientClosed, "client closed the request while it waited for a slot")
	}
	if retryAfter, ok := in.pipeline.Admit(); !ok {
		in.gate.release()
		in.warnf(warnNotAdmitted, r, "pipeline is not admitting data; answering 429", "retry_after", retryAfter)
		setRetryAfter(w, retryAfter)
		return in.reply(w, r, http.StatusTooManyRequests, "the pipeline is busy; retry later")
	}
	return 0
}

// readBody reads the request body into buf[:0] (413 over
// max_request_bytes, 400 when it cannot be read). A declared
// Content-Length was checked by checkLength, and no more than it is read;
// only a body of unknown length needs http.MaxBytesReader (which also
// makes the server close the connection), so the common request
// allocates no reader.
func (in *intake) readBody(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, int) {
	var src io.Reader = r.Body
	limit := r.ContentLength
	if limit < 0 {
		src, limit = http.MaxBytesReader(w, r.Body, in.cfg.MaxRequestBytes), in.cfg.MaxRequestBytes
	}
	body, err := readBody(buf, src, r.ContentLength, limit)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return body, in.reply(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(
				"request body is over the limit of %d bytes (max_request_bytes)", in.cfg.MaxRequestBytes))
		}
		return body, in.reply(w, r, http.StatusBadRequest, "cannot read request body: "+err.Error())
	}
	return body, 0
}

// decodeFailed answers a request its decoder could not use at all: 413
// for outcome.ErrTooLarge, 415 for outcome.ErrUnsupported, else 400.
func (in *intake) decodeFailed(w http.ResponseWriter, r *http.Request, err error) int {
	switch {
	case errors.Is(err, outcome.ErrTooLarge):
		in.warnf(warnTooLarge, r, "rejected "+in.what+" over max_decoded_bytes", "err", err)
		return in.reply(w, r, http.StatusRequestEntityTooLarge, err.Error()+" (max_decoded_bytes)")
	case errors.Is(err, outcome.ErrUnsupported):
		in.warnf(warnMalformed, r, "rejected unsupported "+in.what, "err", err)
		return in.reply(w, r, http.StatusUnsupportedMediaType, err.Error())
	}
	in.warnf(warnMalformed, r, "rejected malformed "+in.what, "err", err)
	return in.reply(w, r, http.StatusBadRequest, err.Error())
}

// ingest hands b to the pipeline: 429 when it backs off, 503 when it
// fails, both with Retry-After. On success it counts the accepted
// samples and the rejections of res and returns 0.
func (in *intake) ingest(w http.ResponseWriter, r *http.Request, b *batch.Batch, res *outcome.Result) int {
	if b.Len() > 0 {
		if err := in.pipeline.Ingest(r.Context(), b); err != nil {
			code := http.StatusServiceUnavailable
			if errors.Is(err, ErrBackoff) {
				code = http.StatusTooManyRequests
			} else {
				in.warnf(warnPipeline, r, "pipeline failed to ingest a "+in.what+"; answering 503", "err", err)
			}
			setRetryAfter(w, retryAfterOf(err))
			return in.reply(w, r, code, "cannot ingest: "+err.Error())
		}
	}
	in.m.samples.Add(float64(res.Samples))
	in.countRejections(r, res)
	return 0
}

// countRejections adds the request's rejections to the metrics and logs
// one (throttled) warning per reason, naming its first rejected item.
func (in *intake) countRejections(r *http.Request, res *outcome.Result) {
	if res.RejectedItems == 0 {
		return
	}
	for reason := outcome.Reason(1); reason < outcome.NumReasons; reason++ {
		n := res.RejectedByReason[reason]
		if n == 0 {
			continue
		}
		in.m.rejected[reason].Add(float64(n))
		args := []any{"reason", reason.String(), "samples", n}
		for _, rej := range res.Rejected {
			if rej.Reason == reason {
				if rej.ItemKind != "" {
					args = append(args, "item", rej.ItemKind+" "+strconv.Itoa(rej.Item))
				}
				if rej.Series != "" {
					args = append(args, "series", rej.Series)
				}
				args = append(args, "detail", rej.Detail)
				break
			}
		}
		in.warnf(warnRejected+int(reason), r, "rejected "+in.items+" in "+in.what, args...)
	}
}

// warnf logs a throttled warning of kind.
func (in *intake) warnf(kind int, r *http.Request, msg string, args ...any) {
	ok, suppressed := in.warn.Allow(kind, time.Now())
	if !ok {
		return
	}
	args = append(args, "remote_addr", r.RemoteAddr, "user_agent", r.UserAgent(), "suppressed", suppressed)
	in.log.Warn(msg, args...)
}

// Gate bounds how many ingest requests are decoded at once over all
// handlers that share it: memory is bounded by its slots × (the request
// body + its decoded form), whatever the protocol.
type Gate struct {
	slots   chan struct{}
	timeout time.Duration
}

// NewGate returns a Gate of cfg.MaxConcurrentRequests slots; a request
// waits at most cfg.RequestQueueTimeout for one.
func NewGate(cfg Config) *Gate {
	cfg = cfg.withDefaults()
	return &Gate{slots: make(chan struct{}, cfg.MaxConcurrentRequests), timeout: time.Duration(cfg.RequestQueueTimeout)}
}

var (
	errQueueTimeout = errors.New("queue timeout")
	errClientGone   = errors.New("client gone")
)

func (g *Gate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	if g.timeout <= 0 {
		return errQueueTimeout
	}
	t := time.NewTimer(g.timeout)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errQueueTimeout
	case <-ctx.Done():
		return errClientGone
	}
}

func (g *Gate) release() { <-g.slots }
