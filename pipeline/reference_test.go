package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/enrich"
)

// referenceTable compiles an enrichment table over a CSV file with
// content csv (rewrite reloads it) and loads it.
type referenceTable struct {
	*enrich.Enricher
	path string
}

func newReferenceTable(t *testing.T, name, cfgYAML, csv string) *referenceTable {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".csv")
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	var cfg enrich.Config
	if err := yaml.Unmarshal(fmt.Appendf(nil, "name: %s\nsource: {file: %q}\n%s", name, path, cfgYAML), &cfg); err != nil {
		t.Fatal(err)
	}
	e, err := enrich.New(cfg, enrich.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &referenceTable{Enricher: e, path: path}
}

func (r *referenceTable) rewrite(t *testing.T, csv string) {
	t.Helper()
	if err := os.WriteFile(r.path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(time.Hour) // a change the file check sees
	if err := os.Chtimes(r.path, mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

const thresholdsSeries = "key: [hostname]\nseries: [{column: allowed_top, name: cpu_threshold}]\nseries_interval: 10s\n"

func at(ts time.Time, lines ...string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = fmt.Sprintf("%s @%d", l, ts.UnixMilli())
	}
	return out
}

// Run emits a table's reference series at once and then every
// series_interval, stamped with the time of emission; a refreshed table
// changes the values; after a Swap, a removed table emits no more and a
// new one emits at once, on its own interval.
func TestRunEmitsReferenceSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tbl := newReferenceTable(t, "cpu_thresholds", thresholdsSeries, "hostname,allowed_top\nsleepy,40\ndoc,20\n")
		plain := newReferenceTable(t, "teams", "key: [hostname]\nadd: [team]\n", "hostname,team\nsleepy,a\n")
		s := &sink{}
		p := New(Options{Enrich: []*enrich.Enricher{plain.Enricher, tbl.Enricher}, Sinks: []Sink{s}, Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()

		t0 := time.Now()
		synctest.Wait()
		check := func(when string, want ...string) {
			t.Helper()
			if got := s.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: got\n%s\nwant\n%s", when, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		check("at start", at(t0, `cpu_threshold{hostname="doc"} 20`, `cpu_threshold{hostname="sleepy"} 40`)...)
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		check("before the interval")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		check("after 10s", at(t0.Add(10*time.Second), `cpu_threshold{hostname="doc"} 20`, `cpu_threshold{hostname="sleepy"} 40`)...)

		tbl.rewrite(t, "hostname,allowed_top\nsleepy,45\n")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		check("after the refresh", at(t0.Add(20*time.Second), `cpu_threshold{hostname="sleepy"} 45`)...)

		// A reload replaces the table by one with another interval.
		time.Sleep(time.Second)
		next := newReferenceTable(t, "cpu_thresholds", strings.Replace(thresholdsSeries, "10s", "3s", 1), "hostname,allowed_top\nhappy,70\n")
		p.Swap(ctx, Stages{Enrich: []*enrich.Enricher{next.Enricher}, Sinks: []Sink{s}})
		synctest.Wait()
		t1 := t0.Add(21 * time.Second)
		check("at the swap", at(t1, `cpu_threshold{hostname="happy"} 70`)...)
		time.Sleep(9 * time.Second) // the old table would be due at +30s
		synctest.Wait()
		check("after the swap", append(append(
			at(t1.Add(3*time.Second), `cpu_threshold{hostname="happy"} 70`),
			at(t1.Add(6*time.Second), `cpu_threshold{hostname="happy"} 70`)...),
			at(t1.Add(9*time.Second), `cpu_threshold{hostname="happy"} 70`)...)...)
		cancel()
		<-done
	})
}

// refSink records the size of every batch it gets and the deadline of its context.
type refSink struct {
	mu    sync.Mutex
	parts []int
	block bool // Enqueue waits until its ctx is done
	ctxs  []time.Time
}

func (s *refSink) Enqueue(ctx context.Context, b *batch.Batch) error {
	s.mu.Lock()
	s.parts = append(s.parts, b.Len())
	dl, _ := ctx.Deadline()
	s.ctxs = append(s.ctxs, dl)
	block := s.block
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *refSink) Full() bool { return false }

// A large table goes to the sinks in parts of flushChunk series, not as
// one batch.
func TestEmitReferenceInChunks(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("hostname,allowed_top\n")
	const rows = 2*flushChunk + 100
	for i := range rows {
		fmt.Fprintf(&csv, "h%d,%d\n", i, i%100)
	}
	tbl := newReferenceTable(t, "big", thresholdsSeries, csv.String())
	s := &refSink{}
	p := New(Options{Enrich: []*enrich.Enricher{tbl.Enricher}, Sinks: []Sink{s}})
	now := time.Now()
	if n := p.EmitReference(context.Background(), now); n != rows {
		t.Errorf("emitted %d samples, want %d", n, rows)
	}
	if got, want := fmt.Sprint(s.parts), fmt.Sprint([]int{flushChunk, flushChunk, 100}); got != want {
		t.Errorf("parts %s, want %s", got, want)
	}
	if n := p.EmitReference(context.Background(), now.Add(5*time.Second)); n != 0 {
		t.Errorf("emitted %d samples before the interval", n)
	}
}

// A sink that cannot take the series holds an emission at most until the
// next one is due, which then starts; ingest meanwhile is not held up.
func TestEmitReferenceFullSink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tbl := newReferenceTable(t, "cpu_thresholds", thresholdsSeries, "hostname,allowed_top\nsleepy,40\n")
		s := &refSink{block: true}
		p := New(Options{Enrich: []*enrich.Enricher{tbl.Enricher}, Sinks: []Sink{s}, Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()
		t0 := time.Now()
		synctest.Wait() // the emission waits in Enqueue
		if err := p.Ingest(context.Background(), input(t0.UnixMilli(), `cpu_usage{hostname="sleepy"}`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		s.mu.Lock()
		if want := []time.Time{t0.Add(10 * time.Second), t0.Add(20 * time.Second)}; fmt.Sprint(s.ctxs) != fmt.Sprint(want) {
			t.Errorf("enqueue deadlines %v, want %v", s.ctxs, want)
		}
		s.mu.Unlock()
		cancel()
		<-done
	})
}

// gateSink holds the first Enqueue until release is closed.
type gateSink struct {
	refSink
	entered chan struct{} // closed when the first Enqueue waits
	release chan struct{}
	once    sync.Once
}

func (s *gateSink) Enqueue(ctx context.Context, b *batch.Batch) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.entered)
		<-s.release
	}
	return s.refSink.Enqueue(ctx, b)
}

// A Swap during an emission waits for the part being sent, not for the
// whole emission; the parts after it go to the new sinks, or nowhere when
// the new stages do not have the table. (Real goroutines: synctest does
// not see a goroutine waiting for a mutex as blocked.)
func TestEmitReferenceAcrossSwap(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("hostname,allowed_top\n")
	for i := range flushChunk + 1 {
		fmt.Fprintf(&csv, "h%d,%d\n", i, i%100)
	}
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("table kept %v", keep), func(t *testing.T) {
			tbl := newReferenceTable(t, "big", thresholdsSeries, csv.String())
			old := &gateSink{entered: make(chan struct{}), release: make(chan struct{})}
			p := New(Options{Enrich: []*enrich.Enricher{tbl.Enricher}, Sinks: []Sink{old}})
			emitted := make(chan int)
			go func() { emitted <- p.EmitReference(context.Background(), time.Now()) }()
			<-old.entered

			next := &refSink{}
			stages := Stages{Sinks: []Sink{next}}
			if keep {
				stages.Enrich = []*enrich.Enricher{tbl.Enricher}
			}
			swapped := make(chan struct{})
			go func() { p.Swap(context.Background(), stages); close(swapped) }()
			for len(p.Stages().Sinks) == 0 || p.Stages().Sinks[0] != Sink(next) {
				time.Sleep(time.Millisecond) // until the swap has installed the next stages
			}
			select {
			case <-swapped:
				t.Fatal("the swap did not wait for the part being sent")
			default:
			}
			close(old.release)
			<-swapped
			n := <-emitted
			want, wantNext := flushChunk+1, "[1]"
			if !keep {
				want, wantNext = flushChunk, "[]"
			}
			if n != want || fmt.Sprint(old.parts) != fmt.Sprint([]int{flushChunk}) || fmt.Sprint(next.parts) != wantNext {
				t.Errorf("emitted %d (want %d): old sinks got %v, new ones %v (want [%d], %s)", n, want, old.parts, next.parts, flushChunk, wantNext)
			}
		})
	}
}
