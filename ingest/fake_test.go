package ingest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/premetrics/premetrics/batch"
)

// script is how a fakePipeline answers.
type script struct {
	refuse     bool          // Admit returns false
	retryAfter time.Duration // Admit's hint
	err        error         // Ingest's result
}

// fakePipeline records what it ingests and answers as scripted.
type fakePipeline struct {
	script
	block chan struct{} // when set, Ingest waits for it to close

	mu     sync.Mutex
	series []string // label sets and samples ingested, copied
	calls  int
}

func (p *fakePipeline) Admit() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retryAfter, !p.refuse
}

func (p *fakePipeline) Ingest(ctx context.Context, b *batch.Batch) error {
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	for _, s := range b.Series {
		var sb bytes.Buffer
		sb.WriteString(batch.String(s.Labels))
		for _, smp := range s.Samples {
			sb.WriteString(" " + time.UnixMilli(smp.Timestamp).UTC().Format("15:04:05.000") + "=" + formatFloat(smp.Value))
		}
		p.series = append(p.series, sb.String())
	}
	return p.err
}

func (p *fakePipeline) ingested() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.series...)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// retryHint is a backoff error that carries a Retry-After hint.
type retryHint struct{ d time.Duration }

func (e retryHint) Error() string             { return "queue full" }
func (e retryHint) RetryAfter() time.Duration { return e.d }
func (e retryHint) Unwrap() error             { return ErrBackoff }

func encodeRequest(tb testing.TB, req *prompb.WriteRequest) []byte {
	tb.Helper()
	pb, err := req.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, pb)
}

func series(kv ...string) prompb.TimeSeries {
	ts := prompb.TimeSeries{}
	for i := 0; i+1 < len(kv); i += 2 {
		ts.Labels = append(ts.Labels, prompb.Label{Name: kv[i], Value: kv[i+1]})
	}
	ts.Samples = []prompb.Sample{{Timestamp: 1000, Value: 1}, {Timestamp: 2000, Value: 2}}
	return ts
}

func newRemoteWriteRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, RemoteWritePath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	return r
}

func encodeRequestV2(tb testing.TB, req *writev2.Request) []byte {
	tb.Helper()
	pb, err := req.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, pb)
}

// requestV2 builds a remote write 2.0 request of series like series(kv...)
// builds (two samples each), one per label list.
func requestV2(labelSets ...[]string) *writev2.Request {
	st := writev2.NewSymbolTable()
	req := &writev2.Request{}
	for _, kv := range labelSets {
		ts := writev2.TimeSeries{Samples: []writev2.Sample{{Timestamp: 1000, Value: 1}, {Timestamp: 2000, Value: 2}}}
		for _, s := range kv {
			ts.LabelsRefs = append(ts.LabelsRefs, st.Symbolize(s))
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	req.Symbols = st.Symbols()
	return req
}
