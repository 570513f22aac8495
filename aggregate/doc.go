// Package aggregate implements premetrics' event-time stream aggregation:
// one Aggregator per entry of the `aggregations:` config list. It owns the
// window state of that aggregation and nothing else.
//
// # Windows
//
// Windows are tumbling and aligned to the Unix epoch: a sample at t (Unix
// ms) belongs to [floor(t/I)*I, +I), where I is the interval. Several
// windows may be open at once. Every output sample is stamped with its
// window's end.
//
//	event time ─►  [  W1  )[  W2  )[  W3  )
//	wall clock ─►        ^end1   ^end1+lateness: Flush emits W1 once;
//	                              from then on W1's samples are late
//
// A window is emitted exactly once, by the first Flush(now) with
// end + lateness <= now (or end <= now with force, at shutdown). Push
// counts a sample as late, and drops it, when its window was emitted
// already or when end + lateness < now; a per-shard watermark, raised by
// Flush under the shard lock, guarantees that an emitted window is never
// re-created. Samples with t > now + max_future_skew are rejected. Stale
// markers are not data: they are skipped and counted.
//
// # Groups and output names
//
// Matched series (rules.Selector; samples failing its comparison are
// skipped, the series still counts as matched) are relabeled by
// input_relabel_configs into a scratch copy, then grouped: `by` keeps
// __name__ plus the by labels, `without` keeps all labels but the listed
// ones, neither keeps only __name__. Each metric name is its own group.
// Output names are
//
//	<metric>:<interval>[_by_<by, sorted, joined by _>|_without_<...>]_<output>
//
// (vehicle_rpm:1m_by_region_avg), or the input name with
// keep_metric_names. quantiles emits one series per φ with
// quantile="<φ>". output_relabel_configs apply to output labels; an output
// they drop is not emitted.
//
// # Outputs
//
// sum_samples (compensated sum), count_samples, count_series (distinct
// input series, by hash of their labels after input relabeling), min,
// max, avg, first and last (smallest / greatest timestamp; ties: first
// arrival for first, last arrival for last), stddev and stdvar
// (population, Welford), unique_samples (distinct values; all NaNs are one
// value, 0 and -0 are one value), quantiles(φ...) (a DDSketch-style sketch
// with 1% relative error, see sketch), and the counter outputs below. A
// group emits nothing for a window in which it aggregated no sample.
//
// Counter outputs (total, increase, rate_sum, rate_avg) keep, per input
// series, the previous sample as baseline across windows. A later sample
// contributes delta = v - prev (or v after a reset, v < prev) to the
// window of the later sample. The first sample of a series only sets the
// baseline, so a new series never spikes. Samples not after the baseline
// are skipped for counter outputs and counted (counter_out_of_order);
// when every output is a counter output they are not aggregated at all.
// NaN values are ignored by counter outputs in the same way, uncounted.
//
//	increase  sum of the group's deltas in the window (0 when it only has baselines)
//	total     running sum of increase over the group's windows while the group
//	          lives; emitted only for windows where the group had samples
//	rate_sum  Σ over series with a delta: Σdelta / ((last ts − baseline ts) / 1s)
//	rate_avg  mean of the same per-series rates
//
// rate_sum and rate_avg emit nothing for a window in which no series had
// a delta. Baselines and groups are forgotten (and total restarts from 0)
// at the first Flush after staleness_interval without samples. Input
// series are identified by the 64-bit batch.Hash of their labels: two
// series with colliding hashes would share a baseline (probability about
// n²/2^65 for n series). Groups compare labels and never collide.
//
// # State and concurrency
//
// State is split in 64 shards by group hash, each with its own mutex,
// padded against false sharing. A shard holds its groups, the counter
// baselines of their input series, and its open windows; a window holds
// one state per group with a sample in it:
//
//	shard ─┬─ groups  map[hash]*group  (labels, output names: immutable)
//	       ├─ series  map[hash]baseline (counter outputs only)
//	       └─ windows [start → []*winState] ── winState: []float64 slots
//	                                           laid out for the configured
//	                                           outputs (+ sets, sketch, rates)
//
// Push locks one shard per series. Flush takes closed windows out of each
// shard with a slice move under the lock, builds outputs without any
// shard lock, then returns the states to a per-shard free list, so
// steady-state Push does not allocate, also across window turnover.
// Concurrent Flush calls are serialized.
//
// # Memory ownership
//
// Push does not modify or retain the batch: a new group clones its label
// strings once (one allocation for all of them). Flush appends outputs to
// the caller's batch; their label strings are owned by the aggregator and
// never modified, so they stay valid after the batch is reset.
//
// # Metrics
//
// premetrics_aggregate_{input,late,output}_samples_total{aggregation},
// premetrics_aggregate_rejected_samples_total{aggregation,reason} with
// reason too_far_in_future, stale_marker, counter_out_of_order,
// premetrics_aggregate_series{aggregation} (groups plus input series
// with a counter baseline, as of the last Flush), and
// premetrics_aggregate_flush_duration_seconds{aggregation} (per Flush that
// emitted a window). When the aggregation consumes its input
// (keep_input: false), late and too-far-in-future samples are also added
// to premetrics_dropped_samples_total{stage="aggregate",reason="late"|"too_far_in_future"}.
package aggregate
