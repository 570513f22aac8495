package derive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// anomalyState is the history of every result series of one anomaly
// record, keyed by its labels without __name__ (see appendKey).
type anomalyState struct {
	p         anomalyParams
	series    map[string]*anomalyEntry
	lastSweep int64 // instant of the last sweep for forgotten series
}

// anomalyEntry is the exponentially weighted history of one series.
type anomalyEntry struct {
	mean, variance float64
	n              int64 // values folded in
	last           int64 // instant of the last value folded in (Unix ms)
}

// fold adds x at ts to the history (West's incremental EWMA).
func (e *anomalyEntry) fold(x, alpha float64, ts int64) {
	diff := x - e.mean
	incr := alpha * diff
	e.mean += incr
	e.variance = (1 - alpha) * (e.variance + diff*incr)
	e.n++
	e.last = ts
}

// score replaces the results of an anomaly record at ts by their scores
// against their histories before ts and folds them in. Results that are
// not scored (too little history, zero variance, not finite) are left
// out. vec is reused.
func (d *Deriver) score(r *record, ts int64, vec promql.Vector) promql.Vector {
	st := r.anomaly
	if ts-st.lastSweep >= max(st.p.forget/4, 1) {
		d.anomalySeries -= st.sweep(ts)
	}
	n, full, outOfOrder := 0, 0, 0
	for i := range vec {
		x := vec[i].F
		if !isFinite(x) {
			continue // neither scored nor folded: NaN would poison the history
		}
		d.keyBuf = appendKey(d.keyBuf[:0], vec[i].Metric)
		e := st.series[string(d.keyBuf)]
		switch {
		case e == nil:
			if d.anomalySeries >= d.maxAnomaly {
				d.sweepAll(ts)
			}
			if d.anomalySeries >= d.maxAnomaly {
				full++
				continue
			}
			d.anomalySeries++
			st.series[string(d.keyBuf)] = &anomalyEntry{mean: x, n: 1, last: ts}
			continue
		case ts-e.last > st.p.forget:
			*e = anomalyEntry{mean: x, n: 1, last: ts} // forgotten: a new history
			continue
		case ts <= e.last:
			outOfOrder++
			continue
		}
		if e.n >= int64(st.p.minHistory) && e.variance > 0 {
			vec[n] = vec[i]
			vec[n].F = (x - e.mean) / math.Sqrt(e.variance)
			n++
		}
		e.fold(x, st.p.alpha, ts)
	}
	clear(vec[n:])
	d.metrics.drop(reasonAnomalyOutOfOrder, outOfOrder)
	if full > 0 {
		d.metrics.drop(reasonAnomalySeriesLimit, full)
		if ok, sup := d.throttle.Allow(len(d.records)+kindAnomalyLimit, time.Now()); ok {
			d.logger.Warn("derive: too many anomaly series; new series are not scored",
				"record", r.name, "limit", d.maxAnomaly, "dropped", full, "suppressed", sup)
		}
	}
	return vec[:n]
}

// isFinite reports whether v is neither NaN nor ±Inf.
func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// sweep forgets the series last seen more than forget before ts.
func (st *anomalyState) sweep(ts int64) int {
	st.lastSweep = ts
	n := 0
	for k, e := range st.series {
		if ts-e.last > st.p.forget {
			delete(st.series, k)
			n++
		}
	}
	return n
}

func (d *Deriver) sweepAll(ts int64) {
	for _, r := range d.records {
		if r.anomaly != nil {
			d.anomalySeries -= r.anomaly.sweep(ts)
		}
	}
}

// appendKey appends the key of ls in an anomaly history: every label but
// __name__ as uvarint length and bytes of name, then of value.
func appendKey(dst []byte, ls labels.Labels) []byte {
	ls.Range(func(l labels.Label) {
		if l.Name == labels.MetricName {
			return
		}
		dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
		dst = append(dst, l.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(l.Value)))
		dst = append(dst, l.Value...)
	})
	return dst
}

// validKey reports whether k is a sequence of name/value pairs as
// appendKey writes them.
func validKey(k []byte) bool {
	n := 0
	for ; len(k) > 0; n++ {
		l, w := binary.Uvarint(k)
		if w <= 0 || l > uint64(len(k)-w) {
			return false
		}
		k = k[w+int(l):]
	}
	return n%2 == 0
}

// State format (see the package doc).
const stateVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendState appends the anomaly histories of every anomaly record to
// dst, each tagged with its record's name and fingerprint, and returns
// the extended slice. Series are in key order, so equal state encodes
// equally. It waits for a running Evaluate.
func (d *Deriver) AppendState(dst []byte) []byte {
	d.evalMu.Lock()
	defer d.evalMu.Unlock()
	start := len(dst)
	dst = append(dst, stateVersion)
	n := 0
	for _, r := range d.records {
		if r.anomaly != nil {
			n++
		}
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	var keys []string
	for _, r := range d.records {
		st := r.anomaly
		if st == nil {
			continue
		}
		dst = appendString(dst, r.name)
		dst = append(dst, r.fp[:]...)
		keys = keys[:0]
		for k := range st.series {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = binary.AppendUvarint(dst, uint64(len(keys)))
		for _, k := range keys {
			e := st.series[k]
			dst = appendString(dst, k)
			dst = binary.AppendUvarint(dst, uint64(e.n))
			dst = binary.AppendVarint(dst, e.last)
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(e.mean))
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(e.variance))
		}
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// errDamaged is wrapped by every error of RestoreState about its input.
var errDamaged = errors.New("damaged derive state")

// RestoreState loads state written by AppendState (of this or another
// Deriver, e.g. before a reload or restart). The history of each anomaly
// record of d whose name and fingerprint match a saved one is replaced by
// the saved one; other records keep theirs, saved records that d does not
// have (or has changed) are ignored. Series beyond MaxAnomalySeries are
// dropped and counted. A payload that does not parse or whose checksum
// does not match is an error that wraps errDamaged, and d is unchanged.
func (d *Deriver) RestoreState(data []byte) error {
	saved, err := parseState(data)
	if err != nil {
		return err
	}
	d.evalMu.Lock()
	defer d.evalMu.Unlock()
	for _, r := range d.records {
		if r.anomaly == nil {
			continue
		}
		s, ok := saved[r.name]
		if !ok || s.fp != r.fp {
			continue
		}
		d.anomalySeries -= len(r.anomaly.series)
		r.anomaly.series = make(map[string]*anomalyEntry, len(s.series))
		r.anomaly.lastSweep = 0
		dropped := 0
		for _, kv := range s.series {
			if d.anomalySeries >= d.maxAnomaly {
				dropped++
				continue
			}
			r.anomaly.series[kv.key] = kv.e
			d.anomalySeries++
		}
		d.metrics.drop(reasonAnomalySeriesLimit, dropped)
		if r.m.anomaly != nil {
			r.m.anomaly.Set(float64(len(r.anomaly.series)))
		}
	}
	return nil
}

type savedRecord struct {
	fp     [32]byte
	series []savedSeries
}

type savedSeries struct {
	key string
	e   *anomalyEntry
}

func parseState(data []byte) (map[string]*savedRecord, error) {
	if len(data) < 1+1+4 {
		return nil, fmt.Errorf("%w: %d bytes, too short", errDamaged, len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", errDamaged)
	}
	if body[0] != stateVersion {
		return nil, fmt.Errorf("%w: unknown version %d", errDamaged, body[0])
	}
	r := stateReader{p: body[1:]}
	nrec := r.count(1 + 32 + 1)
	out := make(map[string]*savedRecord, nrec)
	for range nrec {
		name := r.str()
		s := &savedRecord{}
		copy(s.fp[:], r.bytes(32))
		nser := r.count(1 + 1 + 1 + 16)
		if r.err != nil {
			break
		}
		s.series = make([]savedSeries, 0, nser)
		for range nser {
			key := r.str()
			n := r.uvarint()
			last := r.varint()
			mean := math.Float64frombits(r.uint64())
			variance := math.Float64frombits(r.uint64())
			if r.err != nil {
				break
			}
			if !validKey([]byte(key)) || n < 1 || n > math.MaxInt64 || !isFinite(mean) || !isFinite(variance) || variance < 0 {
				r.fail("bad series of record %q", name)
				break
			}
			s.series = append(s.series, savedSeries{key, &anomalyEntry{mean: mean, variance: variance, n: int64(n), last: last}})
		}
		if _, dup := out[name]; dup && r.err == nil {
			r.fail("record %q twice", name)
		}
		out[name] = s
	}
	if r.err == nil && len(r.p) > 0 {
		r.fail("%d bytes after the last record", len(r.p))
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// stateReader decodes a state payload; the first problem sticks in err
// and makes every later read return zero values.
type stateReader struct {
	p   []byte
	err error
}

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errDamaged, fmt.Sprintf(format, args...))
	}
	r.p = nil
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, w := binary.Uvarint(r.p)
	if w <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.p = r.p[w:]
	return v
}

func (r *stateReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, w := binary.Varint(r.p)
	if w <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.p = r.p[w:]
	return v
}

// count reads a count of items of at least minSize bytes each, checking
// that they can fit in what is left (so a damaged count cannot make the
// reader allocate much).
func (r *stateReader) count(minSize int) int {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.p)/minSize) {
		r.fail("count %d larger than the payload", n)
		return 0
	}
	return int(n)
}

func (r *stateReader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.p) {
		r.fail("cut short")
		return nil
	}
	b := r.p[:n]
	r.p = r.p[n:]
	return b
}

func (r *stateReader) str() string {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.p)) {
		r.fail("cut short")
		return ""
	}
	return string(r.bytes(int(n)))
}

func (r *stateReader) uint64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}
