package remotewrite

import (
	"context"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/premetrics/premetrics/batch"
)

type discardClient struct{}

func (discardClient) Store(context.Context, []byte, int) error { return nil }

func benchBatch() *batch.Batch {
	b := &batch.Batch{}
	for _, s := range benchSeries(1000, 2) {
		b.AppendSeries(s.Labels, s.Samples)
	}
	return b
}

// BenchmarkEnqueue measures Enqueue alone (relabel and encoding into
// blocks, no sender): the buffers are emptied between iterations with the
// timer stopped.
func BenchmarkEnqueue(b *testing.B) {
	for _, bc := range []struct {
		name    string
		relabel []*relabel.Config
	}{
		{"plain", nil},
		{"relabel", []*relabel.Config{{
			SourceLabels: []model.LabelName{"zone"}, Regex: relabel.MustNewRegexp("b"), Action: relabel.Drop,
			Separator: ";", NameValidationScheme: model.UTF8Validation,
		}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.URL = "http://127.0.0.1:1/"
			cfg.WriteRelabelConfigs = bc.relabel
			q, err := New(cfg, Options{Client: discardClient{}})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Stop(context.Background())
			bt := benchBatch()
			ctx := context.Background()
			empty := func() {
				for _, s := range q.shards {
					s.mu.Lock()
					for _, bl := range s.blocks {
						if len(s.free) < keepFreeBlocks {
							bl.reset()
							s.free = append(s.free, bl)
						}
					}
					s.mu.Unlock()
					s.drain(q)
				}
			}
			_ = q.Enqueue(ctx, bt) // grow the blocks
			empty()
			b.ReportAllocs()
			b.SetBytes(int64(bt.SampleCount()) * 16)
			b.ResetTimer()
			for b.Loop() {
				if err := q.Enqueue(ctx, bt); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				empty()
				b.StartTimer()
			}
			b.ReportMetric(float64(bt.SampleCount()), "samples/op")
		})
	}
}

// BenchmarkEnqueueAndSend measures the whole queue: Enqueue, four shard
// senders grouping and encoding, and a client that discards.
func BenchmarkEnqueueAndSend(b *testing.B) {
	cfg := DefaultConfig()
	cfg.URL = "http://127.0.0.1:1/"
	q, err := New(cfg, Options{Client: discardClient{}})
	if err != nil {
		b.Fatal(err)
	}
	q.Start()
	bt := benchBatch()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(bt.SampleCount()) * 16)
	b.ResetTimer()
	for b.Loop() {
		if err := q.Enqueue(ctx, bt); err != nil {
			b.Fatal(err)
		}
	}
	if err := q.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(bt.SampleCount()), "samples/op")
}
