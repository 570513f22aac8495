package enrich

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/VictoriaMetrics/fastcache"

	"github.com/premetrics/premetrics/batch"
)

// The store comparison of the package doc: 1M vehicle ids -> one of 7
// models, the flat open-addressing Table against fastcache (key -> the
// 4-byte value index), looked up in a random order over the whole table
// (cache misses dominate, as with a real fleet).
const benchRows = 1_000_000

var models = []string{"Aurora", "Borealis", "Cirrus", "Dune", "Eclipse", "Fjord", "Glacier"}

func vehicleID(i int) string { return fmt.Sprintf("V%010d", uint64(i)*2654435761%10_000_000_000) }

// benchKeys returns n lookup keys (id + 0xff) in a scattered order.
func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = append([]byte(vehicleID((i*7919)%benchRows)), keySep)
	}
	return keys
}

func buildBenchTable(tb testing.TB, rows int) *Table {
	tb.Helper()
	b := newBuilder([]string{"vehicle_id"}, 1, DefaultMaxRows)
	row := make([]string, 2)
	for i := range rows {
		row[0], row[1] = vehicleID(i), models[i%len(models)]
		if err := b.add(row); err != nil {
			tb.Fatal(err)
		}
	}
	t, err := b.finish(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

var timeZero time.Time

// The benchmarks measure lookups into buildBenchTable's table with
// benchKeys: every key must hit its own row (distinct ids, the model of
// row i), or the figures would be of misses.
func TestBenchTableHitsEveryKey(t *testing.T) {
	const rows = 20_000
	tab := buildBenchTable(t, rows)
	for i := range rows {
		vals, ok := tab.lookup(append([]byte(vehicleID(i)), keySep))
		if !ok {
			t.Fatalf("row %d (%s) not found", i, vehicleID(i))
		}
		if got, want := tab.value(vals, 0), models[i%len(models)]; got != want {
			t.Fatalf("row %d: model %q, want %q", i, got, want)
		}
	}
	if _, ok := tab.lookup(append([]byte("V-not-there"), keySep)); ok {
		t.Error("a key not in the table was found")
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func BenchmarkTableLookup1M(b *testing.B) {
	before := heapInUse()
	t := buildBenchTable(b, benchRows)
	after := heapInUse()
	keys := benchKeys(1 << 16)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		vals, ok := t.lookup(keys[i&(len(keys)-1)])
		if ok && t.value(vals, 0) != "" {
			n++
		}
	}
	if n == 0 {
		b.Fatal("no hits")
	}
	b.ReportMetric(float64(t.Bytes())/benchRows, "bytes/row")
	b.ReportMetric(float64(after-before)/benchRows, "heap-bytes/row")
	runtime.KeepAlive(t)
}

func BenchmarkFastcacheLookup1M(b *testing.B) {
	before := heapInUse()
	// fastcache evicts when a bucket is full: size it with room to spare
	// (it rounds up to 32 MiB at least).
	c := fastcache.New(benchRows * 64)
	defer c.Reset()
	values := models
	var v [4]byte
	for i := range benchRows {
		binary.LittleEndian.PutUint32(v[:], uint32(i%len(models)))
		c.Set(append([]byte(vehicleID(i)), keySep), v[:])
	}
	after := heapInUse()
	var st fastcache.Stats
	c.UpdateStats(&st)
	if st.EntriesCount != benchRows {
		b.Fatalf("fastcache holds %d entries of %d: it evicted", st.EntriesCount, benchRows)
	}
	keys := benchKeys(1 << 16)
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		got, ok := c.HasGet(buf[:0], keys[i&(len(keys)-1)])
		if ok && values[binary.LittleEndian.Uint32(got)] != "" {
			n++
		}
	}
	if n == 0 {
		b.Fatal("no hits")
	}
	// Chunks are allocated outside the Go heap: add them.
	b.ReportMetric(float64(st.BytesSize)/benchRows, "chunk-bytes/row")
	b.ReportMetric(float64(after-before)/benchRows, "heap-bytes/row")
}

func BenchmarkTableBuild1M(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		buildBenchTable(b, benchRows)
	}
}

// BenchmarkApply is the stage on a batch of 1000 vehicle series over a
// 1M-row table: per series, a key built, a lookup and a label inserted.
func BenchmarkApply(b *testing.B) {
	e := newBenchEnricher(b, buildBenchTable(b, benchRows))
	const series = 1000
	src := benchBatch(series)
	bt := &batch.Batch{}
	b.ReportAllocs()
	for b.Loop() {
		bt.Reset()
		for i := range src.Series {
			bt.AppendSeries(src.Series[i].Labels, src.Series[i].Samples)
		}
		e.Apply(bt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/series, "ns/series")
}

func newBenchEnricher(tb testing.TB, t *Table) *Enricher {
	tb.Helper()
	e, err := New(Config{
		Name: "vehicle_registry", Source: Source{File: &FileSource{Path: "unused.csv"}},
		Key: []string{"vehicle_id"}, Add: []string{"model"},
	}, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	e.table.Store(t)
	return e
}

func benchBatch(n int) *batch.Batch {
	b := &batch.Batch{}
	for i := range n {
		b.StartSeries()
		b.AddLabel(batch.MetricName, "vehicle_rpm")
		b.AddLabel("engine", "ic")
		b.AddLabel("region", "UK")
		b.AddLabel("vehicle_id", vehicleID((i*7919)%benchRows))
		b.AddSample(1730620801000, 2356)
		b.FinishSeries()
	}
	return b
}

// BenchmarkReferenceEmit1M is one emission of the reference series of a
// 1M-row table (one series per row) in parts of 8192 series, as the
// pipeline sends them.
func BenchmarkReferenceEmit1M(b *testing.B) {
	bl := newBuilder([]string{"vehicle_id"}, 0, DefaultMaxRows).withReference(1)
	row := make([]string, 2)
	for i := range benchRows {
		row[0], row[1] = vehicleID(i), fmt.Sprint(i%100)
		if err := bl.add(row); err != nil {
			b.Fatal(err)
		}
	}
	t, err := bl.finish(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{
		Name: "vehicle_limits", Source: Source{File: &FileSource{Path: "unused.csv"}},
		Key: []string{"vehicle_id"}, Series: []SeriesConfig{{Column: "rpm_limit"}},
	}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	e.table.Store(t)
	b.ReportAllocs()
	now := time.Unix(0, 0)
	for b.Loop() {
		now = now.Add(DefaultSeriesInterval)
		n, err := e.Reference(now).Emit(8192, func(*batch.Batch) error { return nil })
		if err != nil || n != benchRows {
			b.Fatalf("emitted %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/series")
}
