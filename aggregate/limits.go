package aggregate

import (
	"sync/atomic"

	"github.com/premetrics/premetrics/batch"
)

// Cardinality budget (see doc.go): every aggregation tracks at most
// max_output_series groups, plus at most maxOverflowGroups overflow
// groups, and at most max_input_series entries in each per-input-series
// table (counter baselines, count_series memberships, dedup buckets).
const (
	// DefaultMaxOutputSeries is the default of max_output_series.
	DefaultMaxOutputSeries = 1_000_000
	// DefaultMaxInputSeries is the default of max_input_series.
	DefaultMaxInputSeries = 5_000_000
	// maxOverflowGroups bounds the overflow groups (one per metric name)
	// of an aggregation beyond max_output_series.
	maxOverflowGroups = 1000
	// OverflowLabel marks the overflow group of a metric:
	// {__name__="<metric>", premetrics_overflow="true"}.
	OverflowLabel = "premetrics_overflow"
)

// budget counts what an aggregation tracks across its shards. The counts
// are reserved before an entry is created, so they never exceed the limit.
type budget struct {
	maxGroups, maxSeries int64
	nGroups, nOverflow   atomic.Int64
	nCounters, nCounted  atomic.Int64
	nDedup               atomic.Int64
}

func reserve(c *atomic.Int64, limit int64) bool {
	if c.Add(1) > limit {
		c.Add(-1)
		return false
	}
	return true
}

// reserveGroup takes one group of the budget (of the overflow budget
// when overflow is set); false means the limit is reached.
func (b *budget) reserveGroup(overflow bool) bool {
	if overflow {
		return reserve(&b.nOverflow, maxOverflowGroups)
	}
	return reserve(&b.nGroups, b.maxGroups)
}

func (b *budget) releaseGroup(overflow bool) {
	if overflow {
		b.nOverflow.Add(-1)
	} else {
		b.nGroups.Add(-1)
	}
}

// overflowKey appends to dst the labels of the overflow group of key's
// metric.
func overflowKey(key, dst []batch.Label) []batch.Label {
	return append(dst,
		batch.Label{Name: batch.MetricName, Value: batch.Get(key, batch.MetricName)},
		batch.Label{Name: OverflowLabel, Value: "true"})
}
