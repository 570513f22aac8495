package harness

import (
	"errors"
	"fmt"
	promvalue "github.com/prometheus/prometheus/model/value"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
)

// overflowLabel marks the overflow group of an aggregation over its
// max_output_series budget (aggregate.OverflowLabel, spelled out here so
// the harness does not depend on aggregate's internals).
const overflowLabel = "premetrics_overflow"

// maxLatencyMs bounds the latency histogram; slower samples count in its
// last bucket (and in Latency.MaxSeconds exactly).
const maxLatencyMs = 300_000

// sink is a fast remote write 1.0 receiver on 127.0.0.1. It decodes every
// request fully (snappy, protobuf, labels) with premetrics' own decoder,
// answers 204, and records for every sample the delivery latency from the
// close of its window: receive time − (sample timestamp + lateness). The
// timestamp of an output sample is its window end, and the window is
// emitted lateness after its end, so this is the window-close → 2xx delay.
type sink struct {
	lateness time.Duration
	srv      *http.Server
	ln       net.Listener
	pool     sync.Pool // *decodeState

	mu          sync.Mutex
	requests    int64
	bad         int64 // requests that failed to decode (answered 400)
	firstError  string
	samples     int64
	overflow    int64 // samples of overflow groups
	early       int64 // samples received before their window closed
	stale       int64 // staleness markers received (not window outputs)
	hist        []int64
	maxLatency  time.Duration
	windows     map[int64]*windowDelivery // by window end (sample timestamp)
	seriesNames map[string]struct{}       // distinct metric names
}

type decodeState struct {
	b    batch.Batch
	res  outcome.Result
	body []byte
}

// windowDelivery is what arrived of one window (outputs stamped end).
type windowDelivery struct {
	samples     int64
	first, last time.Time
}

func startSink(lateness time.Duration) (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot start the remote write sink: %w", err)
	}
	s := &sink{
		lateness:    lateness,
		ln:          ln,
		hist:        make([]int64, maxLatencyMs+1),
		windows:     map[int64]*windowDelivery{},
		seriesNames: map[string]struct{}{},
	}
	s.pool.New = func() any { return &decodeState{} }
	mux := http.NewServeMux()
	mux.Handle("/api/v1/write", s)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the base URL (the config appends /api/v1/write).
func (s *sink) URL() string { return "http://" + s.ln.Addr().String() }

func (s *sink) close() { _ = s.srv.Close() }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := s.pool.Get().(*decodeState)
	defer s.pool.Put(st)
	var err error
	st.body, err = readAll(r.Body, st.body[:0])
	if err == nil {
		st.b.Reset()
		err = promrw.Decode(st.body, &st.b, outcome.Limits{}, &st.res)
	}
	now := time.Now()
	if err != nil {
		s.mu.Lock()
		s.requests++
		s.bad++
		if s.firstError == "" {
			s.firstError = err.Error()
		}
		s.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.record(&st.b, now)
	w.WriteHeader(http.StatusNoContent)
}

// record adds the samples of a decoded request received at now.
func (s *sink) record(b *batch.Batch, now time.Time) {
	lateMs := s.lateness.Milliseconds()
	nowMs := now.UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	var cur *windowDelivery
	curTs := int64(-1)
	for i := range b.Series {
		ser := &b.Series[i]
		name := batch.Get(ser.Labels, batch.MetricName)
		if _, ok := s.seriesNames[name]; !ok {
			s.seriesNames[strings.Clone(name)] = struct{}{} // name aliases the batch
		}
		if batch.Get(ser.Labels, overflowLabel) != "" {
			s.overflow += int64(len(ser.Samples))
		}
		for _, smp := range ser.Samples {
			if promvalue.IsStaleNaN(smp.Value) {
				// The end of a series, not a window: no delivery latency.
				s.stale++
				continue
			}
			s.samples++
			lat := nowMs - (smp.Timestamp + lateMs)
			if lat < 0 {
				s.early++
				lat = 0
			}
			s.maxLatency = max(s.maxLatency, time.Duration(lat)*time.Millisecond)
			s.hist[min(lat, maxLatencyMs)]++
			if smp.Timestamp != curTs {
				curTs = smp.Timestamp
				cur = s.windows[curTs]
				if cur == nil {
					cur = &windowDelivery{first: now}
					s.windows[curTs] = cur
				}
				cur.last = now
			}
			cur.samples++
		}
	}
}

// readAll reads r into buf, growing it.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// Latency summarises window-close → 2xx delays of output samples.
type Latency struct {
	Samples    int64   `json:"samples"`
	P50Seconds float64 `json:"p50_seconds"`
	P99Seconds float64 `json:"p99_seconds"`
	MaxSeconds float64 `json:"max_seconds"`
	// Early counts samples received before their window's lateness had
	// passed (only at shutdown, which flushes early); counted as 0.
	Early int64 `json:"early"`
	// LargestWindow is the window with the most output samples: how many,
	// how long its delivery took from the first to the last request, and
	// the latency of its last sample.
	LargestWindowSamples     int64   `json:"largest_window_samples"`
	LargestWindowSpanSeconds float64 `json:"largest_window_span_seconds"`
	LargestWindowLastSeconds float64 `json:"largest_window_last_seconds"`
}

// sinkStats is what the sink received.
type sinkStats struct {
	Requests, Bad, Samples, Overflow int64
	StaleMarkers                     int64
	FirstError                       string
	MetricNames                      int
	Latency                          Latency
}

func (s *sink) stats() sinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := sinkStats{Requests: s.requests, Bad: s.bad, Samples: s.samples, Overflow: s.overflow,
		StaleMarkers: s.stale, FirstError: s.firstError, MetricNames: len(s.seriesNames)}
	l := &out.Latency
	l.Samples, l.Early, l.MaxSeconds = s.samples, s.early, s.maxLatency.Seconds()
	l.P50Seconds = quantileMs(s.hist, s.samples, 0.5) / 1000
	l.P99Seconds = quantileMs(s.hist, s.samples, 0.99) / 1000
	for end, w := range s.windows {
		if w.samples > l.LargestWindowSamples {
			l.LargestWindowSamples = w.samples
			l.LargestWindowSpanSeconds = w.last.Sub(w.first).Seconds()
			l.LargestWindowLastSeconds = w.last.Sub(time.UnixMilli(end).Add(s.lateness)).Seconds()
		}
	}
	return out
}

// quantileMs returns the smallest latency (ms) with at least q of n
// samples at or below it.
func quantileMs(hist []int64, n int64, q float64) float64 {
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen int64
	for ms, c := range hist {
		seen += c
		if seen >= rank {
			return float64(ms)
		}
	}
	return float64(len(hist) - 1)
}
