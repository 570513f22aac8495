package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/logthrottle"
)

// Protocol describes one push protocol served by NewPushHandler: how to
// check a request before its body is read, how to decode the body, and
// how to answer.
type Protocol struct {
	// Name is the protocol label of the self metrics ("influx", "json",
	// "otlp", "prometheus_text").
	Name string
	// Check validates what is known before the body is read (path
	// values, query parameters, Content-Type) and returns a status code
	// and message to refuse the request, or 0. It may stash what it
	// parsed in the returned value, handed to Decode. Nil: no checks.
	Check func(r *http.Request) (parsed any, code int, msg string)
	// Decode decodes body (decompressed) into b; see package outcome.
	// now is the receive time in Unix milliseconds.
	Decode func(parsed any, body []byte, b *batch.Batch, lim outcome.Limits, now int64, res *outcome.Result) error
	// Respond answers a request whose valid data the pipeline accepted
	// and returns the status code sent. Nil: 204 when nothing was
	// rejected, otherwise 400 with res.Message.
	Respond func(w http.ResponseWriter, r *http.Request, parsed any, res *outcome.Result) int
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

// Kinds of throttled warnings of a push handler.
const (
	pushWarnMalformed = iota
	pushWarnTooLarge
	pushWarnQueueTimeout
	pushWarnNotAdmitted
	pushWarnPipeline
	pushWarnRejected // + outcome.Reason
	pushWarnKinds    = pushWarnRejected + int(outcome.NumReasons)
)

type pushHandler struct {
	cfg      Config
	limits   outcome.Limits
	gate     *Gate
	proto    Protocol
	pipeline Pipeline
	log      *slog.Logger
	m        *rwMetrics
	warn     *logthrottle.Throttle
	pool     sync.Pool // *pushState
}

// pushState is the per-request scratch space a push handler reuses.
type pushState struct {
	body    []byte // as received
	decoded []byte // gunzipped
	zr      *gzip.Reader
	br      bytes.Reader
	res     outcome.Result
}

// NewPushHandler returns the handler of one push protocol. Its request
// lifecycle is that of remote write (see the package doc), with gzip in
// place of snappy: a Content-Encoding of gzip (or x-gzip) is
// decompressed up to max_decoded_bytes, identity or none is taken as is,
// anything else is 415. A nil gate gets a private one, a nil m
// unregistered metrics, a nil log discards.
func NewPushHandler(cfg Config, gate *Gate, proto Protocol, p Pipeline, m *Metrics, log *slog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	if gate == nil {
		gate = NewGate(cfg)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &pushHandler{
		cfg:      cfg,
		limits:   cfg.DecoderLimits(),
		gate:     gate,
		proto:    proto,
		pipeline: p,
		log:      log.With("protocol", proto.Name),
		m:        m.forProtocol(proto.Name),
		warn:     logthrottle.New(pushWarnKinds, logthrottle.Every),
		pool:     sync.Pool{New: func() any { return new(pushState) }},
	}
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := h.serve(w, r)
	h.m.request(code)
	h.m.duration.Observe(time.Since(start).Seconds())
}

func (h *pushHandler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return reply(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use POST")
	}
	var parsed any
	if h.proto.Check != nil {
		var code int
		var msg string
		if parsed, code, msg = h.proto.Check(r); code != 0 {
			return reply(w, code, msg)
		}
	}
	gzipped, ok := gzipEncoded(r.Header.Get("Content-Encoding"))
	if !ok {
		return reply(w, http.StatusUnsupportedMediaType, fmt.Sprintf(
			"unsupported Content-Encoding %q: send gzip or no encoding", r.Header.Get("Content-Encoding")))
	}
	if r.ContentLength > h.cfg.MaxRequestBytes {
		return reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body of %d bytes is over the limit of %d bytes (max_request_bytes)", r.ContentLength, h.cfg.MaxRequestBytes))
	}

	switch h.gate.acquire(r.Context()) {
	case errQueueTimeout:
		h.warnf(pushWarnQueueTimeout, r, "request waited too long for a slot; answering 429",
			"max_concurrent_requests", cap(h.gate.slots), "request_queue_timeout", h.gate.timeout)
		setRetryAfter(w, h.gate.timeout)
		return reply(w, http.StatusTooManyRequests, fmt.Sprintf(
			"too many concurrent requests: all %d slots stayed busy for %s", cap(h.gate.slots), h.gate.timeout))
	case errClientGone:
		return reply(w, statusClientClosed, "client closed the request while it waited for a slot")
	}
	defer h.gate.release()

	if retryAfter, ok := h.pipeline.Admit(); !ok {
		h.warnf(pushWarnNotAdmitted, r, "pipeline is not admitting data; answering 429", "retry_after", retryAfter)
		setRetryAfter(w, retryAfter)
		return reply(w, http.StatusTooManyRequests, "the pipeline is busy; retry later")
	}

	st := h.pool.Get().(*pushState)
	defer h.pool.Put(st)
	var src io.Reader = r.Body
	limit := r.ContentLength
	if limit < 0 {
		src, limit = http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBytes), h.cfg.MaxRequestBytes
	}
	body, err := readBody(st.body, src, r.ContentLength, limit)
	st.body = body[:0]
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
				"request body is over the limit of %d bytes (max_request_bytes)", h.cfg.MaxRequestBytes))
		}
		return reply(w, http.StatusBadRequest, "cannot read request body: "+err.Error())
	}
	if gzipped {
		if body, err = st.gunzip(body, h.cfg.MaxDecodedBytes); err != nil {
			if errors.Is(err, errBodyTooLong) {
				h.warnf(pushWarnTooLarge, r, "rejected request over max_decoded_bytes")
				return reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
					"decompressed body is over the limit of %d bytes (max_decoded_bytes)", h.cfg.MaxDecodedBytes))
			}
			h.warnf(pushWarnMalformed, r, "rejected request with a bad gzip body", "err", err)
			return reply(w, http.StatusBadRequest, "cannot decompress gzip body: "+err.Error())
		}
	} else if int64(len(body)) > h.cfg.MaxDecodedBytes {
		return reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body of %d bytes is over the limit of %d bytes (max_decoded_bytes)", len(body), h.cfg.MaxDecodedBytes))
	}

	b := batch.GetBatch()
	defer batch.PutBatch(b)
	res := &st.res
	if err := h.proto.Decode(parsed, body, b, h.limits, start(r), res); err != nil {
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, outcome.ErrTooLarge):
			code = http.StatusRequestEntityTooLarge
		case errors.Is(err, outcome.ErrUnsupported):
			code = http.StatusUnsupportedMediaType
		}
		h.warnf(pushWarnMalformed, r, "rejected malformed request", "err", err)
		return reply(w, code, err.Error())
	}

	if b.Len() > 0 {
		if err := h.pipeline.Ingest(r.Context(), b); err != nil {
			code := http.StatusServiceUnavailable
			if errors.Is(err, ErrBackoff) {
				code = http.StatusTooManyRequests
			} else {
				h.warnf(pushWarnPipeline, r, "pipeline failed to ingest a request; answering 503", "err", err)
			}
			setRetryAfter(w, retryAfterOf(err))
			return reply(w, code, "cannot ingest: "+err.Error())
		}
	}
	h.m.samples.Add(float64(res.Samples))
	h.countRejections(r, res)
	if h.proto.Respond != nil {
		return h.proto.Respond(w, r, parsed, res)
	}
	if res.RejectedItems == 0 {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	return reply(w, http.StatusBadRequest, res.Message(h.proto.Name))
}

// start is the receive time of r in Unix milliseconds.
func start(*http.Request) int64 { return time.Now().UnixMilli() }

// gzipEncoded reports whether a Content-Encoding is gzip, and false ok for
// one that is neither gzip nor identity.
func gzipEncoded(enc string) (gzipped, ok bool) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "identity":
		return false, true
	case "gzip", "x-gzip":
		return true, true
	}
	return false, false
}

// gunzip decompresses body into st.decoded, at most limit bytes.
func (st *pushState) gunzip(body []byte, limit int64) ([]byte, error) {
	st.br.Reset(body)
	if st.zr == nil {
		zr, err := gzip.NewReader(&st.br)
		if err != nil {
			return nil, err
		}
		st.zr = zr
	} else if err := st.zr.Reset(&st.br); err != nil {
		return nil, err
	}
	out, err := readBody(st.decoded, st.zr, int64(min(len(body)*4, 1<<20)), limit)
	st.decoded = out[:0]
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countRejections adds the request's rejections to the metrics and logs
// one (throttled) warning per reason.
func (h *pushHandler) countRejections(r *http.Request, res *outcome.Result) {
	if res.RejectedItems == 0 {
		return
	}
	for reason := outcome.Reason(1); reason < outcome.NumReasons; reason++ {
		n := res.RejectedByReason[reason]
		if n == 0 {
			continue
		}
		h.m.rejected[reason].Add(float64(n))
		args := []any{"reason", reason.String(), "samples", n}
		for _, rej := range res.Rejected {
			if rej.Reason == reason {
				args = append(args, rej.ItemKind, rej.Item, "detail", rej.Detail)
				if rej.Series != "" {
					args = append(args, "series", rej.Series)
				}
				break
			}
		}
		h.warnf(pushWarnRejected+int(reason), r, "rejected part of a request", args...)
	}
}

// warnf logs a throttled warning of kind.
func (h *pushHandler) warnf(kind int, r *http.Request, msg string, args ...any) {
	ok, suppressed := h.warn.Allow(kind, time.Now())
	if !ok {
		return
	}
	args = append(args, "path", r.URL.Path, "remote_addr", r.RemoteAddr, "user_agent", r.UserAgent(), "suppressed", suppressed)
	h.log.Warn(msg, args...)
}
