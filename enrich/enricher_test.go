package enrich

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
	"github.com/premetrics/premetrics/telemetry"
)

// series parses `name{a="b",...}` lines (one sample each) into a batch.
func series(lines ...string) *batch.Batch {
	b := &batch.Batch{}
	for _, s := range lines {
		name, rest, _ := strings.Cut(s, "{")
		b.StartSeries()
		b.AddLabel(batch.MetricName, name)
		for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				b.AddLabel(k, strings.Trim(v, `"`))
			}
		}
		b.AddSample(1000, 1)
		if !b.FinishSeries() {
			panic("duplicate label in " + s)
		}
	}
	return b
}

func strs(b *batch.Batch) []string {
	var out []string
	for _, s := range b.Series {
		if !sortedUnique(s.Labels) {
			out = append(out, "UNSORTED "+batch.String(s.Labels))
			continue
		}
		out = append(out, batch.String(s.Labels))
	}
	return out
}

func sortedUnique(ls []batch.Label) bool {
	for i := 1; i < len(ls); i++ {
		if ls[i-1].Name >= ls[i].Name {
			return false
		}
	}
	return true
}

type fixture struct {
	e       *Enricher
	reg     *prometheus.Registry
	dropped *prometheus.CounterVec
	path    string
}

// newFixture compiles cfgYAML (an enrich entry without name and source)
// over a CSV file with content csv, and starts it.
func newFixture(t *testing.T, cfgYAML, csv string) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "table.csv")
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := decodeConfig(t, fmt.Sprintf("name: tbl\nsource: {file: %q}\n%s", path, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{reg: prometheus.NewRegistry(), path: path}
	f.dropped = telemetry.NewDroppedSamples(f.reg)
	f.e, err = New(c, Options{Metrics: NewMetrics(f.reg), Dropped: f.dropped})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.e.Stop)
	return f
}

func (f *fixture) metric(t *testing.T, names ...string) string {
	t.Helper()
	var sb strings.Builder
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, n := range names {
			if mf.GetName() != n {
				continue
			}
			for _, m := range mf.GetMetric() {
				var ls []string
				for _, lp := range m.GetLabel() {
					ls = append(ls, lp.GetName()+"="+lp.GetValue())
				}
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
				fmt.Fprintf(&sb, "%s{%s} %g\n", n, strings.Join(ls, ","), v)
			}
		}
	}
	return sb.String()
}

const registryCSV = "vehicle_id,model,region,colour\nV1,Aurora,UK,red\nV2,Borealis,Japan,\nV3,,US,blue\n"

func TestApplyPolicies(t *testing.T) {
	in := []string{
		`vehicle_rpm{region="UK",vehicle_id="V1"}`,
		`vehicle_rpm{model="old",vehicle_id="V2"}`, // the table replaces model
		`vehicle_rpm{colour="green",vehicle_id="V2"}`,
		`vehicle_rpm{model="kept",vehicle_id="V3"}`, // empty model in the table: label left alone
		`vehicle_rpm{vehicle_id="V9"}`,              // not in the table
		`vehicle_rpm{region="UK"}`,                  // no key label
	}
	for _, tc := range []struct {
		onMiss string
		want   []string
		drops  float64
	}{
		{"keep", []string{
			`vehicle_rpm{colour="red", model="Aurora", region="UK", vehicle_id="V1"}`,
			`vehicle_rpm{model="Borealis", vehicle_id="V2"}`,
			`vehicle_rpm{colour="green", model="Borealis", vehicle_id="V2"}`,
			`vehicle_rpm{colour="blue", model="kept", vehicle_id="V3"}`,
			`vehicle_rpm{vehicle_id="V9"}`,
			`vehicle_rpm{region="UK"}`,
		}, 0},
		{"drop", []string{
			`vehicle_rpm{colour="red", model="Aurora", region="UK", vehicle_id="V1"}`,
			`vehicle_rpm{model="Borealis", vehicle_id="V2"}`,
			`vehicle_rpm{colour="green", model="Borealis", vehicle_id="V2"}`,
			`vehicle_rpm{colour="blue", model="kept", vehicle_id="V3"}`,
		}, 2},
		{"{default: {model: unknown}}", []string{
			`vehicle_rpm{colour="red", model="Aurora", region="UK", vehicle_id="V1"}`,
			`vehicle_rpm{model="Borealis", vehicle_id="V2"}`,
			`vehicle_rpm{colour="green", model="Borealis", vehicle_id="V2"}`,
			`vehicle_rpm{colour="blue", model="kept", vehicle_id="V3"}`,
			`vehicle_rpm{model="unknown", vehicle_id="V9"}`,
			`vehicle_rpm{model="unknown", region="UK"}`,
		}, 0},
	} {
		t.Run(tc.onMiss, func(t *testing.T) {
			f := newFixture(t, "key: [vehicle_id]\nadd: [model, colour]\non_miss: "+tc.onMiss+"\n", registryCSV)
			b := series(in...)
			dropped := f.e.Apply(b)
			if got := strs(b); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if float64(dropped) != tc.drops {
				t.Errorf("Apply dropped %d samples, want %g", dropped, tc.drops)
			}
			if got := testutil.ToFloat64(f.dropped.WithLabelValues("enrich", "enrich_miss")); got != tc.drops {
				t.Errorf("dropped_samples_total = %g, want %g", got, tc.drops)
			}
			want := "premetrics_enrich_lookups_total{result=hit,table=tbl} 4\npremetrics_enrich_lookups_total{result=miss,table=tbl} 2\n"
			if got := f.metric(t, "premetrics_enrich_lookups_total"); got != want {
				t.Errorf("metrics\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// A composite key, and a second table keyed on a label the first added.
func TestApplyCompositeAndChained(t *testing.T) {
	f1 := newFixture(t, "key: [hostname, cpu]\nadd: [socket]\n", "hostname,cpu,socket\nsleepy,cpu0,s0\nsleepy,cpu1,s1\ndoc,cpu0,s9\n")
	f2 := newFixture(t, "key: [socket]\nadd: [rack]\n", "socket,rack\ns1,r42\n")
	b := series(`cpu_usage{cpu="cpu1",hostname="sleepy"}`, `cpu_usage{cpu="cpu1",hostname="doc"}`)
	f1.e.Apply(b)
	f2.e.Apply(b)
	want := []string{`cpu_usage{cpu="cpu1", hostname="sleepy", rack="r42", socket="s1"}`, `cpu_usage{cpu="cpu1", hostname="doc"}`}
	if got := strs(b); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Added strings belong to the snapshot, not to scratch memory or the
// batch's request body: they survive the next Apply and a table swap.
func TestApplyStringsStayValid(t *testing.T) {
	f := newFixture(t, "key: [vehicle_id]\nadd: [model]\n", "vehicle_id,model\nV1,Aurora\n")
	b := series(`vehicle_rpm{vehicle_id="V1"}`)
	f.e.Apply(b)
	kept := b.Series[0].Get("model") // the string, not the batch's slice
	b.Reset()
	for range 3 {
		b2 := series(`vehicle_rpm{vehicle_id="V1"}`)
		f.e.Apply(b2)
	}
	if err := os.WriteFile(f.path, []byte("vehicle_id,model\nV1,Zephyr\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, f.path)
	if err := f.e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Clone(kept); got != "Aurora" {
		t.Errorf("kept label changed to %q", got)
	}
	b3 := series(`vehicle_rpm{vehicle_id="V1"}`)
	f.e.Apply(b3)
	if got := b3.Series[0].Get("model"); got != "Zephyr" {
		t.Errorf("after reload model=%q, want Zephyr", got)
	}
}

// bumpMtime moves the file's modification time forward, so a rewrite
// within the file system's time granularity is still seen.
func bumpMtime(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mt := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func TestApplyZeroAlloc(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	for _, onMiss := range []string{"keep", "drop", "{default: {model: unknown}}"} {
		f := newFixture(t, "key: [vehicle_id]\nadd: [model]\non_miss: "+onMiss+"\n", "vehicle_id,model\nV1,Aurora\nV2,Borealis\n")
		src := series(`vehicle_rpm{engine="ic",vehicle_id="V1"}`, `vehicle_rpm{vehicle_id="V2",zone="a"}`,
			`vehicle_rpm{model="Borealis",vehicle_id="V2"}`, `vehicle_rpm{vehicle_id="V7"}`, `vehicle_rpm{x="y"}`)
		b := &batch.Batch{}
		run := func() {
			b.Reset()
			for i := range src.Series {
				b.AppendSeries(src.Series[i].Labels, src.Series[i].Samples)
			}
			f.e.Apply(b)
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("on_miss %s: %v allocations per Apply, want 0", onMiss, n)
		}
	}
}

// Apply on many goroutines while the table is swapped: every series sees
// one whole snapshot (old or new model, never a mix or garbage).
func TestApplyConcurrentSwaps(t *testing.T) {
	f := newFixture(t, "key: [vehicle_id]\nadd: [model, gen]\n", genCSV(0))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				b := series(`m{vehicle_id="V1"}`, `m{vehicle_id="V2"}`, `m{vehicle_id="V3"}`)
				f.e.Apply(b)
				for _, s := range b.Series {
					model, gen := s.Get("model"), s.Get("gen")
					if model != "M"+gen || gen == "" {
						select {
						case errs <- batch.String(s.Labels):
						default:
						}
					}
				}
			}
		})
	}
	for gen := 1; gen <= 30; gen++ {
		if err := os.WriteFile(f.path, []byte(genCSV(gen)), 0o644); err != nil {
			t.Fatal(err)
		}
		bumpMtime(t, f.path)
		if err := f.e.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("inconsistent join: %s", e)
	}
	if got := f.e.Table().Rows(); got != 3 {
		t.Errorf("rows %d", got)
	}
}

func genCSV(gen int) string {
	var sb strings.Builder
	sb.WriteString("vehicle_id,model,gen\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&sb, "V%d,M%d,%d\n", i, gen, gen)
	}
	return sb.String()
}

func TestStartRequired(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.csv")
	for _, required := range []bool{true, false} {
		c, err := decodeConfig(t, fmt.Sprintf("name: tbl\nsource: {file: {path: %q, interval: 10ms}}\nkey: [id]\nadd: [m]\nrequired: %v\n", missing, required))
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		e, err := New(c, Options{Metrics: NewMetrics(reg)})
		if err != nil {
			t.Fatal(err)
		}
		err = e.Start(context.Background())
		if required {
			if err == nil || !strings.Contains(err.Error(), `enrich "tbl": no snapshot could be loaded: cannot read `) || !strings.Contains(err.Error(), "set required: false") {
				t.Errorf("required: got %v", err)
			}
			e.Stop()
			continue
		}
		if err != nil {
			t.Fatalf("optional: %v", err)
		}
		b := series(`m{id="1"}`)
		e.Apply(b)
		if got := testutil.ToFloat64(e.m.misses); got != 1 {
			t.Errorf("misses %g", got)
		}
		// The source appears: the refresher loads it.
		if err := os.WriteFile(missing, []byte("id,m\n1,x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for e.Table() == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if e.Table() == nil || testutil.ToFloat64(e.m.failures) < 1 || testutil.ToFloat64(e.m.lastOK) != 1 {
			t.Errorf("optional table: loaded %v, failures %g, last ok %g", e.Table() != nil, testutil.ToFloat64(e.m.failures), testutil.ToFloat64(e.m.lastOK))
		}
		e.Stop()
		e.Stop() // idempotent
		if n := testutil.CollectAndCount(reg); n != 0 {
			t.Errorf("%d series left after Stop", n)
		}
	}
}

func TestStopWithoutStart(t *testing.T) {
	c, _ := decodeConfig(t, "name: tbl\nsource: {file: a.csv}\nkey: [id]\nadd: [m]\n")
	e, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.Stop()
	if err := e.Start(context.Background()); err == nil {
		t.Error("Start after Stop succeeded")
	}
}
