package remotewrite

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/telemetry"
)

// call is one request seen by fakeClient.
type call struct {
	at      time.Time
	samples int
	series  []batch.Series // decoded
	err     error          // what Store returned
}

func (c call) has(name string) bool {
	for _, s := range c.series {
		if batch.String(s.Labels) == name {
			return true
		}
	}
	return false
}

// fakeClient decodes and records requests and answers with respond (nil: success).
type fakeClient struct {
	mu      sync.Mutex
	calls   []call
	respond func(ctx context.Context, i int, c call) error
}

func (f *fakeClient) Store(ctx context.Context, compressed []byte, samples int) error {
	wr, derr := decodeWriteRequest(compressed)
	if derr != nil {
		panic(derr) // the encoder produced an undecodable request
	}
	c := call{at: time.Now(), samples: samples}
	n := 0
	for _, ts := range wr.Timeseries {
		var s batch.Series
		for _, l := range ts.Labels {
			s.Labels = append(s.Labels, batch.Label{Name: l.Name, Value: l.Value})
		}
		for _, x := range ts.Samples {
			s.Samples = append(s.Samples, batch.Sample{Timestamp: x.Timestamp, Value: x.Value})
		}
		n += len(s.Samples)
		c.series = append(c.series, s)
	}
	if n != samples {
		panic(fmt.Sprintf("Store got samples=%d but the request holds %d", samples, n))
	}
	f.mu.Lock()
	i := len(f.calls)
	f.calls = append(f.calls, c)
	respond := f.respond
	f.mu.Unlock()
	var err error
	if respond != nil {
		err = respond(ctx, i, c)
	}
	f.mu.Lock()
	f.calls[i].err = err
	f.mu.Unlock()
	return err
}

func (f *fakeClient) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// testQueue is a Queue with its metrics.
type testQueue struct {
	*Queue
	metrics *Metrics
	dropped *prometheus.CounterVec
	reg     *prometheus.Registry
}

func testConfig(mod func(q *QueueConfig)) Config {
	cfg := DefaultConfig()
	cfg.URL = "http://127.0.0.1:1/api/v1/write"
	cfg.Name = "test"
	if mod != nil {
		mod(&cfg.QueueConfig)
	}
	return cfg
}

func newTestQueue(t *testing.T, cfg Config, client Client) *testQueue {
	t.Helper()
	reg := prometheus.NewRegistry()
	tq := &testQueue{metrics: NewMetrics(reg), dropped: telemetry.NewDroppedSamples(reg), reg: reg}
	q, err := New(cfg, Options{Metrics: tq.metrics, Dropped: tq.dropped, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	tq.Queue = q
	return tq
}

func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Counter != nil:
		return d.Counter.GetValue()
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	}
	t.Fatalf("unsupported metric %v", m.Desc())
	return 0
}

func (tq *testQueue) sentCount(t *testing.T) int {
	return int(value(t, tq.metrics.samplesSent.WithLabelValues(tq.endpoint)))
}

func (tq *testQueue) retryCount(t *testing.T) int {
	return int(value(t, tq.metrics.retries.WithLabelValues(tq.endpoint)))
}

// droppedCount returns the remote-write drop counter for reason, after
// checking that the shared counter agrees.
func (tq *testQueue) droppedCount(t *testing.T, reason string) int {
	t.Helper()
	own := value(t, tq.metrics.samplesDropped.WithLabelValues(tq.endpoint, reason))
	shared := value(t, tq.dropped.WithLabelValues(telemetry.StageRemoteWrite, reason))
	if own != shared {
		t.Errorf("dropped{reason=%q}: remotewrite counter %v, shared counter %v", reason, own, shared)
	}
	return int(own)
}

// pendingGauge reads premetrics_remotewrite_pending_samples from the registry.
func (tq *testQueue) pendingGauge(t *testing.T) int {
	t.Helper()
	mfs, err := tq.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "premetrics_remotewrite_pending_samples" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == tq.endpoint {
					return int(m.GetGauge().GetValue())
				}
			}
		}
	}
	return -1
}

// makeBatch returns a batch of nSeries series test_metric{series="<i>"},
// each with nSamples samples at ts0, ts0+1, ... (value = timestamp).
func makeBatch(nSeries, nSamples int, ts0 int64) *batch.Batch {
	b := &batch.Batch{}
	for i := range nSeries {
		b.StartSeries()
		b.AddLabel("__name__", "test_metric")
		b.AddLabel("series", fmt.Sprint(i))
		for j := range nSamples {
			b.AddSample(ts0+int64(j), float64(ts0+int64(j)))
		}
		b.FinishSeries()
	}
	return b
}

func seriesName(i int) string { return fmt.Sprintf(`test_metric{series="%d"}`, i) }

func dur(d time.Duration) model.Duration { return model.Duration(d) }
