package aggregate

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/telemetry"
)

var update = flag.Bool("update", false, "rewrite the expected sections of testdata/*.txt")

// TestGolden runs the scripts in testdata. Commands:
//
//	config                  YAML of one aggregation → "ok" or the Validate/New error lines
//	push @<wall>            exposition lines (value "stale" = stale marker; ts in ms or a
//	                        duration) → "marks: " + per series C (consumed), K (kept), - (none)
//	flush @<wall> [force]   → the emitted samples (window order checked, sorted per window)
//	next-flush @<wall>      → "@<ms>"
//	metrics                 → the non-zero self metrics of the aggregation
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt scripts")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			blocks, trailer := parseScript(t, path)
			r := &scriptRunner{}
			for _, b := range blocks {
				where := fmt.Sprintf("%s:%d", path, b.line)
				got := r.run(t, where, b)
				if *update {
					b.expected = got
					continue
				}
				if !slices.Equal(got, b.expected) {
					t.Errorf("%s: %s %s:\ngot:\n%s\nwant:\n%s", where, b.cmd, strings.Join(b.args, " "),
						strings.Join(got, "\n"), strings.Join(b.expected, "\n"))
				}
			}
			if *update {
				writeScript(t, path, blocks, trailer)
			}
		})
	}
}

type scriptRunner struct {
	agg     *Aggregator
	reg     *prometheus.Registry
	metrics *Metrics
	dropped *prometheus.CounterVec
}

func (r *scriptRunner) run(t *testing.T, where string, b *ddBlock) []string {
	t.Helper()
	if b.cmd != "config" && r.agg == nil {
		t.Fatalf("%s: %s before a valid config", where, b.cmd)
	}
	switch b.cmd {
	case "config":
		var cfg Config
		dec := yaml.NewDecoder(bytes.NewReader([]byte(strings.Join(b.input, "\n"))))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			t.Fatalf("%s: cannot decode config: %v", where, err)
		}
		r.reg = prometheus.NewRegistry()
		r.metrics = NewMetrics(r.reg)
		r.dropped = telemetry.NewDroppedSamples(r.reg)
		a, err := New(cfg, Options{Dropped: r.dropped, Metrics: r.metrics})
		if err != nil {
			r.agg = nil
			return strings.Split(err.Error(), "\n")
		}
		r.agg = a
		return []string{"ok"}

	case "push":
		now := r.wall(t, where, b)
		in := batch.GetBatch()
		defer batch.PutBatch(in)
		for _, l := range b.input {
			if err := parseSeriesLine(in, l); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
		before := snapshotLabels(in)
		marks := make([]uint8, len(in.Series))
		r.agg.Push(in, marks, now)
		if after := snapshotLabels(in); !slices.Equal(before, after) {
			t.Errorf("%s: Push modified the batch:\n%v\n%v", where, before, after)
		}
		var sb strings.Builder
		sb.WriteString("marks:")
		for _, m := range marks {
			switch m {
			case 0:
				sb.WriteString(" -")
			case MarkConsumed:
				sb.WriteString(" C")
			case MarkKept:
				sb.WriteString(" K")
			default:
				fmt.Fprintf(&sb, " %d", m)
			}
		}
		return []string{sb.String()}

	case "flush":
		now := r.wall(t, where, b)
		force := slices.Contains(b.args, "force")
		out := batch.GetBatch()
		defer batch.PutBatch(out)
		r.agg.Flush(now, force, out)
		return formatFlush(t, where, out)

	case "next-flush":
		now := r.wall(t, where, b)
		return []string{fmt.Sprintf("@%d", r.agg.NextFlush(now).UnixMilli())}

	case "metrics":
		return r.metricLines(t)
	}
	t.Fatalf("%s: unknown command %q", where, b.cmd)
	return nil
}

func (r *scriptRunner) wall(t *testing.T, where string, b *ddBlock) time.Time {
	t.Helper()
	if len(b.args) == 0 {
		t.Fatalf("%s: %s needs @<wall time>", where, b.cmd)
	}
	ms, err := parseTime(b.args[0])
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return time.UnixMilli(ms)
}

// metricLines renders the non-zero metrics as `name{labels} value`
// without the premetrics_aggregate_ prefix and the aggregation label.
func (r *scriptRunner) metricLines(t *testing.T) []string {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		name := strings.TrimPrefix(mf.GetName(), "premetrics_aggregate_")
		name = strings.TrimPrefix(name, "premetrics_")
		if name == "input_label_values" || name == "input_series_estimate" {
			continue // sampled estimates, tested in cardinality_test.go
		}
		for _, m := range mf.GetMetric() {
			var v float64
			switch {
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Histogram != nil:
				v = float64(m.Histogram.GetSampleCount())
				name = strings.TrimSuffix(name, "_seconds") + "_count"
			}
			if v == 0 {
				continue
			}
			lines = append(lines, fmt.Sprintf("%s%s %s", name, labelString(m.GetLabel()), formatValue(v)))
		}
	}
	slices.Sort(lines)
	return lines
}

func labelString(lps []*dto.LabelPair) string {
	var parts []string
	for _, lp := range lps {
		if lp.GetName() == "aggregation" {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func snapshotLabels(b *batch.Batch) []string {
	out := make([]string, len(b.Series))
	for i := range b.Series {
		out[i] = batch.String(b.Series[i].Labels)
	}
	return out
}
