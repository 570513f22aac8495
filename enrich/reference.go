package enrich

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
)

// Kinds of an Enricher's throttled warnings.
const (
	warnRefresh = iota // a refresh failed
	warnInvalid        // a load found reference values that are not numbers
	warnKinds
)

// reference is the compiled `series:` of a Config.
type reference struct {
	interval time.Duration // series_interval; 0: no series
	cols     []string      // the distinct columns of series, in config order (columns.ref)
	series   []refSeries   // in config order
}

// refSeries is one entry of series: its column and a label template.
type refSeries struct {
	col    int           // index in reference.cols: the record's reference value
	labels []batch.Label // sorted: __name__, the key labels (values "", set per row), the constant labels
	keyAt  []int         // keyAt[i] is the index in labels of key label i
}

func newReference(c *Config) reference {
	if len(c.Series) == 0 {
		return reference{}
	}
	r := reference{interval: c.seriesInterval()}
	for _, s := range c.Series {
		col := slices.Index(r.cols, s.Column)
		if col < 0 {
			col = len(r.cols)
			r.cols = append(r.cols, s.Column)
		}
		ls := []batch.Label{{Name: batch.MetricName, Value: s.MetricName()}}
		for _, k := range c.Key {
			ls = append(ls, batch.Label{Name: k})
		}
		for _, n := range sortedKeys(s.Labels) {
			ls = append(ls, batch.Label{Name: n, Value: s.Labels[n]})
		}
		if !batch.SortLabels(ls) {
			panic("enrich: series labels clash; Validate first")
		}
		rs := refSeries{col: col, labels: ls}
		for _, k := range c.Key {
			rs.keyAt = append(rs.keyAt, slices.IndexFunc(ls, func(l batch.Label) bool { return l.Name == k }))
		}
		r.series = append(r.series, rs)
	}
	return r
}

// refSeriesCount returns how many series of the given entries t holds:
// per entry, the rows with a number in its column.
func (t *Table) refSeriesCount(series []refSeries) int {
	n := 0
	for _, s := range series {
		if s.col < len(t.ref.valid) {
			n += t.ref.valid[s.col]
		}
	}
	return n
}

// loadedReference updates the reference metrics for a new snapshot t,
// warns (throttled) about values that are not numbers, and returns the
// attributes of the "loaded" log line.
func (e *Enricher) loadedReference(t *Table) []any {
	n := t.refSeriesCount(e.ref.series)
	e.m.refSeries.Set(float64(n))
	attrs := []any{"reference_series", n}
	invalid := 0
	var detail []string
	for i, col := range e.ref.cols {
		k := t.ref.invalid[i]
		if k == 0 {
			continue
		}
		e.m.refInvalid[i].Add(float64(k))
		invalid += k
		detail = append(detail, fmt.Sprintf("%s: %d rows, the first %s", col, k, t.ref.example[i]))
	}
	if invalid == 0 {
		return attrs
	}
	attrs = append(attrs, "reference_invalid_values", invalid)
	if ok, suppressed := e.warn.Allow(warnInvalid, time.Now()); ok {
		e.log.Warn("enrichment table has series values that are not numbers (or are empty): those rows emit no reference series",
			"invalid", strings.Join(detail, "; "), "suppressed", suppressed)
	}
	return attrs
}

// ReferenceInterval returns how often the table's reference series are
// emitted (series_interval); 0 for a table without series.
func (e *Enricher) ReferenceInterval() time.Duration { return e.ref.interval }

// NextReference returns when the reference series are due next: a
// series_interval after the last emission claimed (Reference), or the
// zero time before the first one (due at once). ok is false for a table
// without series.
func (e *Enricher) NextReference() (next time.Time, ok bool) {
	if e.ref.interval == 0 {
		return time.Time{}, false
	}
	if ns := e.refNext.Load(); ns != 0 {
		return time.Unix(0, ns), true
	}
	return time.Time{}, true
}

// ReferenceDue reports whether the reference series are due at now.
func (e *Enricher) ReferenceDue(now time.Time) bool {
	next, ok := e.NextReference()
	return ok && !now.Before(next)
}

// Reference claims the emission of the reference series due at now. It
// returns nil when none is due (ReferenceDue), and when the table has no
// snapshot yet (that emission is skipped: the next is due a
// series_interval later). Otherwise the next emission is scheduled a
// series_interval after this one was due (later if now is past that),
// and the returned Reference holds the snapshot in use and now as the
// samples' timestamp: a refresh meanwhile does not change what it emits.
// Of concurrent claims of one emission, one gets it.
func (e *Enricher) Reference(now time.Time) *Reference {
	iv := int64(e.ref.interval)
	if iv == 0 {
		return nil
	}
	due, ns := e.refNext.Load(), now.UnixNano()
	if due != 0 && ns < due {
		return nil
	}
	next := due + iv
	if due == 0 || next <= ns {
		next = ns + iv
	}
	if !e.refNext.CompareAndSwap(due, next) {
		return nil
	}
	t := e.table.Load()
	if t == nil {
		return nil
	}
	return &Reference{e: e, t: t, ts: now.UnixMilli()}
}

// Reference is one emission of a table's reference series (from
// Enricher.Reference).
type Reference struct {
	e  *Enricher
	t  *Table
	ts int64 // Unix ms
}

// Series returns the number of series the emission holds.
func (r *Reference) Series() int { return r.t.refSeriesCount(r.e.ref.series) }

// Emit builds the emission's series, in source row order and, per row, in
// series order, with one sample each (the column's value at the claimed
// time), into batches of at most chunk series (chunk <= 0: one batch),
// and hands each batch to fn. The batch and its strings are valid only
// during fn (label values alias the immutable snapshot, which stays alive
// while they are referenced; fn must not keep the batch). Emit stops at
// the first error of fn and returns it; samples is how many were handed
// to fn without error, which it adds to
// premetrics_enrich_reference_samples_total. Emit allocates a little per
// call, nothing per row.
func (r *Reference) Emit(chunk int, fn func(part *batch.Batch) error) (samples int, err error) {
	e, t := r.e, r.t
	if chunk <= 0 {
		chunk = math.MaxInt
	}
	part := batch.GetBatch()
	defer batch.PutBatch(part)
	keyVals := make([]string, len(e.key))
	var labels []batch.Label
	sample := []batch.Sample{{Timestamp: r.ts}}
	send := func() error {
		n := part.Len()
		if err := fn(part); err != nil {
			return err
		}
		samples += n
		part.Reset()
		return nil
	}
	t.eachRecord(func(key []byte, vals int) bool {
		splitKey(key, keyVals)
		for i := range e.ref.series {
			s := &e.ref.series[i]
			v := t.refValue(vals, s.col)
			if math.IsNaN(v) {
				continue
			}
			labels = append(labels[:0], s.labels...)
			for k, at := range s.keyAt {
				labels[at].Value = keyVals[k]
			}
			sample[0].Value = v
			part.AppendSeries(labels, sample)
			if part.Len() >= chunk {
				if err = send(); err != nil {
					return false
				}
			}
		}
		return true
	})
	if err == nil && part.Len() > 0 {
		err = send()
	}
	if samples > 0 {
		e.m.refSamples.Add(float64(samples))
	}
	return samples, err
}

// splitKey sets out to the values of key (each followed by keySep), as
// strings over key's bytes: key must be immutable (a snapshot's records)
// and hold len(out) non-empty values.
func splitKey(key []byte, out []string) {
	for i := range out {
		j := bytes.IndexByte(key, keySep)
		out[i] = unsafe.String(&key[0], j)
		key = key[j+1:]
	}
}
