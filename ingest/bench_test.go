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
	for _, shape := range []struct{ series, samples int }{{1000, 1}, {500, 10}} {
		body := encodeRequest(b, fleetRequest(shape.series, shape.samples))
		rb := &rewindBody{}
		r := newRemoteWriteRequest(nil)
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
