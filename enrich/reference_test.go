package enrich

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/race"
)

// thresholdsCSV holds numbers, spaces around one, a word, empty values,
// NaN and Inf.
const thresholdsCSV = "hostname,allowed_top,team,crit\n" +
	"doc,20,a,95\n" +
	"grumpy, 30 ,b,\n" +
	"sleepy,n/a,c,90\n" +
	"bashful,,d,Inf\n" +
	"happy,NaN,e,-1.5e1\n"

const thresholdsConfig = `key: [hostname]
add: [team]
series:
  - {column: allowed_top, name: cpu_threshold}
  - {column: crit, name: cpu_threshold, labels: {level: crit}}
`

// refFixture is newFixture with a logger whose output the test reads.
func refFixture(t *testing.T, cfgYAML, csv string) (*fixture, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "table.csv")
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := decodeConfig(t, fmt.Sprintf("name: tbl\nsource: {file: %q}\n%s", path, cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	f := &fixture{reg: prometheus.NewRegistry(), path: path}
	f.e, err = New(c, Options{Metrics: NewMetrics(f.reg), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.e.Stop)
	if err := f.e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f, &logs
}

// refValues returns the reference column values of the row with key, "-"
// for no value.
func refValues(t *testing.T, tbl *Table, key ...string) string {
	t.Helper()
	var buf []byte
	for _, k := range key {
		buf = append(append(buf, k...), keySep)
	}
	vals, ok := tbl.lookup(buf)
	if !ok {
		return "<miss>"
	}
	var out []string
	for col := range tbl.nref {
		if v := tbl.refValue(vals, col); math.IsNaN(v) {
			out = append(out, "-")
		} else {
			out = append(out, fmt.Sprint(v))
		}
	}
	return strings.Join(out, ",")
}

// The snapshot keeps each row's numbers; a value that is not one is no
// value, counted per column and logged, and not a failed load.
func TestReferenceSnapshot(t *testing.T) {
	f, logs := refFixture(t, thresholdsConfig, thresholdsCSV)
	tbl := f.e.Table()
	for key, want := range map[string]string{
		"doc": "20,95", "grumpy": "30,-", "sleepy": "-,90", "bashful": "-,+Inf", "happy": "-,-15",
	} {
		if got := refValues(t, tbl, key); got != want {
			t.Errorf("%s: reference values %s, want %s", key, got, want)
		}
	}
	// The add columns sit before the numbers in a record: still joined.
	if got := lookup(t, f.e, "grumpy"); got != "b" {
		t.Errorf("grumpy's team: %q", got)
	}
	want := "premetrics_enrich_reference_invalid_values_total{column=allowed_top,table=tbl} 3\n" +
		"premetrics_enrich_reference_invalid_values_total{column=crit,table=tbl} 1\n" +
		"premetrics_enrich_reference_series{table=tbl} 6\n"
	if got := f.metric(t, "premetrics_enrich_reference_invalid_values_total", "premetrics_enrich_reference_series"); got != want {
		t.Errorf("metrics\n%s\nwant\n%s", got, want)
	}
	for _, s := range []string{
		`level=INFO msg="enrichment table loaded"`, "rows=5", "reference_series=6", "reference_invalid_values=4",
		`level=WARN msg="enrichment table has series values that are not numbers`,
		`allowed_top: 3 rows, the first {hostname=\"sleepy\"} \"n/a\"; crit: 1 rows, the first {hostname=\"grumpy\"} \"\""`,
	} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %s:\n%s", s, logs)
		}
	}

	// The warning is throttled; the counter counts every load.
	logs.Reset()
	if err := os.WriteFile(f.path, []byte(thresholdsCSV+"dopey,x,f,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, f.path)
	if err := f.e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "WARN") || !strings.Contains(logs.String(), "reference_invalid_values=5") {
		t.Errorf("second load logged:\n%s", logs)
	}
	if got := testutil.ToFloat64(f.e.m.refInvalid[0]); got != 7 {
		t.Errorf("allowed_top invalid values = %g, want 3+4", got)
	}
}

// A series column missing from the source fails the load, like a key
// column; in JSON and YAML, a column no row has.
func TestReferenceColumnMissing(t *testing.T) {
	for _, tc := range []struct{ ext, content, want string }{
		{"csv", "hostname,team\ndoc,a\n", `CSV header ["hostname" "team"] has no column "allowed_top"`},
		{"json", `[{"hostname": "doc"}, {"hostname": "grumpy", "allowed": 3}]`, `no object has the field "allowed_top" (a column of series)`},
		{"yaml", "- {hostname: doc}\n", `no mapping has the column "allowed_top" (a column of series)`},
		{"json", `[{"hostname": "doc"}, {"hostname": "grumpy", "allowed_top": null}]`, ""}, // null: present, no value
		{"json", `[{"hostname": "doc", "allowed_top": true}, {"hostname": "sleepy", "allowed_top": 4e1}]`, ""},
		{"json", `[]`, ""},
		{"yaml", "- {hostname: doc, allowed_top: ~}\n- {hostname: sleepy, allowed_top: 40}\n", ""},
	} {
		path := filepath.Join(t.TempDir(), "t."+tc.ext)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := decodeConfig(t, fmt.Sprintf("name: t\nsource: {file: %q}\nkey: [hostname]\nseries: [{column: allowed_top}]\n", path))
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(c, Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = e.Refresh(context.Background())
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.ext, tc.content, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: got %v, want %q", tc.ext, tc.content, err, tc.want)
		case tc.want == "" && e.Table().Rows() > 0:
			if got := refValues(t, e.Table(), "sleepy"); got != "40" && got != "<miss>" {
				t.Errorf("%s %s: sleepy %s", tc.ext, tc.content, got)
			}
		}
		e.Stop()
	}
}

// emitted runs one emission in parts of chunk series and returns its
// series as lines and the part sizes.
func emitted(t *testing.T, r *Reference, chunk int) (lines []string, parts []int) {
	t.Helper()
	n, err := r.Emit(chunk, func(b *batch.Batch) error {
		parts = append(parts, b.Len())
		for _, s := range b.Series {
			if !sortedUnique(s.Labels) {
				t.Errorf("unsorted labels %v", s.Labels)
			}
			for _, smp := range s.Samples {
				lines = append(lines, fmt.Sprintf("%s %g @%d", batch.String(s.Labels), smp.Value, smp.Timestamp))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(lines) {
		t.Errorf("Emit returned %d samples, handed on %d", n, len(lines))
	}
	return lines, parts
}

// The emitted series of a CSV table: per row and series entry with a
// number, the metric name, the row's key labels and the constant labels,
// in row order, stamped with the emission time, in parts of chunk.
func TestReferenceEmit(t *testing.T) {
	f, _ := refFixture(t, thresholdsConfig, thresholdsCSV)
	now := time.UnixMilli(1_730_000_000_123)
	r := f.e.Reference(now)
	if r == nil {
		t.Fatal("not due at the first call")
	}
	if r.Series() != 6 {
		t.Errorf("Series() = %d, want 6", r.Series())
	}
	lines, parts := emitted(t, r, 4)
	want := []string{
		`cpu_threshold{hostname="doc"} 20 @1730000000123`,
		`cpu_threshold{hostname="doc", level="crit"} 95 @1730000000123`,
		`cpu_threshold{hostname="grumpy"} 30 @1730000000123`,
		`cpu_threshold{hostname="sleepy", level="crit"} 90 @1730000000123`,
		`cpu_threshold{hostname="bashful", level="crit"} +Inf @1730000000123`,
		`cpu_threshold{hostname="happy", level="crit"} -15 @1730000000123`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("emitted\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if fmt.Sprint(parts) != "[4 2]" {
		t.Errorf("parts %v, want [4 2]", parts)
	}
	if got := testutil.ToFloat64(f.e.m.refSamples); got != 6 {
		t.Errorf("reference_samples_total = %g, want 6", got)
	}

	// A composite key, and labels that sort before __name__ and between
	// the key labels.
	f2, _ := refFixture(t, "key: [hostname, cpu]\nseries: [{column: top, name: cpu_top, labels: {Zone: eu, dc: d1}}]\n",
		"cpu,hostname,top\ncpu0,doc,1\ncpu1,doc,2\n")
	lines, _ = emitted(t, f2.e.Reference(now), 0)
	want = []string{
		`cpu_top{Zone="eu", cpu="cpu0", dc="d1", hostname="doc"} 1 @1730000000123`,
		`cpu_top{Zone="eu", cpu="cpu1", dc="d1", hostname="doc"} 2 @1730000000123`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("emitted\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// An error of fn stops the emission; what was handed on is counted.
func TestReferenceEmitError(t *testing.T) {
	f, _ := refFixture(t, thresholdsConfig, thresholdsCSV)
	boom := errors.New("boom")
	calls := 0
	n, err := f.e.Reference(time.UnixMilli(1)).Emit(2, func(*batch.Batch) error {
		if calls++; calls == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 2 || calls != 2 {
		t.Errorf("Emit = %d, %v after %d calls; want 2, boom, 2", n, err, calls)
	}
	if got := testutil.ToFloat64(f.e.m.refSamples); got != 2 {
		t.Errorf("reference_samples_total = %g, want 2", got)
	}
}

// A refresh changes what the next emission sends; an emission claimed
// before it sends the snapshot it was claimed with.
func TestReferenceAfterRefresh(t *testing.T) {
	f, _ := refFixture(t, "key: [hostname]\nseries: [{column: allowed_top, name: cpu_threshold}]\nseries_interval: 1s\n",
		"hostname,allowed_top\nsleepy,40\n")
	t0 := time.UnixMilli(1000)
	old := f.e.Reference(t0)
	if err := os.WriteFile(f.path, []byte("hostname,allowed_top\nsleepy,45\nhappy,70\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, f.path)
	if err := f.e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lines, _ := emitted(t, old, 0); strings.Join(lines, "\n") != `cpu_threshold{hostname="sleepy"} 40 @1000` {
		t.Errorf("claimed before the refresh: %q", lines)
	}
	lines, _ := emitted(t, f.e.Reference(t0.Add(time.Second)), 0)
	want := `cpu_threshold{hostname="sleepy"} 45 @2000` + "\n" + `cpu_threshold{hostname="happy"} 70 @2000`
	if strings.Join(lines, "\n") != want {
		t.Errorf("after the refresh:\n%s\nwant\n%s", strings.Join(lines, "\n"), want)
	}
	if got := testutil.ToFloat64(f.e.m.refSeries); got != 2 {
		t.Errorf("reference_series = %g, want 2", got)
	}
}

// Emissions are due every series_interval from the first, which is due
// at once; one without a snapshot is skipped; a late one reschedules.
func TestReferenceSchedule(t *testing.T) {
	c, err := decodeConfig(t, "name: t\nsource: {file: /nonexistent.csv}\nkey: [h]\nseries: [{column: v}]\nseries_interval: 10s\n")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	t0 := time.Unix(1000, 0)
	if next, ok := e.NextReference(); !ok || !next.IsZero() || !e.ReferenceDue(t0) || e.ReferenceInterval() != 10*time.Second {
		t.Fatalf("before the first: next %v %v, due %v", next, ok, e.ReferenceDue(t0))
	}
	if e.Reference(t0) != nil {
		t.Fatal("an emission without a snapshot")
	}
	if next, _ := e.NextReference(); !next.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("after a skipped emission next is %v", next)
	}
	e.table.Store(buildTestTable(t, 1))
	for _, step := range []struct {
		at   time.Duration
		due  bool
		next time.Duration
	}{
		{5 * time.Second, false, 10 * time.Second},
		{10*time.Second + 3*time.Millisecond, true, 20 * time.Second}, // from when it was due: no drift
		{10*time.Second + 5*time.Millisecond, false, 20 * time.Second},
		{45 * time.Second, true, 55 * time.Second}, // 30s and 40s missed: from now
	} {
		now := t0.Add(step.at)
		if got := e.Reference(now) != nil; got != step.due {
			t.Errorf("at +%s: claimed %v, want %v", step.at, got, step.due)
		}
		if next, _ := e.NextReference(); !next.Equal(t0.Add(step.next)) {
			t.Errorf("at +%s: next +%s, want +%s", step.at, next.Sub(t0), step.next)
		}
	}

	// Of concurrent claims of one emission, one wins.
	now := t0.Add(time.Minute)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if e.Reference(now) != nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d claims won, want 1", wins.Load())
	}

	// A table without series has no schedule.
	plain := newFixture(t, "key: [vehicle_id]\nadd: [model]\n", registryCSV)
	if _, ok := plain.e.NextReference(); ok || plain.e.ReferenceDue(now) || plain.e.Reference(now) != nil || plain.e.ReferenceInterval() != 0 {
		t.Error("a table without series has reference emissions")
	}
}

// buildTestTable is a table of rows h=<i>, v=<i> for the config of
// TestReferenceSchedule.
func buildTestTable(t *testing.T, rows int) *Table {
	t.Helper()
	b := newBuilder([]string{"h"}, 0, 100).withReference(1)
	for i := range rows {
		if err := b.add([]string{fmt.Sprint(i), fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tbl, err := b.finish(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// A table of reference series only is not joined: Apply leaves the
// batch alone, counts nothing and allocates nothing.
func TestApplySeriesOnlyTable(t *testing.T) {
	f, _ := refFixture(t, "key: [hostname]\nseries: [{column: allowed_top}]\n", "hostname,allowed_top\nsleepy,40\n")
	b := series(`cpu_usage{hostname="sleepy"}`, `cpu_usage{hostname="nobody"}`)
	before := strs(b)
	if dropped := f.e.Apply(b); dropped != 0 || strings.Join(strs(b), "\n") != strings.Join(before, "\n") {
		t.Errorf("Apply changed the batch: %q, dropped %d", strs(b), dropped)
	}
	if got := testutil.ToFloat64(f.e.m.hits) + testutil.ToFloat64(f.e.m.misses); got != 0 {
		t.Errorf("%g lookups counted", got)
	}
	if !race.Enabled {
		if n := testing.AllocsPerRun(100, func() { f.e.Apply(b) }); n != 0 {
			t.Errorf("%v allocations per Apply", n)
		}
	}
}

// The reference metrics of a table go with the last Enricher that has
// them: a reload that changes a table's series replaces the old one's
// columns, one that removes its series removes them.
func TestReferenceMetricsRelease(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	newTable := func(series string) *Enricher {
		c, err := decodeConfig(t, "name: tbl\nsource: {file: a.csv}\nkey: [h]\nadd: [a]\n"+series)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(c, Options{Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	series := func() string {
		var out []string
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if !strings.HasPrefix(mf.GetName(), "premetrics_enrich_reference_") {
				continue
			}
			for _, mt := range mf.GetMetric() {
				var ls []string
				for _, lp := range mt.GetLabel() {
					ls = append(ls, lp.GetValue())
				}
				out = append(out, strings.TrimPrefix(mf.GetName(), "premetrics_enrich_reference_")+"{"+strings.Join(ls, ",")+"}")
			}
		}
		return strings.Join(out, " ")
	}
	a := newTable("series: [{column: x}, {column: y}]\n")
	if got, want := series(), "invalid_values_total{x,tbl} invalid_values_total{y,tbl} samples_total{tbl} series{tbl}"; got != want {
		t.Errorf("first:\n%s\nwant\n%s", got, want)
	}
	b := newTable("series: [{column: y}, {column: z}]\n") // a reload changes the columns
	a.Stop()
	if got, want := series(), "invalid_values_total{y,tbl} invalid_values_total{z,tbl} samples_total{tbl} series{tbl}"; got != want {
		t.Errorf("after the reload:\n%s\nwant\n%s", got, want)
	}
	c := newTable("") // a reload removes the series
	b.Stop()
	if got := series(); got != "" {
		t.Errorf("after the series went: %s", got)
	}
	c.Stop()
	if n := testutil.CollectAndCount(reg); n != 0 {
		t.Errorf("%d series left", n)
	}
}
