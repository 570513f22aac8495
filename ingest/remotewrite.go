package ingest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
	"github.com/premetrics/premetrics/internal/logthrottle"
)

// RemoteWritePath is where the remote write handler is mounted.
const RemoteWritePath = "/api/v1/write"

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

type remoteWriteHandler struct {
	cfg          Config
	limits       outcome.Limits
	gate         *Gate
	queueTimeout time.Duration
	pipeline     Pipeline
	log          *slog.Logger
	m            *rwMetrics
	warn         *logthrottle.Throttle

	pool sync.Pool // *rwState
}

// rwState is the per-request scratch space the handler reuses.
type rwState struct {
	body []byte
	res  outcome.Result
}

// Response headers of remote write 2.0: what of the request was written.
const (
	headerSamplesWritten    = "X-Prometheus-Remote-Write-Samples-Written"
	headerHistogramsWritten = "X-Prometheus-Remote-Write-Histograms-Written"
	headerExemplarsWritten  = "X-Prometheus-Remote-Write-Exemplars-Written"
)

// NewRemoteWriteHandler returns the handler of POST /api/v1/write for
// Prometheus remote write 1.0 and 2.0; see the package doc for its
// behaviour. cfg should have passed Validate; values Validate rejects are
// replaced by defaults. A nil m gets unregistered metrics, a nil log
// discards.
func NewRemoteWriteHandler(cfg Config, p Pipeline, m *Metrics, log *slog.Logger) http.Handler {
	return newRemoteWriteHandler(cfg, nil, p, m, log)
}

// newRemoteWriteHandler is NewRemoteWriteHandler taking its request slots
// from gate (nil: a private one).
func newRemoteWriteHandler(cfg Config, gate *Gate, p Pipeline, m *Metrics, log *slog.Logger) http.Handler {
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
	return &remoteWriteHandler{
		cfg:          cfg,
		limits:       cfg.limits(),
		gate:         gate,
		queueTimeout: gate.timeout,
		pipeline:     p,
		log:          log.With("protocol", ProtocolRemoteWrite),
		m:            m.forProtocol(ProtocolRemoteWrite),
		warn:         logthrottle.New(warnKinds, logthrottle.Every),
		pool:         sync.Pool{New: func() any { return new(rwState) }},
	}
}

func (h *remoteWriteHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := h.serve(w, r)
	h.m.request(code)
	h.m.duration.Observe(time.Since(start).Seconds())
}

// serve answers the request and returns the status code it sent.
func (h *remoteWriteHandler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return reply(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use POST")
	}
	format, code, msg := checkHeaders(r.Header)
	if code != 0 {
		return reply(w, code, msg)
	}
	v2 := format == rwV2
	var writtenHeaders []string
	if v2 {
		// Every answer says what was written: nothing, unless the
		// request is ingested below.
		writtenHeaders = addWrittenHeaders(w.Header())
	}
	if r.ContentLength > h.cfg.MaxRequestBytes {
		return reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body of %d bytes is over the limit of %d bytes (max_request_bytes)", r.ContentLength, h.cfg.MaxRequestBytes))
	}

	switch h.gate.acquire(r.Context()) {
	case errQueueTimeout:
		h.warnf(warnQueueTimeout, r, "remote write request waited too long for a slot; answering 429",
			"max_concurrent_requests", h.cfg.MaxConcurrentRequests, "request_queue_timeout", h.queueTimeout)
		setRetryAfter(w, h.queueTimeout)
		return reply(w, http.StatusTooManyRequests, fmt.Sprintf(
			"too many concurrent requests: all %d slots stayed busy for %s", h.cfg.MaxConcurrentRequests, h.queueTimeout))
	case errClientGone:
		return reply(w, statusClientClosed, "client closed the request while it waited for a slot")
	}
	defer h.gate.release()

	if retryAfter, ok := h.pipeline.Admit(); !ok {
		h.warnf(warnNotAdmitted, r, "pipeline is not admitting data; answering 429", "retry_after", retryAfter)
		setRetryAfter(w, retryAfter)
		return reply(w, http.StatusTooManyRequests, "the pipeline is busy; retry later")
	}

	st := h.pool.Get().(*rwState)
	defer h.pool.Put(st)
	// A declared Content-Length was checked against the limit above, and
	// readBody reads no more than that; only a body of unknown length
	// needs http.MaxBytesReader (which also makes the server close the
	// connection), so the common request allocates no reader.
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

	b := batch.GetBatch()
	defer batch.PutBatch(b)
	res := &st.res
	var written promrw.Written
	if v2 {
		err = promrw.DecodeV2(body, b, h.limits, res, &written)
	} else {
		err = promrw.Decode(body, b, h.limits, res)
	}
	if err != nil {
		if errors.Is(err, outcome.ErrTooLarge) {
			h.warnf(warnTooLarge, r, "rejected remote write request over max_decoded_bytes", "err", err)
			return reply(w, http.StatusRequestEntityTooLarge, err.Error()+" (max_decoded_bytes)")
		}
		h.warnf(warnMalformed, r, "rejected malformed remote write request", "err", err)
		return reply(w, http.StatusBadRequest, err.Error())
	}

	if b.Len() > 0 {
		if err := h.pipeline.Ingest(r.Context(), b); err != nil {
			code := http.StatusServiceUnavailable
			if errors.Is(err, ErrBackoff) {
				code = http.StatusTooManyRequests
			} else {
				h.warnf(warnPipeline, r, "pipeline failed to ingest a remote write request; answering 503", "err", err)
			}
			setRetryAfter(w, retryAfterOf(err))
			return reply(w, code, "cannot ingest: "+err.Error())
		}
	}
	h.m.samples.Add(float64(res.Samples))
	if v2 {
		setWritten(writtenHeaders, written)
	}
	if res.RejectedItems == 0 {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	h.countRejections(r, res)
	protocol := "remote write 1.0"
	if v2 {
		protocol = "remote write 2.0"
	}
	return reply(w, http.StatusBadRequest, res.Message(protocol))
}

// supported names the remote write versions the handler takes, for 415
// messages.
const supported = "proto=" + protoV1 + " (remote write 1.0) or proto=" + protoV2 + " (remote write 2.0)"

// checkHeaders returns the remote write version a request asks for, or
// 415 and a message for a request that is not snappy-compressed remote
// write 1.0 or 2.0.
func checkHeaders(hdr http.Header) (rwFormat, int, string) {
	format, proto := parseRemoteWriteType(hdr.Get("Content-Type"))
	switch format {
	case rwBadMedia:
		return format, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Type %q: want %s with %s", hdr.Get("Content-Type"), mediaProtobuf, supported)
	case rwBadProto:
		return format, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported proto %q in Content-Type: want %s", proto, supported)
	}
	if enc := hdr.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "snappy") {
		return format, http.StatusUnsupportedMediaType, fmt.Sprintf("unsupported Content-Encoding %q: remote write bodies are snappy-compressed", enc)
	}
	return format, 0, ""
}

// writtenKeys are the remote write 2.0 response headers, in the order
// of addWrittenHeaders' values.
var writtenKeys = [3]string{headerSamplesWritten, headerHistogramsWritten, headerExemplarsWritten}

// addWrittenHeaders sets the remote write 2.0 response headers to 0 and
// returns their values (in one allocation) for setWritten to update.
func addWrittenHeaders(hdr http.Header) []string {
	vals := make([]string, len(writtenKeys))
	for i, k := range writtenKeys {
		vals[i] = "0"
		hdr[k] = vals[i : i+1 : i+1]
	}
	return vals
}

// setWritten updates the values of addWrittenHeaders to wr, in place.
func setWritten(vals []string, wr promrw.Written) {
	vals[0] = strconv.Itoa(wr.Samples)
	vals[1] = strconv.Itoa(wr.Histograms)
	vals[2] = strconv.Itoa(wr.Exemplars)
}

var (
	errQueueTimeout = errors.New("queue timeout")
	errClientGone   = errors.New("client gone")
)

// countRejections adds the request's rejections to the metrics and logs
// one (throttled) warning per reason.
func (h *remoteWriteHandler) countRejections(r *http.Request, res *outcome.Result) {
	for reason := outcome.Reason(1); reason < outcome.NumReasons; reason++ {
		n := res.RejectedByReason[reason]
		if n == 0 {
			continue
		}
		h.m.rejected[reason].Add(float64(n))
		i := slices.IndexFunc(res.Rejected, func(rej outcome.Rejection) bool { return rej.Reason == reason })
		if i < 0 {
			h.warnf(warnRejected+int(reason), r, "rejected series in remote write request", "reason", reason.String(), "samples", n)
			continue
		}
		rej := res.Rejected[i]
		h.warnf(warnRejected+int(reason), r, "rejected series in remote write request",
			"reason", reason.String(), "samples", n, "series", rej.Series, "detail", rej.Detail)
	}
}

// warnf logs a throttled warning of kind.
func (h *remoteWriteHandler) warnf(kind int, r *http.Request, msg string, args ...any) {
	ok, suppressed := h.warn.Allow(kind, time.Now())
	if !ok {
		return
	}
	args = append(args, "remote_addr", r.RemoteAddr, "user_agent", r.UserAgent(), "suppressed", suppressed)
	h.log.Warn(msg, args...)
}

// reply writes a plain-text error response and returns code.
func reply(w http.ResponseWriter, code int, msg string) int {
	http.Error(w, msg, code)
	return code
}

// setRetryAfter sets Retry-After to d rounded up to whole seconds, at
// least 1.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int64((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}

// errBodyTooLong: the body is longer than it may be.
var errBodyTooLong = errors.New("request body is longer than its Content-Length")

// readBody reads r to EOF into dst[:0], growing it as needed; sizeHint is
// the Content-Length (-1 when unknown). More than limit bytes is
// errBodyTooLong.
func readBody(dst []byte, r io.Reader, sizeHint, limit int64) ([]byte, error) {
	dst = dst[:0]
	if sizeHint >= 0 {
		// One spare byte so the final read that returns EOF needs no growth.
		dst = slices.Grow(dst, int(sizeHint)+1)
	}
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, 4096)
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, errBodyTooLong
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
