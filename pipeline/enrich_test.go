package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/enrich"
	"github.com/premetrics/premetrics/rules"
	"github.com/premetrics/premetrics/telemetry"
)

// Enrichment runs after the global relabeling (which may rename a key
// label) and before the aggregations, which group by what it added; its
// drops are counted under stage enrich.
func TestIngestEnrichesBeforeAggregating(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.csv")
	if err := os.WriteFile(path, []byte("vehicle_id,model\nV1,Aurora\nV2,Aurora\nV3,Borealis\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg enrich.Config
	if err := yaml.Unmarshal(fmt.Appendf(nil, "{name: registry, source: {file: %q}, key: [vehicle_id], add: [model], on_miss: drop}", path), &cfg); err != nil {
		t.Fatal(err)
	}
	dropped := telemetry.NewDroppedSamples(prometheus.NewRegistry())
	e, err := enrich.New(cfg, enrich.Options{Dropped: dropped})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	var rcfg []*relabel.Config
	if err := yaml.Unmarshal([]byte(`[{source_labels: [vid], target_label: vehicle_id}, {action: labeldrop, regex: vid}]`), &rcfg); err != nil {
		t.Fatal(err)
	}
	rl, err := rules.CompileRelabel(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	aggs := aggregations(t, `[{name: per_model, match: rpm, interval: 1m, by: [model], outputs: [count_series]}]`)
	s := &sink{}
	p := New(Options{Relabel: rl, Enrich: []*enrich.Enricher{e}, Aggregations: aggs, Sinks: []Sink{s}, Dropped: dropped})
	ts := time.Now().Truncate(time.Minute).UnixMilli()
	if err := p.Ingest(context.Background(), input(ts, `rpm{vid="V1"}`, `rpm{vid="V2"}`, `rpm{vid="V3"}`, `rpm{vid="V9"}`)); err != nil {
		t.Fatal(err)
	}
	end := ts + time.Minute.Milliseconds()
	p.Flush(context.Background(), time.UnixMilli(end).Add(aggregate.DefaultLateness+time.Second), false)
	want := []string{
		fmt.Sprintf(`rpm:1m_by_model_count_series{model="Aurora"} 2 @%d`, end),
		fmt.Sprintf(`rpm:1m_by_model_count_series{model="Borealis"} 1 @%d`, end),
	}
	if got := s.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := testutil.ToFloat64(dropped.WithLabelValues("enrich", "enrich_miss")); got != 1 {
		t.Errorf("enrich drops = %g, want 1", got)
	}
	if got := p.Stages().Enrich; len(got) != 1 || got[0] != e {
		t.Errorf("Stages().Enrich = %v", got)
	}
}
