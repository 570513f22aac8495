package batch

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// MetricName is the label that holds a series' metric name.
const MetricName = "__name__"

// Label is one name/value pair of a series.
type Label struct {
	Name, Value string
}

// Sample is one value at one time. Timestamp is in Unix milliseconds.
type Sample struct {
	Timestamp int64
	Value     float64
}

// Series is one time series and its samples in this batch.
type Series struct {
	Labels  []Label  // sorted by name, unique names
	Samples []Sample // in received order
	// Histograms, when not nil, makes this a native histogram series:
	// Histograms[i] is the sample at Samples[i].Timestamp, and
	// Samples[i].Value only its float stand-in (see the package doc).
	Histograms []Histogram
	// Ident, when not zero, identifies the labels as the decoder read
	// them off the wire; see Ident.
	Ident Ident
	// Wire, when not empty, is the wire encoding of the labels, which the
	// decoder left undecoded (Labels nil) because the batch's IdentIndex
	// knows the series: LoadLabels decodes them.
	Wire string
}

// Ident identifies a series by the wire bytes its labels were decoded
// from: 128 bits of hash of those bytes (hash/maphash under two seeds of
// the process: faster than xxhash on wire-length inputs). A decoder sets it (SetIdent) only where the labels are one
// contiguous run of bytes that decodes the same way every time, so that
// two series with the same Ident have the same labels as decoded, before
// any stage edits them. It lets a stage that remembers what it did with a
// series (the pipeline's route cache) recognise the series before it even
// looks at the labels. The zero Ident means none. Idents are never stable
// across processes: they must not be stored or sent.
type Ident struct{ Hash, Check uint64 }

// identSeeds key the two halves of every Ident; one pair per process.
var identSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// IdentOf returns the Ident of labels encoded as raw (not empty).
func IdentOf(raw []byte) Ident {
	return Ident{Hash: maphash.Bytes(identSeeds[0], raw), Check: maphash.Bytes(identSeeds[1], raw)}
}

// Get returns the value of the label called name, or "" when absent.
func (s *Series) Get(name string) string {
	return Get(s.Labels, name)
}

// Get returns the value of the label called name in ls, or "" when absent.
func Get(ls []Label, name string) string {
	for i := range ls {
		if ls[i].Name == name {
			return ls[i].Value
		}
	}
	return ""
}

// Batch is a reusable set of series. See the package doc for ownership.
type Batch struct {
	Series []Series

	labels  []Label
	samples []Sample
	bytes   []byte
	hists   []Histogram // native histogram samples (AppendHistogramSeries)
	spans   []Span
	deltas  []int64

	// Open series under construction (StartSeries..FinishSeries).
	labelStart, sampleStart int
	ident                   Ident

	index       IdentIndex                             // SetIdentIndex
	wireDecoder func(wire string, dst []Label) []Label // FinishWireSeries
	deferred    int                                    // series with Wire
}

// IdentIndex is a stage that keeps state per series by Ident (the
// pipeline's route cache), as a decoder of a batch sees it. The decoder
// first asks Prefetch for every series of a request, then Known for each
// as it decodes it, so that the cache misses of Known overlap.
type IdentIndex interface {
	// Prefetch asks the CPU for the memory Known(id) reads.
	Prefetch(id Ident)
	// Known reports whether the stage needs none of the series' labels
	// to take it: the decoder may then leave them undecoded and
	// unvalidated (FinishWireSeries). The stage learnt the series from the
	// same bytes, which were valid then and, the limits being fixed for
	// the life of the process, are valid now.
	Known(id Ident) bool
}

// SetIdentIndex gives the decoder of b the index of the stage b goes to,
// until Reset.
func (b *Batch) SetIdentIndex(ix IdentIndex) { b.index = ix }

// IdentIndex returns the index SetIdentIndex gave, or nil.
func (b *Batch) IdentIndex() IdentIndex { return b.index }

// FinishWireSeries closes the open series like FinishSeries but without
// its labels: wire is their wire encoding (aliasing b's arena, or any
// string that outlives b) and decode the decoder's function that appends
// them to dst, which LoadLabels calls.
func (b *Batch) FinishWireSeries(wire string, decode func(wire string, dst []Label) []Label) {
	b.labels = b.labels[:b.labelStart]
	ss := b.samples[b.sampleStart:len(b.samples):len(b.samples)]
	b.Series = append(b.Series, Series{Samples: ss, Ident: b.ident, Wire: wire})
	b.wireDecoder = decode
	b.deferred++
}

// Deferred reports whether some series of b may have their labels in
// Wire (see LoadLabels).
func (b *Batch) Deferred() bool { return b.deferred > 0 }

// LoadLabels returns the labels of series i, decoding them first if the
// decoder left them in Wire.
func (b *Batch) LoadLabels(i int) []Label {
	s := &b.Series[i]
	if s.Wire != "" {
		start := len(b.labels)
		b.labels = b.wireDecoder(s.Wire, b.labels)
		ls := b.labels[start:len(b.labels):len(b.labels)]
		SortLabels(ls)
		s.Labels, s.Wire = ls, ""
	}
	return s.Labels
}

// LoadAllLabels decodes the labels of every series that has them in Wire.
func (b *Batch) LoadAllLabels() {
	if b.deferred == 0 {
		return
	}
	for i := range b.Series {
		b.LoadLabels(i)
	}
	b.deferred = 0
}

// Reset empties b and keeps its arenas for reuse. Strings handed out by
// b (through its series) become invalid.
func (b *Batch) Reset() {
	clear(b.Series) // drop references into arenas of earlier requests
	b.Series = b.Series[:0]
	clear(b.labels)
	b.labels = b.labels[:0]
	b.samples = b.samples[:0]
	b.bytes = b.bytes[:0]
	b.hists = b.hists[:0]
	b.spans = b.spans[:0]
	b.deltas = b.deltas[:0]
	b.index, b.wireDecoder, b.deferred = nil, nil, 0
}

// Len returns the number of series.
func (b *Batch) Len() int { return len(b.Series) }

// SampleCount returns the number of samples over all series.
func (b *Batch) SampleCount() int {
	n := 0
	for i := range b.Series {
		n += len(b.Series[i].Samples)
	}
	return n
}

// Bytes returns a byte arena of n bytes owned by b, valid until Reset. A
// decoder may copy wire data into it and alias strings over it.
func (b *Batch) Bytes(n int) []byte {
	start := len(b.bytes)
	b.bytes = slices.Grow(b.bytes, n)[:start+n]
	return b.bytes[start : start+n : start+n]
}

// StartSeries begins a new series; add labels and samples, then FinishSeries.
func (b *Batch) StartSeries() {
	b.labelStart = len(b.labels)
	b.sampleStart = len(b.samples)
	b.ident = Ident{}
}

// SetIdent sets the Ident of the open series (see Ident for when a
// decoder may).
func (b *Batch) SetIdent(id Ident) { b.ident = id }

// AddLabel adds a label to the open series.
func (b *Batch) AddLabel(name, value string) {
	b.labels = append(b.labels, Label{Name: name, Value: value})
}

// AddSample adds a sample to the open series.
func (b *Batch) AddSample(ts int64, v float64) {
	b.samples = append(b.samples, Sample{Timestamp: ts, Value: v})
}

// FinishSeries closes the open series, sorting its labels by name. It
// returns false (and discards the series) when two labels share a name;
// the caller reports that as bad input.
func (b *Batch) FinishSeries() bool {
	ls := b.labels[b.labelStart:len(b.labels):len(b.labels)]
	if !SortLabels(ls) {
		b.labels = b.labels[:b.labelStart]
		b.samples = b.samples[:b.sampleStart]
		return false
	}
	ss := b.samples[b.sampleStart:len(b.samples):len(b.samples)]
	b.Series = append(b.Series, Series{Labels: ls, Samples: ss, Ident: b.ident})
	return true
}

// AbandonSeries discards the open series.
func (b *Batch) AbandonSeries() {
	b.labels = b.labels[:b.labelStart]
	b.samples = b.samples[:b.sampleStart]
}

// AppendSeries copies labels (which must be sorted and unique) and samples
// into b's arenas as a new series. Label strings are not copied.
func (b *Batch) AppendSeries(labels []Label, samples []Sample) {
	b.StartSeries()
	b.labels = append(b.labels, labels...)
	b.samples = append(b.samples, samples...)
	ls := b.labels[b.labelStart:len(b.labels):len(b.labels)]
	ss := b.samples[b.sampleStart:len(b.samples):len(b.samples)]
	b.Series = append(b.Series, Series{Labels: ls, Samples: ss})
}

// SetLabels replaces the labels of series i with ls (sorted and unique),
// copying ls into b's arena so the caller may reuse ls.
func (b *Batch) SetLabels(i int, ls []Label) {
	start := len(b.labels)
	b.labels = append(b.labels, ls...)
	b.Series[i].Labels = b.labels[start:len(b.labels):len(b.labels)]
}

// Filter keeps the series for which keep returns true, in order, in place,
// and returns how many samples were removed.
func (b *Batch) Filter(keep func(s *Series) bool) (removedSamples int) {
	n := 0
	for i := range b.Series {
		s := &b.Series[i]
		if keep(s) {
			if n != i {
				b.Series[n] = *s
			}
			n++
		} else {
			removedSamples += len(s.Samples)
		}
	}
	clear(b.Series[n:])
	b.Series = b.Series[:n]
	return removedSamples
}

// SortLabels sorts ls by name in place and reports whether names are unique.
func SortLabels(ls []Label) bool {
	sorted := true
	for i := 1; i < len(ls); i++ {
		a, b := ls[i-1].Name, ls[i].Name
		// Most neighbours differ in their first byte: decide without
		// calling the runtime's string comparison.
		if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
			if a[0] > b[0] {
				sorted = false
				break
			}
			continue
		}
		if a >= b {
			sorted = false
			break
		}
	}
	if !sorted {
		slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		for i := 1; i < len(ls); i++ {
			if ls[i-1].Name == ls[i].Name {
				return false
			}
		}
	}
	return true
}

// Hash returns the stable hash of ls; see the package doc.
func Hash(ls []Label) uint64 {
	var stack [256]byte // most label sets fit: hashing stays allocation-free
	h, _ := HashWithBuf(ls, stack[:0])
	return h
}

// Equal reports whether a and b hold the same labels in the same order.
func Equal(a, b []Label) bool {
	return slices.Equal(a, b)
}

// Clone copies ls into new memory with all names and values in one string,
// so the copy outlives the batch ls came from (two allocations in all).
func Clone(ls []Label) []Label {
	n := 0
	for _, l := range ls {
		n += len(l.Name) + len(l.Value)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, l := range ls {
		sb.WriteString(l.Name)
		sb.WriteString(l.Value)
	}
	s := sb.String()
	out := make([]Label, len(ls))
	off := 0
	for i, l := range ls {
		out[i].Name = s[off : off+len(l.Name)]
		off += len(l.Name)
		out[i].Value = s[off : off+len(l.Value)]
		off += len(l.Value)
	}
	return out
}

// HashWithBuf returns Hash(ls), using buf as scratch space to hash in one
// pass (faster than streaming for short label sets); it returns buf for
// reuse.
func HashWithBuf(ls []Label, buf []byte) (uint64, []byte) {
	buf = AppendHashInput(buf[:0], ls)
	return xxhash.Sum64(buf), buf
}

// AppendHashInput appends to buf the bytes Hash hashes for ls: each name
// and value followed by 0xff (a byte no UTF-8 string contains).
func AppendHashInput(buf []byte, ls []Label) []byte {
	for i := range ls {
		buf = append(buf, ls[i].Name...)
		buf = append(buf, 0xff)
		buf = append(buf, ls[i].Value...)
		buf = append(buf, 0xff)
	}
	return buf
}

// String formats ls like Prometheus: name{a="b", c="d"}.
func String(ls []Label) string {
	var sb strings.Builder
	name := Get(ls, MetricName)
	sb.WriteString(name)
	sb.WriteByte('{')
	first := true
	for _, l := range ls {
		if l.Name == MetricName {
			continue
		}
		if !first {
			sb.WriteString(", ")
		}
		first = false
		sb.WriteString(l.Name)
		sb.WriteString(`="`)
		sb.WriteString(strings.ReplaceAll(strings.ReplaceAll(l.Value, `\`, `\\`), `"`, `\"`))
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}

var pool = sync.Pool{New: func() any { return new(Batch) }}

// GetBatch returns an empty Batch from a pool.
func GetBatch() *Batch { return pool.Get().(*Batch) }

// PutBatch resets b and returns it to the pool; b must not be used after.
func PutBatch(b *Batch) {
	b.Reset()
	pool.Put(b)
}
