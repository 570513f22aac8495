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
)

// RemoteWritePath is where the remote write handler is mounted.
const RemoteWritePath = "/api/v1/write"

type remoteWriteHandler struct {
	intake
	limits outcome.Limits
	pool   sync.Pool        // *rwState
	index  batch.IdentIndex // the Pipeline's (IdentIndexer), or nil
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
	h := &remoteWriteHandler{
		intake: newIntake(cfg, gate, p, m, log, ProtocolRemoteWrite, "remote write request", "series"),
		limits: cfg.limits(),
		pool:   sync.Pool{New: func() any { return new(rwState) }},
	}
	if ix, ok := p.(IdentIndexer); ok {
		h.index = ix.IdentIndex()
	}
	return h
}

func (h *remoteWriteHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.observe(h.serve(w, r), start)
}

// serve answers the request and returns the status code it sent.
func (h *remoteWriteHandler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.reply(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use POST")
	}
	format, code, msg := checkHeaders(r.Header)
	if code != 0 {
		return h.reply(w, r, code, msg)
	}
	v2 := format == rwV2
	var writtenHeaders []string
	if v2 {
		// Every answer says what was written: nothing, unless the
		// request is ingested below.
		writtenHeaders = addWrittenHeaders(w.Header())
	}
	if code := h.checkLength(w, r); code != 0 {
		return code
	}
	if code := h.admit(w, r); code != 0 {
		return code
	}
	defer h.gate.release()

	st := h.pool.Get().(*rwState)
	defer h.pool.Put(st)
	body, code := h.readBody(w, r, st.body)
	st.body = body[:0]
	if code != 0 {
		return code
	}

	b := batch.GetBatch()
	defer batch.PutBatch(b)
	res := &st.res
	var written promrw.Written
	var err error
	if v2 {
		err = promrw.DecodeV2(body, b, h.limits, res, &written)
	} else {
		b.SetIdentIndex(h.index)
		err = promrw.Decode(body, b, h.limits, res)
	}
	if err != nil {
		return h.decodeFailed(w, r, err)
	}
	if code := h.ingest(w, r, b, res); code != 0 {
		return code
	}
	if v2 {
		setWritten(writtenHeaders, written)
	}
	if res.RejectedItems == 0 {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	protocol := "remote write 1.0"
	if v2 {
		protocol = "remote write 2.0"
	}
	return h.reply(w, r, http.StatusBadRequest, res.Message(protocol))
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
