package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

// nopPipeline accepts everything.
type nopPipeline struct{}

func (nopPipeline) Admit() (time.Duration, bool)               { return 0, true }
func (nopPipeline) Ingest(context.Context, *batch.Batch) error { return nil }

// rewindBody is a request body that can be replayed without allocating.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// discardWriter is a reusable ResponseWriter, to measure the handler alone.
type discardWriter struct {
	hdr  http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.hdr }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

func fleetRequest(series, samples int) *prompb.WriteRequest {
	req := &prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, series)}
	for i := range req.Timeseries {
		ts := &req.Timeseries[i]
		ts.Labels = []prompb.Label{
			{Name: "__name__", Value: "vehicle_rpm"},
			{Name: "engine", Value: []string{"ic", "electric"}[i%2]},
			{Name: "model", Value: fmt.Sprintf("model-%d", i%7)},
			{Name: "region", Value: []string{"US", "UK", "Germany", "Japan"}[i%4]},
			{Name: "vehicle_id", Value: fmt.Sprintf("V%010d", i/2)},
		}
		for j := range samples {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: 1730621749123 + int64(j)*1000, Value: float64(i % 3000)})
		}
	}
	return req
}

func BenchmarkRemoteWriteHandler(b *testing.B) {
	cfg := DefaultConfig()
	h := NewRemoteWriteHandler(cfg, nopPipeline{}, NewMetrics(nil), nil)
	for _, shape := range []struct {
		series, samples int
		v2              bool
	}{{1000, 1, false}, {500, 10, false}, {1000, 1, true}} {
		body := encodeRequest(b, fleetRequest(shape.series, shape.samples))
		if shape.v2 {
			body = encodeRequestV2(b, fleetRequestV2(shape.series, shape.samples))
		}
		rb := &rewindBody{}
		r := newRemoteWriteRequest(nil)
		if shape.v2 {
			r.Header.Set("Content-Type", contentTypeV2)
		}
		r.Body = rb
		r.ContentLength = int64(len(body))
		run := func(b *testing.B, w func() http.ResponseWriter) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				rb.Reset(body)
				rw := w()
				h.ServeHTTP(rw, r)
			}
			b.ReportMetric(float64(shape.series*shape.samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		}
		name := fmt.Sprintf("%dx%d", shape.series, shape.samples)
		if shape.v2 {
			name = "v2/" + name
		}
		b.Run(name+"/recorder", func(b *testing.B) {
			run(b, func() http.ResponseWriter { return httptest.NewRecorder() })
		})
		dw := &discardWriter{hdr: http.Header{}}
		b.Run(name+"/reused_writer", func(b *testing.B) {
			run(b, func() http.ResponseWriter { return dw })
			if dw.code != http.StatusNoContent {
				b.Fatalf("status %d", dw.code)
			}
		})
	}
}

// TestRemoteWriteHandlerV2Allocs: a remote write 2.0 request costs the
// handler only its three response header values (one allocation) and the
// text of a sample count over 99.
func TestRemoteWriteHandlerV2Allocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	h := NewRemoteWriteHandler(DefaultConfig(), nopPipeline{}, NewMetrics(nil), nil)
	body := encodeRequestV2(t, fleetRequestV2(100, 1))
	rb := &rewindBody{}
	r := newRemoteWriteRequest(nil)
	r.Header.Set("Content-Type", contentTypeV2)
	r.Body = rb
	r.ContentLength = int64(len(body))
	w := &discardWriter{hdr: http.Header{}}
	serve := func() {
		rb.Reset(body)
		h.ServeHTTP(w, r)
	}
	serve()
	if n := testing.AllocsPerRun(50, serve); n > 2 || w.code != http.StatusNoContent || w.hdr.Get(headerSamplesWritten) != "100" {
		t.Fatalf("%v allocations per request (status %d, %s %q), want at most 2", n, w.code, headerSamplesWritten, w.hdr.Get(headerSamplesWritten))
	}
}

// fleetRequestV2 is fleetRequest as remote write 2.0.
func fleetRequestV2(series, samples int) *writev2.Request {
	st := writev2.NewSymbolTable()
	req := &writev2.Request{}
	for _, ts := range fleetRequest(series, samples).Timeseries {
		o := writev2.TimeSeries{}
		for _, l := range ts.Labels {
			o.LabelsRefs = append(o.LabelsRefs, st.Symbolize(l.Name), st.Symbolize(l.Value))
		}
		for _, s := range ts.Samples {
			o.Samples = append(o.Samples, writev2.Sample{Value: s.Value, Timestamp: s.Timestamp})
		}
		req.Timeseries = append(req.Timeseries, o)
	}
	req.Symbols = st.Symbols()
	return req
}

// TestRemoteWriteHandlerZeroAllocs: in steady state the handler itself
// allocates nothing per request (pooled body buffer and batch, no body
// reader for a request with Content-Length).
func TestRemoteWriteHandlerZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	h := NewRemoteWriteHandler(DefaultConfig(), nopPipeline{}, NewMetrics(nil), nil)
	body := encodeRequest(t, fleetRequest(100, 1))
	rb := &rewindBody{}
	r := newRemoteWriteRequest(nil)
	r.Body = rb
	r.ContentLength = int64(len(body))
	w := &discardWriter{hdr: http.Header{}}
	serve := func() {
		rb.Reset(body)
		h.ServeHTTP(w, r)
	}
	serve()
	if n := testing.AllocsPerRun(50, serve); n != 0 || w.code != http.StatusNoContent {
		t.Fatalf("%v allocations per request (status %d), want 0", n, w.code)
	}
}
