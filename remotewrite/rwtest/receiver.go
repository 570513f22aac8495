package rwtest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
)

// Path is where the receiver accepts writes (as Prometheus does).
const Path = "/api/v1/write"

// maxBody bounds a request body, compressed and decompressed.
const maxBody = 64 << 20

// Response is one scripted answer. A zero Status means 204.
type Response struct {
	Status     int
	RetryAfter string // Retry-After header, when not empty
	Body       string
}

// Series is one series of a request or of the stored data.
type Series struct {
	Name    string // batch.String(Labels)
	Labels  []batch.Label
	Samples []batch.Sample
}

// Request is one request as received and answered.
type Request struct {
	Header     http.Header
	RemoteAddr string
	Status     int      // status the receiver answered
	Error      string   // why the request was malformed, if it was
	Series     []Series // decoded content, in request order
	Samples    int      // number of samples in Series
}

// Receiver is a fake remote-write receiver. Its methods are safe for
// concurrent use.
type Receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	script   []Response
	def      Response
	rejects  []reject
	requests []Request
	stored   map[string]*Series
	samples  int
	changed  chan struct{} // closed and replaced after every request
}

type reject struct {
	series string
	resp   Response
}

// New starts a Receiver on 127.0.0.1 and closes it when the test ends.
func New(tb testing.TB) *Receiver {
	tb.Helper()
	r := Start()
	tb.Cleanup(r.Close)
	return r
}

// Start starts a Receiver on 127.0.0.1; Close stops it.
func Start() *Receiver {
	r := &Receiver{stored: map[string]*Series{}, changed: make(chan struct{})}
	r.srv = httptest.NewServer(r)
	return r
}

// URL returns the write URL, e.g. http://127.0.0.1:34567/api/v1/write.
func (r *Receiver) URL() string { return r.srv.URL + Path }

// Close stops the server and closes its connections.
func (r *Receiver) Close() { r.srv.Close() }

// Script appends responses used one per request, in order, before the
// rejected series and the default apply.
func (r *Receiver) Script(rs ...Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = append(r.script, rs...)
}

// SetDefault sets the answer used when no script and no rejection applies,
// e.g. Response{Status: 503} for a receiver that is down.
func (r *Receiver) SetDefault(resp Response) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.def = resp
}

// RejectSeries answers resp to every request containing the series (in
// batch.String form). A zero resp means 400 with a body naming the series.
func (r *Receiver) RejectSeries(series string, resp Response) {
	if resp.Status == 0 {
		resp.Status = http.StatusBadRequest
	}
	if resp.Body == "" {
		resp.Body = "rejected series " + series
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejects = append(r.rejects, reject{series: series, resp: resp})
}

// Requests returns every request received so far, in arrival order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// Samples returns the stored samples of series, in arrival order.
func (r *Receiver) Samples(series string) []batch.Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.stored[series]; ok {
		return slices.Clone(s.Samples)
	}
	return nil
}

// Stored returns every stored series, sorted by name.
func (r *Receiver) Stored() []Series {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Series, 0, len(r.stored))
	for _, name := range slices.Sorted(maps.Keys(r.stored)) {
		s := r.stored[name]
		out = append(out, Series{Name: name, Labels: slices.Clone(s.Labels), Samples: slices.Clone(s.Samples)})
	}
	return out
}

// SampleCount returns the number of stored samples.
func (r *Receiver) SampleCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samples
}

// Wait blocks until cond returns true or ctx is done. cond is evaluated
// now and after every request; it may call the Receiver's methods.
func (r *Receiver) Wait(ctx context.Context, cond func() bool) error {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cannot wait for the remote-write receiver: %w", ctx.Err())
		}
	}
}

// WaitSamples blocks until at least n samples are stored or ctx is done.
func (r *Receiver) WaitSamples(ctx context.Context, n int) error {
	return r.Wait(ctx, func() bool { return r.SampleCount() >= n })
}

// ServeHTTP decodes, records and answers one request.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rec := Request{Header: req.Header.Clone(), RemoteAddr: req.RemoteAddr}
	series, status, err := decode(req)
	if err != nil {
		rec.Status, rec.Error = status, err.Error()
		r.finish(rec, nil)
		http.Error(w, err.Error(), status)
		return
	}
	rec.Series = series
	for _, s := range series {
		rec.Samples += len(s.Samples)
	}

	r.mu.Lock()
	resp := r.def
	switch {
	case len(r.script) > 0:
		resp = r.script[0]
		r.script = r.script[1:]
	default:
		for _, rj := range r.rejects {
			if slices.ContainsFunc(series, func(s Series) bool { return s.Name == rj.series }) {
				resp = rj.resp
				break
			}
		}
	}
	r.mu.Unlock()
	if resp.Status == 0 {
		resp.Status = http.StatusNoContent
	}
	rec.Status = resp.Status
	stored := series
	if resp.Status/100 != 2 {
		stored = nil
	}
	r.finish(rec, stored)

	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	if resp.Body != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(resp.Status)
	if resp.Body != "" && resp.Status != http.StatusNoContent {
		_, _ = io.WriteString(w, resp.Body)
	}
}

// finish records rec, stores series and wakes waiters.
func (r *Receiver) finish(rec Request, series []Series) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, rec)
	for _, s := range series {
		st, ok := r.stored[s.Name]
		if !ok {
			st = &Series{Name: s.Name, Labels: s.Labels}
			r.stored[s.Name] = st
		}
		st.Samples = append(st.Samples, s.Samples...)
		r.samples += len(s.Samples)
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// decode reads a remote-write 1.0 request; on failure it returns the
// status to answer.
func decode(req *http.Request) ([]Series, int, error) {
	if req.Method != http.MethodPost {
		return nil, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed, want POST", req.Method)
	}
	if req.URL.Path != Path {
		return nil, http.StatusNotFound, fmt.Errorf("path %s not found, want %s", req.URL.Path, Path)
	}
	if ce := req.Header.Get("Content-Encoding"); ce != "snappy" {
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q not supported, want snappy", ce)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" &&
		!strings.HasPrefix(ct, "application/x-protobuf;proto=prometheus.WriteRequest") {
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Type %q not supported, want application/x-protobuf", ct)
	}
	compressed, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("cannot read body: %w", err)
	}
	if len(compressed) > maxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", maxBody)
	}
	if n, err := snappy.DecodedLen(compressed); err != nil || n > maxBody {
		return nil, http.StatusBadRequest, fmt.Errorf("cannot decode snappy body: length %d, %v", n, err)
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("cannot decode snappy body: %w", err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("cannot decode WriteRequest: %w", err)
	}
	series := make([]Series, 0, len(wr.Timeseries))
	for i, ts := range wr.Timeseries {
		ls := make([]batch.Label, len(ts.Labels))
		for j, l := range ts.Labels {
			ls[j] = batch.Label{Name: l.Name, Value: l.Value}
			if j > 0 && ls[j-1].Name >= l.Name {
				return nil, http.StatusBadRequest, fmt.Errorf("timeseries %d: labels not sorted and unique: %q after %q", i, l.Name, ls[j-1].Name)
			}
		}
		if len(ls) == 0 {
			return nil, http.StatusBadRequest, fmt.Errorf("timeseries %d: no labels", i)
		}
		ss := make([]batch.Sample, len(ts.Samples))
		for j, s := range ts.Samples {
			ss[j] = batch.Sample{Timestamp: s.Timestamp, Value: s.Value}
		}
		series = append(series, Series{Name: batch.String(ls), Labels: ls, Samples: ss})
	}
	return series, 0, nil
}

// String formats a Request for test failure messages.
func (q Request) String() string {
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(q.Status))
	fmt.Fprintf(&sb, " %d series, %d samples", len(q.Series), q.Samples)
	if q.Error != "" {
		sb.WriteString(": " + q.Error)
	}
	return sb.String()
}
