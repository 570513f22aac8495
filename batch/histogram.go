package batch

// Histogram is a Prometheus native histogram with integer counts (the
// remote write 1.0 Histogram message): exponential buckets of base
// 2^(2^-Schema), bucket i covering (base^(i-1), base^i], a zero bucket
// [-ZeroThreshold, ZeroThreshold], and the buckets in use described by
// spans and delta-encoded counts, as in prompb.
type Histogram struct {
	Count         uint64
	Sum           float64
	Schema        int32
	ZeroThreshold float64
	ZeroCount     uint64
	// Gauge marks a gauge histogram (each sample independent, e.g. one
	// window's observations), as opposed to a cumulative counter.
	Gauge                          bool
	NegativeSpans, PositiveSpans   []Span
	NegativeDeltas, PositiveDeltas []int64 // first: a count; then differences to the previous bucket
}

// Span is a run of consecutive buckets: Offset is the gap to the previous
// span's end (for the first span, the index of its first bucket).
type Span struct {
	Offset int32
	Length uint32
}

// AppendHistogramSeries appends a series with one native histogram sample
// at ts, copying h's spans and deltas into b's arenas. The series also
// carries a float sample (ts, v), its stand-in wherever a stage handles
// floats only (routing, sample counts, value-as-sample rollups); see the
// package doc.
func (b *Batch) AppendHistogramSeries(labels []Label, ts int64, v float64, h *Histogram) {
	b.StartSeries()
	b.labels = append(b.labels, labels...)
	b.samples = append(b.samples, Sample{Timestamp: ts, Value: v})
	hc := *h
	hc.NegativeSpans = b.copySpans(h.NegativeSpans)
	hc.PositiveSpans = b.copySpans(h.PositiveSpans)
	hc.NegativeDeltas = b.copyDeltas(h.NegativeDeltas)
	hc.PositiveDeltas = b.copyDeltas(h.PositiveDeltas)
	start := len(b.hists)
	b.hists = append(b.hists, hc)
	ls := b.labels[b.labelStart:len(b.labels):len(b.labels)]
	ss := b.samples[b.sampleStart:len(b.samples):len(b.samples)]
	b.Series = append(b.Series, Series{Labels: ls, Samples: ss, Histograms: b.hists[start:len(b.hists):len(b.hists)]})
}

func (b *Batch) copySpans(s []Span) []Span {
	if len(s) == 0 {
		return nil
	}
	start := len(b.spans)
	b.spans = append(b.spans, s...)
	return b.spans[start:len(b.spans):len(b.spans)]
}

func (b *Batch) copyDeltas(d []int64) []int64 {
	if len(d) == 0 {
		return nil
	}
	start := len(b.deltas)
	b.deltas = append(b.deltas, d...)
	return b.deltas[start:len(b.deltas):len(b.deltas)]
}
