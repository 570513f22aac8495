package ingest

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
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
	// Reply answers a refused request (4xx, 5xx) with code and msg and
	// returns code. Nil: plain text.
	Reply func(w http.ResponseWriter, r *http.Request, code int, msg string) int
}

type pushHandler struct {
	intake
	limits outcome.Limits
	proto  Protocol
	pool   sync.Pool // *pushState
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
	h := &pushHandler{
		intake: newIntake(cfg, gate, p, m, log, proto.Name, proto.Name+" request", "items"),
		limits: cfg.DecoderLimits(),
		proto:  proto,
		pool:   sync.Pool{New: func() any { return new(pushState) }},
	}
	if proto.Reply != nil {
		h.reply = proto.Reply
	}
	return h
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.observe(h.serve(w, r), start)
}

func (h *pushHandler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return h.reply(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed; use POST")
	}
	var parsed any
	if h.proto.Check != nil {
		var code int
		var msg string
		if parsed, code, msg = h.proto.Check(r); code != 0 {
			return h.reply(w, r, code, msg)
		}
	}
	gzipped, ok := gzipEncoded(r.Header.Get("Content-Encoding"))
	if !ok {
		return h.reply(w, r, http.StatusUnsupportedMediaType, fmt.Sprintf(
			"unsupported Content-Encoding %q: send gzip or no encoding", r.Header.Get("Content-Encoding")))
	}
	if code := h.checkLength(w, r); code != 0 {
		return code
	}
	if code := h.admit(w, r); code != 0 {
		return code
	}
	defer h.gate.release()

	st := h.pool.Get().(*pushState)
	defer h.pool.Put(st)
	body, code := h.readBody(w, r, st.body)
	st.body = body[:0]
	if code != 0 {
		return code
	}
	var err error
	if gzipped {
		if body, err = st.gunzip(body, h.cfg.MaxDecodedBytes); err != nil {
			if errors.Is(err, errBodyTooLong) {
				h.warnf(warnTooLarge, r, "rejected "+h.what+" over max_decoded_bytes")
				return h.reply(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(
					"decompressed body is over the limit of %d bytes (max_decoded_bytes)", h.cfg.MaxDecodedBytes))
			}
			h.warnf(warnMalformed, r, "rejected "+h.what+" with a bad gzip body", "err", err)
			return h.reply(w, r, http.StatusBadRequest, "cannot decompress gzip body: "+err.Error())
		}
	} else if int64(len(body)) > h.cfg.MaxDecodedBytes {
		return h.reply(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"request body of %d bytes is over the limit of %d bytes (max_decoded_bytes)", len(body), h.cfg.MaxDecodedBytes))
	}

	b := batch.GetBatch()
	defer batch.PutBatch(b)
	res := &st.res
	if err := h.proto.Decode(parsed, body, b, h.limits, time.Now().UnixMilli(), res); err != nil {
		return h.decodeFailed(w, r, err)
	}
	if code := h.ingest(w, r, b, res); code != 0 {
		return code
	}
	if h.proto.Respond != nil {
		return h.proto.Respond(w, r, parsed, res)
	}
	if res.RejectedItems == 0 {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	return h.reply(w, r, http.StatusBadRequest, res.Message(h.proto.Name))
}

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
