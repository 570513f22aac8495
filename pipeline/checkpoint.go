package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/checkpoint"
)

// Checkpoints configures the durability of aggregation state (package
// checkpoint): where the files live and how often the state is saved.
type Checkpoints struct {
	Dir      string
	Interval time.Duration // > 0
	Metrics  *CheckpointMetrics
}

// CheckpointMetrics are the premetrics_checkpoint_* metrics.
type CheckpointMetrics struct {
	writes      *prometheus.CounterVec // result
	lastSuccess prometheus.Gauge
	duration    prometheus.Gauge
	size        prometheus.Gauge
	restores    *prometheus.CounterVec // result
}

// NewCheckpointMetrics registers the checkpoint metrics with reg (when
// not nil).
func NewCheckpointMetrics(reg prometheus.Registerer) *CheckpointMetrics {
	m := &CheckpointMetrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_checkpoint_writes_total",
			Help: "Checkpoints of the aggregation state written, by result (success, failure).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "premetrics_checkpoint_last_success_timestamp_seconds",
			Help: "When the last checkpoint of the aggregation state was written.",
		}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "premetrics_checkpoint_duration_seconds",
			Help: "How long writing the last checkpoint took.",
		}),
		size: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "premetrics_checkpoint_size_bytes",
			Help: "Size of the last checkpoint written.",
		}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_checkpoint_restored_aggregations_total",
			Help: "Aggregations at startup by checkpoint result: restored, changed (definition differs, started empty), failed (unreadable, started empty), none (not in the checkpoint).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.writes, m.lastSuccess, m.duration, m.size, m.restores)
	}
	return m
}

// EnableCheckpoints turns checkpoints on, as Options.Checkpoints does; it
// must be called before Restore, Run and any Ingest.
func (p *Pipeline) EnableCheckpoints(c Checkpoints) { p.opts.Checkpoints = c }

func (p *Pipeline) checkpointMetrics() *CheckpointMetrics {
	if p.opts.Checkpoints.Metrics == nil {
		p.opts.Checkpoints.Metrics = NewCheckpointMetrics(nil)
	}
	return p.opts.Checkpoints.Metrics
}

// checkpointing reports whether the pipeline keeps checkpoints.
func (p *Pipeline) checkpointing() bool { return p.opts.Checkpoints.Dir != "" }

// Restore loads the aggregations' state from the checkpoint directory,
// before anything is ingested. An aggregation whose definition changed,
// or all of them when the file is damaged, start empty; this is logged
// and counted, never fatal. A first start (no file) restores nothing.
func (p *Pipeline) Restore(now time.Time) {
	if !p.checkpointing() {
		return
	}
	p.flush.Lock()
	defer p.flush.Unlock()
	m := p.checkpointMetrics()
	aggs := p.cur.Load().Aggregations
	dir := p.opts.Checkpoints.Dir
	state, err := checkpoint.Read(dir, checkpoint.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		m.restores.WithLabelValues("none").Add(float64(len(aggs)))
		return
	}
	if err != nil {
		p.log.Error("aggregation checkpoint unreadable: every aggregation starts empty", "err", err)
		m.restores.WithLabelValues("failed").Add(float64(len(aggs)))
		return
	}
	marks := map[string]int64{}
	if e, err := checkpoint.Read(dir, checkpoint.EmittedFile); err == nil {
		marks = e.Marks
	} else if !errors.Is(err, os.ErrNotExist) {
		// Without it, windows emitted after the state was saved could be
		// emitted again: refuse the state rather than risk that.
		p.log.Error("emitted-windows journal unreadable: every aggregation starts empty", "err", err)
		m.restores.WithLabelValues("failed").Add(float64(len(aggs)))
		return
	}
	sections := map[string]checkpoint.Section{}
	for _, s := range state.Sections {
		sections[s.Name] = s
	}
	p.restoreDerive(sections[deriveSection])
	for _, a := range aggs {
		s, ok := sections[a.Name()]
		if !ok {
			m.restores.WithLabelValues("none").Inc()
			continue
		}
		emitted := int64(math.MinInt64)
		if w, ok := marks[a.Name()]; ok {
			emitted = w
		}
		switch err := a.Restore(s, emitted, now); {
		case err == nil:
			m.restores.WithLabelValues("restored").Inc()
			p.log.Info("aggregation state restored from checkpoint", "aggregation", a.Name())
		case s.Fingerprint != a.Fingerprint():
			m.restores.WithLabelValues("changed").Inc()
			p.log.Warn("aggregation definition changed since the checkpoint: it starts empty", "aggregation", a.Name())
		default:
			m.restores.WithLabelValues("failed").Inc()
			p.log.Error("aggregation checkpoint not restored: it starts empty", "aggregation", a.Name(), "err", err)
		}
	}
}

// Checkpoint writes the state of every aggregation to the checkpoint
// directory. It waits for a running Flush or Swap; ingest goes on,
// blocked on one shard of one aggregation at a time.
func (p *Pipeline) Checkpoint(now time.Time) error {
	if !p.checkpointing() {
		return nil
	}
	p.flush.Lock()
	defer p.flush.Unlock()
	return p.checkpointLocked(now)
}

func (p *Pipeline) checkpointLocked(now time.Time) error {
	m := p.checkpointMetrics()
	began := time.Now()
	err := p.writeState(now)
	if err != nil {
		m.writes.WithLabelValues("failure").Inc()
		return err
	}
	m.writes.WithLabelValues("success").Inc()
	m.lastSuccess.SetToCurrentTime()
	m.duration.Set(time.Since(began).Seconds())
	return nil
}

func (p *Pipeline) writeState(now time.Time) error {
	dir := p.opts.Checkpoints.Dir
	w, err := checkpoint.Create(dir, checkpoint.StateFile)
	if err != nil {
		return err
	}
	st := p.cur.Load()
	for _, a := range st.Aggregations {
		if err := a.Checkpoint(w, now); err != nil {
			w.Abort()
			return fmt.Errorf("cannot checkpoint aggregation %s: %w", a.Name(), err)
		}
	}
	if d := st.Derive; d != nil {
		err := w.Section(deriveSection, checkpoint.Fingerprint{})
		if err == nil {
			err = w.Data(d.AppendState(nil))
		}
		if err != nil {
			w.Abort()
			return fmt.Errorf("cannot checkpoint the anomaly history of derive records: %w", err)
		}
	}
	if err := w.Commit(); err != nil {
		return err
	}
	if fi, err := os.Stat(w.Path()); err == nil {
		p.checkpointMetrics().size.Set(float64(fi.Size()))
	}
	return nil
}

// journalEmitted records, durably, the watermark each aggregation is
// about to reach in Flush(now, force), before any of its windows leave.
// The caller holds p.flush. A failure is logged and the flush goes on:
// the outputs are not held back, at the risk of a duplicate window after
// a crash.
func (p *Pipeline) journalEmitted(now time.Time, force bool) {
	if !p.checkpointing() {
		return
	}
	w, err := checkpoint.Create(p.opts.Checkpoints.Dir, checkpoint.EmittedFile)
	if err == nil {
		for _, a := range p.cur.Load().Aggregations {
			if err = w.Mark(a.Name(), a.Watermark(now, force)); err != nil {
				break
			}
		}
		if err == nil {
			err = w.Commit()
		} else {
			w.Abort()
		}
	}
	if err != nil {
		p.checkpointMetrics().writes.WithLabelValues("failure").Inc()
		p.log.Error("cannot record emitted windows: after a crash now, a window could be emitted twice", "err", err)
	}
}

// Shutdown ends the pipeline's windows at now, after ingest stopped.
// With checkpoints it emits the windows that are due and saves the rest,
// open windows included, so the next start continues them exactly;
// without, it emits every window that has ended (Flush with force), as
// its state would be lost.
func (p *Pipeline) Shutdown(ctx context.Context, now time.Time) error {
	if !p.checkpointing() {
		p.Flush(ctx, now, true)
		return nil
	}
	p.Flush(ctx, now, false)
	return p.Checkpoint(now)
}

// deriveSection names the checkpoint section of the derive records'
// anomaly history. Aggregation sections are named after aggregations; a
// name with a NUL byte is none of theirs.
const deriveSection = "\x00derive"

// restoreDerive restores the anomaly history of the derive records from
// their section (Name "": the checkpoint has none). The deriver keeps,
// record by record, only what a record of the same definition saved.
func (p *Pipeline) restoreDerive(s checkpoint.Section) {
	d := p.cur.Load().Derive
	if d == nil || s.Name == "" || len(s.Data) != 1 {
		return
	}
	if err := d.RestoreState(s.Data[0]); err != nil {
		p.log.Error("anomaly history of derive records not restored: they start afresh", "err", err)
		return
	}
	p.log.Info("anomaly history of derive records restored from checkpoint")
}
