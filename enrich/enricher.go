package enrich

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/logthrottle"
	"github.com/premetrics/premetrics/telemetry"
)

// Options are an Enricher's collaborators; all may be nil.
type Options struct {
	Metrics    *Metrics               // nil: unregistered metrics
	Dropped    *prometheus.CounterVec // premetrics_dropped_samples_total; nil: unregistered
	Logger     *slog.Logger
	HTTPClient *http.Client // for http sources; nil: a client of its own
}

// addCol is an add column in label-name order.
type addCol struct {
	name string
	col  int    // index in Config.Add: the record's value order
	def  string // on_miss default value; "" none
}

// Enricher is one compiled `enrich:` entry: the current snapshot of its
// table, the source that refreshes it, and the stage that joins it onto
// series (Apply). Apply is safe for concurrent use with everything;
// Start and Stop are called once each, Stop possibly without Start.
type Enricher struct {
	cfg      Config
	name     string
	key      []string
	add      []addCol
	onMiss   string
	required bool
	interval time.Duration
	maxRows  int

	ref     reference    // the reference series; none: ref.interval == 0
	refNext atomic.Int64 // Unix ns when the next reference emission is due; 0: at once

	table atomic.Pointer[Table]
	src   source
	m     tableMetrics
	rel   *Metrics
	log   *slog.Logger
	warn  *logthrottle.Throttle

	refreshMu sync.Mutex // serialises Refresh: the source keeps state
	failing   bool       // under refreshMu: the last refresh failed

	scratch sync.Pool // *scratch

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}
}

type scratch struct {
	key    []byte
	labels []batch.Label
	drop   []bool
}

// New compiles cfg, which must be valid (Config.Validate). Nothing is
// read until Start: every lookup misses until then.
func New(cfg Config, opts Options) (*Enricher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Dropped == nil {
		opts.Dropped = telemetry.NewDroppedSamples(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	e := &Enricher{
		cfg:      cfg,
		name:     cfg.Name,
		key:      slices.Clone(cfg.Key),
		onMiss:   cfg.OnMiss.Action,
		required: cfg.IsRequired(),
		interval: cfg.Source.interval(),
		maxRows:  cfg.maxRows(),
		rel:      opts.Metrics,
		log:      opts.Logger.With("table", cfg.Name, "source", cfg.Source.kind()),
		warn:     logthrottle.New(warnKinds, logthrottle.Every),
		done:     make(chan struct{}),
	}
	if e.onMiss == "" {
		e.onMiss = MissKeep
	}
	for i, name := range cfg.Add {
		e.add = append(e.add, addCol{name: name, col: i, def: cfg.OnMiss.Default[name]})
	}
	slices.SortFunc(e.add, func(a, b addCol) int { return strings.Compare(a.name, b.name) })
	e.ref = newReference(&cfg)
	e.src = newSource(&cfg, columns{key: cfg.Key, add: cfg.Add, ref: e.ref.cols}, opts.HTTPClient)
	e.m = opts.Metrics.acquire(cfg.Name, opts.Dropped, e.ref.cols)
	e.scratch.New = func() any { return &scratch{} }
	return e, nil
}

// Name returns the table's name.
func (e *Enricher) Name() string { return e.name }

// Config returns the config e was compiled from.
func (e *Enricher) Config() Config { return e.cfg }

// Table returns the snapshot in use, nil before the first load.
func (e *Enricher) Table() *Table { return e.table.Load() }

// Start loads the first snapshot and starts refreshing it every
// interval until Stop. When the first load fails, a required table
// returns the error (and starts nothing); an optional one logs it, starts
// empty and keeps trying.
func (e *Enricher) Start(ctx context.Context) error {
	err := fmt.Errorf("enrich %q: already started", e.name)
	e.startOnce.Do(func() {
		err = e.Refresh(ctx)
		if err != nil && e.required {
			err = fmt.Errorf("enrich %q: %w: %w (set required: false to start without it)", e.name, errNoSnapshot, err)
			return
		}
		if err != nil {
			e.log.Warn("enrichment table starts empty: every lookup misses until its source loads", "err", err)
		}
		err = nil
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		e.cancel = cancel
		go e.loop(rctx)
	})
	return err
}

// Stop stops refreshing and waits for a refresh in progress. The last
// snapshot stays in use by Apply. Stop is idempotent and safe without
// Start.
func (e *Enricher) Stop() {
	e.stopOnce.Do(func() {
		e.startOnce.Do(func() {}) // no Start after Stop
		if e.cancel != nil {
			e.cancel()
			<-e.done
		}
		e.rel.release(e.name, e.ref.cols)
	})
}

func (e *Enricher) loop(ctx context.Context) {
	defer close(e.done)
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = e.Refresh(ctx) // logged and counted
		}
	}
}

// Refresh reads the source once and swaps in its rows when they changed.
// On error the snapshot in use stays, the failure is counted and logged
// (throttled), and the error is returned. Refreshes are serialised
// (Start's goroutine calls it every interval).
func (e *Enricher) Refresh(ctx context.Context) error {
	e.refreshMu.Lock()
	defer e.refreshMu.Unlock()
	start := time.Now()
	t, unchanged, err := e.src.fetch(ctx, func() *builder {
		return newBuilder(e.key, len(e.add), e.maxRows).withReference(len(e.ref.cols))
	})
	if err != nil {
		e.m.failures.Inc()
		e.m.lastOK.Set(0)
		e.failing = true
		keeping := "no snapshot yet: every lookup misses"
		if cur := e.table.Load(); cur != nil {
			keeping = fmt.Sprintf("keeping the snapshot of %s (%d rows)", cur.loaded.Format(time.RFC3339), cur.rows)
		}
		if ok, suppressed := e.warn.Allow(warnRefresh, time.Now()); ok {
			e.log.Warn("enrichment table refresh failed; "+keeping, "err", err, "suppressed", suppressed)
		}
		return err
	}
	if !unchanged {
		e.table.Store(t)
		e.m.rows.Set(float64(t.rows))
		e.m.bytes.Set(float64(t.Bytes()))
		attrs := []any{"rows", t.rows, "bytes", t.Bytes(), "took", time.Since(start).Round(time.Millisecond)}
		if len(e.ref.cols) > 0 {
			attrs = append(attrs, e.loadedReference(t)...)
		}
		e.log.Info("enrichment table loaded", attrs...)
	} else if e.failing {
		e.log.Info("enrichment table source recovered; rows unchanged")
	}
	e.failing = false
	e.m.lastOK.Set(1)
	e.m.lastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
	return nil
}

// Apply joins the table onto every series of b in place: a series whose
// key labels' values are a row's key gets the row's add columns as
// labels (replacing labels of those names; an empty value adds nothing).
// A series missing a key label, or whose key is not in the table, is a
// miss: kept as it is, dropped, or given the default values (on_miss).
// It returns how many samples it dropped. Labels stay sorted; strings
// added point into the snapshot, which stays valid while referenced. A
// table without add (reference series only) leaves b alone and counts
// no lookups.
func (e *Enricher) Apply(b *batch.Batch) (droppedSamples int) {
	if len(b.Series) == 0 || len(e.add) == 0 { // no add: a table of reference series only
		return 0
	}
	t := e.table.Load()
	sc := e.scratch.Get().(*scratch)
	hits, misses, drops := 0, 0, 0
	for i := range b.Series {
		s := &b.Series[i]
		key, ok := appendKey(sc.key[:0], s.Labels, e.key)
		sc.key = key
		vals := 0
		if ok {
			vals, ok = t.lookup(key)
		}
		switch {
		case ok:
			hits++
			e.join(b, i, sc, t, vals)
		case e.onMiss == MissDefault:
			misses++
			e.join(b, i, sc, nil, 0)
		case e.onMiss == MissDrop:
			misses++
			if drops == 0 {
				sc.drop = resetDrop(sc.drop, len(b.Series))
			}
			sc.drop[i] = true
			drops++
		default:
			misses++
		}
	}
	if drops > 0 {
		i := 0
		droppedSamples = b.Filter(func(*batch.Series) bool {
			keep := !sc.drop[i]
			i++
			return keep
		})
		e.m.dropped.Add(float64(droppedSamples))
	}
	clear(sc.labels[:cap(sc.labels)]) // do not keep b's strings alive in the pool
	e.scratch.Put(sc)
	if hits > 0 {
		e.m.hits.Add(float64(hits))
	}
	if misses > 0 {
		e.m.misses.Add(float64(misses))
	}
	return droppedSamples
}

// join sets the add labels of series i to the row at vals of t, or to
// the on_miss defaults when t is nil.
func (e *Enricher) join(b *batch.Batch, i int, sc *scratch, t *Table, vals int) {
	ls := b.Series[i].Labels
	out := sc.labels[:0]
	j := 0
	inserted, replaced := false, false
	for _, a := range e.add {
		var v string
		if t != nil {
			v = t.value(vals, a.col)
		} else {
			v = a.def
		}
		if v == "" {
			continue
		}
		for j < len(ls) && ls[j].Name < a.name {
			out = append(out, ls[j])
			j++
		}
		if j < len(ls) && ls[j].Name == a.name {
			if ls[j].Value != v {
				replaced = true
			}
			j++
		} else {
			inserted = true
		}
		out = append(out, batch.Label{Name: a.name, Value: v})
	}
	out = append(out, ls[j:]...)
	switch {
	case inserted:
		b.SetLabels(i, out)
	case replaced:
		copy(ls, out) // same names: edit in place
	}
	sc.labels = out[:0]
}

// appendKey appends the key of ls (the values of names, each followed by
// keySep) to buf; false when a key label is missing or empty.
func appendKey(buf []byte, ls []batch.Label, names []string) ([]byte, bool) {
	for _, n := range names {
		v := batch.Get(ls, n)
		if v == "" {
			return buf, false
		}
		buf = append(buf, v...)
		buf = append(buf, keySep)
	}
	return buf, true
}

func resetDrop(d []bool, n int) []bool {
	if cap(d) < n {
		d = make([]bool, n)
	}
	d = d[:n]
	clear(d)
	return d
}
