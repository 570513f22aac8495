package derive

import (
	"context"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// instant is what the engine sees while evaluating one instant: one float
// sample per series, all at ts, the series of each metric name sorted by
// labels with unique label sets. It is a storage.Queryable (and its own
// Querier) for the Prometheus engine; the engine's lookback is 1 ms, and
// there is nothing else to look back to.
type instant struct {
	ts     int64
	byName map[string][]memSeries
}

// memSeries is one series at the instant: a storage.Series whose
// iterator yields its only sample.
type memSeries struct {
	lbls labels.Labels
	v    float64
	ts   int64
}

func (s *memSeries) Labels() labels.Labels { return s.lbls }

// Iterator yields the one sample of s, reusing it when it is an iterator
// this function returned before.
func (s *memSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if r, ok := it.(interface{ Reset(storage.Samples) }); ok {
		r.Reset(s)
		return it
	}
	return storage.NewListSeriesIterator(s)
}

// A memSeries is its own list of samples (storage.Samples) and its own
// only sample (chunks.Sample).
func (s *memSeries) Len() int                      { return 1 }
func (s *memSeries) Get(int) chunks.Sample         { return s }
func (s *memSeries) T() int64                      { return s.ts }
func (s *memSeries) ST() int64                     { return 0 }
func (s *memSeries) F() float64                    { return s.v }
func (s *memSeries) H() *histogram.Histogram       { return nil }
func (s *memSeries) FH() *histogram.FloatHistogram { return nil }
func (s *memSeries) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s *memSeries) Copy() chunks.Sample           { c := *s; return &c }

func (in *instant) Querier(int64, int64) (storage.Querier, error) { return in, nil }

// Select returns the series of the metric the equality matcher on
// __name__ names that match every matcher, sorted by labels.
func (in *instant) Select(_ context.Context, sortSeries bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var cand []memSeries
	named := false
	for _, m := range ms {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			cand, named = in.byName[m.Value], true
			break
		}
	}
	if !named {
		// Validate rejects such selectors; answer correctly anyway.
		for _, ss := range in.byName {
			cand = append(cand, ss...)
		}
		if sortSeries {
			slices.SortFunc(cand, func(a, b memSeries) int { return labels.Compare(a.lbls, b.lbls) })
		}
	}
	set := &seriesSet{i: -1}
	for i := range cand {
		if matchesAll(cand[i].lbls, ms) {
			set.series = append(set.series, &cand[i])
		}
	}
	return set
}

func matchesAll(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (in *instant) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (in *instant) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (in *instant) Close() error { return nil }

type seriesSet struct {
	series []*memSeries
	i      int
}

func (s *seriesSet) Next() bool {
	if s.i+1 >= len(s.series) {
		s.i = len(s.series)
		return false
	}
	s.i++
	return true
}

func (s *seriesSet) At() storage.Series                { return s.series[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }
