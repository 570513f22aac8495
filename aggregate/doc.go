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
// with 1.08% relative error, see sketch), histogram[(schema)] (a
// Prometheus native gauge histogram of the window's samples), and the
// counter outputs below. A group emits nothing for a window in which it
// aggregated no sample.
//
// histogram is the quantile sketch itself, whose buckets are those of a
// native histogram of schema 5 (base 2^(1/32)): emitted at schema s (3
// without one: buckets 9% wide; from -4 to 5), sketch bucket k counts in
// bucket ⌈k/2^(5−s)⌉, which contains it, so every sample is in the bucket
// Prometheus would put it in. Count is the number of non-NaN samples, sum
// their compensated sum (NaN makes it NaN), the zero bucket holds |v| <
// 2^-1022, and ±Inf count in the bucket of ±MaxFloat64. The series also
// carries the mean as a float stand-in (see package batch), which is what
// a downstream output that takes values sees. Remote write sends the
// histogram (Prometheus needs --enable-feature=native-histograms); a
// stale marker of a histogram series is a float staleness marker.
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
// a delta. Groups and counter baselines are forgotten (and total restarts
// from 0) at the first Flush after staleness_interval without samples
// (judged to the second: between staleness_interval and
// staleness_interval + 1s) that has no window of the group open and
// raises the watermark (a Flush at the same or an earlier time than the
// one before forgets no group, nor does one with force).
//
// # Group identity
//
// Input series are identified by the 64-bit batch.Hash of their labels: two series with colliding hashes would
// share a baseline and count once (probability about n²/2^65 for n
// series). Groups are identified by two independent hashes of their
// labels, both keyed with random seeds: the upper 32 bits of the placing
// hash, which the index entry and the group record both keep, and the
// 64-bit check in the record, 96 bits in all. Two group keys collide with
// probability about n²/2^97, 6×10^-16 for 10M groups, and nobody can
// construct a collision without the seeds. This replaces a label
// comparison on every sample, the largest single cost of Push before; the
// record keeps no more of the hash so that it fits in 24 bytes.
//
// # Routes
//
// Where a series goes depends on its labels and the aggregation's
// definition alone, so a caller that sees the same series again and
// again (package routecache, for the pipeline) may keep what Push found
// for it: a Route, either "the match selector rejects it" or the shard,
// group id and shard epoch of its group. PushRouted then skips the
// selector, the group key and hashes and the index lookup for the series,
// and goes straight to the group's record. A group id names another group
// only after its group was forgotten or the shard's groups were
// renumbered (sweep, compaction, a failed restore), and each of those
// advances the shard's epoch; a route from an earlier epoch is stale and
// the series is looked up by its hash again, getting a fresh route. A
// series that goes to an overflow group, or creates no group, gets none.
// With input_relabel_configs an aggregation takes no routes (Routable):
// its per-series state is keyed by the hash of the relabeled labels, not
// of the series' own.
//
// # Rollups
//
// An aggregation sees the outputs of those before it in config order
// (package pipeline): an output stamped with window end T enters the
// window containing T − 1 ms. Along with every output series, FlushRollup
// hands over the state of the group window it came from and which
// upstream output the series is (a Rollup). A series carries only the
// state of its own output: PushRollup folds it by merging that state
// where a downstream output needs it, and takes the series' value as one
// sample (as raw input) for the rest. The state each upstream output
// represents:
//
//	sum_samples    the compensated sum
//	count_samples  the count
//	avg            count and sum
//	stddev/stdvar  count, Welford mean and m2, and the sum as count × mean
//	               (not the upstream's sum accumulator: another output's)
//	min, max       the min / max
//	first, last    value and raw timestamp
//	increase/total the window's increase
//	quantiles      the sketch, for a downstream quantiles or histogram only
//	               (not the upstream's count, min or max accumulators)
//	histogram      the sketch (for a downstream quantiles or histogram),
//	               and count and sum (as avg)
//	count_series, unique_samples, rate_sum, rate_avg: nothing
//
// count_samples, sum_samples, avg, stddev and stdvar of one aggregation
// share the count: they merge only together, when the series represents
// every part this aggregation tracks of them (count; sum; mean and m2),
// and otherwise all take the value. So, for a downstream with only that
// output of the count unit (a downstream avg with count_samples and
// sum_samples needs count and sum, as avg alone; with stddev it needs
// mean and m2 too: exact only over stddev/stdvar series), downstream
// output × upstream series → exact (over the raw samples) or value:
//
//	downstream      exact over upstream series of        else
//	sum_samples     sum_samples, avg, histogram, stddev, stdvar     sum of the values
//	count_samples   count_samples, avg, histogram, stddev, stdvar   number of series windows
//	avg             avg, histogram, stddev, stdvar                  mean of the values
//	stddev, stdvar  stddev, stdvar                       of the values
//	min, max        min / max                            of the values
//	first, last     first / last (by raw timestamps)     by the series timestamps
//	increase, total increase, total                      counter over the values
//	quantiles       quantiles, histogram                 of the values
//	histogram       quantiles, histogram                 of the values
//	count_series, unique_samples, rate_sum, rate_avg: always the value
//	(rates as a counter sample, with baselines), as before rollups
//
// Merging is count += upstream count; compensated sum += upstream sum
// (and its compensation); avg = Σsum / Σcount, never a mean of means;
// a parallel Welford merge of (count, mean, m2) (Chan et al.); min and
// max of the upstream ones; first and last by the upstream's raw
// timestamps; increase += upstream increase (no baselines, no
// counter_out_of_order); total a running sum of those; merged sketches
// (the sketch of the union, equal quantiles). An exact output equals a
// direct aggregation of the raw samples at the downstream interval
// (floats up to rounding; first and last break ties between raw samples
// of different upstream groups at one timestamp by emit order, not
// arrival), when the downstream interval is a multiple of the upstream
// one and the upstream accepted the same samples: a sample late for the
// upstream window but not for the direct one is lost to the rollup, so
// give the upstream the lateness the data needs (and the downstream at
// least the upstream's).
//
// So which series a downstream aggregation matches matters: sum_samples
// over per-vehicle x:1m_last is the sum of the last values, whatever else
// the upstream tracks, and over x:1m_avg the sum of the raw samples; min
// over x:1m_avg is the minimum of the averages. A downstream matching
// several upstream outputs (a regex on __name__) folds each series with
// its own state, so x:1m_min and x:1m_max into one group give both the
// exact min and max.
//
// quantiles emits one series per φ under one name. Roll quantiles up by
// dropping the quantile label (by without it, or without: [quantile]):
// the φ series of one upstream group window then fall into one
// downstream group, and PushRollup folds that window once; the other φ
// series of that output are matched and consumed but add nothing, to any
// output (a value-taking output sees the first φ's value). (Kept, the
// quantile label makes each φ series a group of its own, and each gets
// the whole sketch.) Series of different upstream outputs are folded
// each. Stale markers carry no state and are skipped as any stale
// marker. All series of one group window are handed over in the same
// part, so a window is folded once however FlushRollup splits its
// output.
//
// # Deduplication
//
// With dedup_interval D (0 < D <= interval, whole milliseconds), the
// duplicates an HA pair sends (the same series from two replicas, made
// identical first by input_relabel_configs dropping the replica label)
// are collapsed before anything is aggregated, so a pair never counts
// twice. Per input series (identified like counter baselines, by the
// batch.Hash of its labels after input relabeling), event time is cut
// into buckets [k·D, (k+1)·D) aligned to the epoch. The first sample of
// the series that passes the stale-marker, comparison, future and
// lateness checks in a bucket is aggregated; every later sample of that
// series in the same or an earlier bucket is dropped, by every output,
// and counted in rejected_samples_total{reason="deduplicated"} (not in
// dropped_samples_total: a duplicate loses no data):
//
//	bucket  ─►  [ k )[ k+1 )[ k+2 )
//	replica a:   x      x      x       aggregated
//	replica b:    y      y  (late y of k+1, after a's k+2)  dropped
//
// Which replica's sample wins a bucket is whichever arrives first, so
// the pair should send equal values (the same scrape targets). Without
// dedup_interval nothing is looked up or hashed for it. The per-series
// bucket lives in the shard's dedup table and is forgotten after
// staleness_interval without samples, like a counter baseline; the next
// sample of the series is then accepted whatever its bucket.
//
// # Stale markers
//
// When a group is forgotten, the Flush that forgets it appends, after its
// outputs, one Prometheus stale marker (value.StaleNaN) for every output
// series the group emitted: one per output, one per φ of quantiles, under
// the output name (or the kept name with keep_metric_names) and after
// output_relabel_configs (an output they drop gets none); overflow groups
// alike. rate_sum and rate_avg get one only if the group ever emitted
// them. Markers are stamped with the watermark of that Flush, now −
// lateness:
//
//	last window end <= previous watermark < marker = watermark < any later window end
//
// so a marker comes after the last sample of its series and is never
// ahead of the flush clock, and a group that resumes (even with samples
// late within lateness) emits again from a window ending after its
// marker, as a new group: total restarts from 0, counters take a new
// baseline. A series gets exactly one marker per time its group is
// forgotten. Groups still alive at shutdown get none, as a Flush with
// force forgets no group (Prometheus ends their series after its
// lookback). A downstream aggregation consuming these
// outputs skips the markers as it skips any stale marker, and counts
// them in rejected_samples_total{reason="stale_marker"}: expected in a
// chain, at most the upstream's staleness_markers_total.
//
// # Cardinality budget
//
// Each aggregation tracks at most max_output_series groups (default
// 1,000,000) and at most max_input_series entries (default 5,000,000) in
// each of its per-input-series tables: counter baselines (counter
// outputs), count_series memberships and dedup buckets (dedup_interval). Nothing else grows with the
// input, so memory stays bounded when 10M distinct series are offered:
//
//   - A series whose group does not exist when max_output_series groups
//     do is aggregated into the overflow group of its metric,
//     {__name__="<metric>", premetrics_overflow="true"}, whose outputs are
//     named and relabeled like any other. Its samples are counted in
//     premetrics_aggregate_rejected_samples_total{reason="output_series_limit"}
//     (and in input_samples_total, as they are aggregated). Overflow groups
//     are groups too (they take part in staleness), but do not count
//     against max_output_series: up to 1,000 of them (one per metric name)
//     exist besides; a sample that would need one more is dropped, counted
//     with the same reason and, when the aggregation consumes its input,
//     in premetrics_dropped_samples_total{stage="aggregate",reason="output_series_limit"}.
//     Once groups are forgotten, new series get groups of their own again.
//   - A new input series that finds its table full is not tracked: it gets
//     no counter baseline (it contributes nothing to increase, total and
//     the rates; with only counter outputs its samples are not aggregated
//     at all), is not counted by count_series, and is not deduplicated
//     (each replica's samples are aggregated); every other output
//     aggregates its samples. Each such sample is counted once in
//     premetrics_aggregate_rejected_samples_total{reason="input_series_limit"}.
//     A series is tracked again once the table has room when it next
//     sends (baselines and dedup buckets are forgotten after
//     staleness_interval, memberships when their window closes).
//
// The limits are reserved atomically before an entry is created, so they
// hold exactly under concurrent Push. Memory, live Go heap, measured by
// BenchmarkStateMemory (1M vehicles, 10 s windows, two windows open):
//
//	per group, avg (2 slots × 4 words)  ~146 B   (record 40, index 12, labels ~25, slots 64, growth slack)
//	per group, last                     ~132 B
//	per group, quantiles                ~350 B   (a sketch per slot)
//	per counter baseline                 ~53 B   (32 B entries at 53–80% load)
//	per count_series membership          ~40 B   (24 B entries)
//	per dedup bucket                     ~40 B   (24 B entries; estimated from the entry size)
//	rate_sum / rate_avg, per series     +32 B per open window
//
// so the defaults bound one aggregation to about 0.15–0.35 GB of groups
// plus 0.5 GB of per-series tables (twice that in RSS with the Go
// collector's default headroom): a dozen aggregations at their limits fit
// a 24 GiB machine.
//
// # State and concurrency
//
// State is split in 64 shards by group hash, each with its own mutex,
// padded against false sharing. A shard holds its groups, the
// per-input-series state of their input series, and their window slots,
// all in flat slices and open-addressing tables of pointer-free entries
// (one allocation per structure, not per series):
//
//	shard ─┬─ groups   []groupRec: hashes, labels reference, lastSeen (24 B)
//	       ├─ labels   the groups' packed labels, back to back in one arena
//	       ├─ index    group hash → group id (8 B entries)
//	       ├─ slots    K per group: window number + layout words (avg: 4 words)
//	       │           + sketch / unique set / rate list per slot when configured
//	       ├─ extra    slots of groups with more than K open windows
//	       ├─ counters input series hash → baseline (32 B entries)
//	       ├─ counted  input series hash → last window + 64-window bitmap (24 B)
//	       └─ dedup    input series hash → last accepted bucket + lastSeen (24 B)
//
// K, the slots a group carries inline, is 1 + ⌈lateness / interval⌉,
// between 2 and 4: enough for in-order data; a group with more windows open
// (late or future samples) takes extra slots from a recycled pool. Labels
// are packed into one string per group: label names and low-cardinality
// values (at most 256 per name, 65,536 per table) are interned in the
// aggregation's symbol tables, other values stored inline. count_series
// keeps, per input series, its latest window and a bitmap of the 63 before
// it; memberships of windows that fall off the bitmap while still open go
// to a per-window spill set, so counting stays exact for any lateness.
// When fewer than a quarter of a shard's group ids are in use after a
// burst, Flush compacts them, tables shrink once mostly empty, and the
// label arena is rewritten once forgotten groups' labels fill most of it
// (the bytes of an arena are never changed, so labels already emitted
// stay valid). A shard's arena holds at most 4 GiB of labels; a group that
// would not fit is refused as over max_output_series.
//
// Push first computes the group key and hashes of every matched series,
// then aggregates them shard by shard, taking each shard's lock once per
// batch and prefetching the index, table and slot entries, group records
// and packed labels a few series ahead (package prefetch) once a shard holds
// a few hundred of them, so the cache misses of a large state overlap.
// Of the two group hashes, the one that places a group (shard, index) is
// xxhash of a random per-aggregation seed and the key, so a checkpoint
// that keeps the seed restores every group into the shard holding its
// input series' state; the check is the runtime's AES-based hash
// (hash/maphash, keyed per process), which never leaves it. Series that
// go to an overflow group are pushed after that, one shard lock at a
// time. Flush raises every shard's watermark, then, per due window and
// shard, computes the outputs' values under the shard lock, frees the
// slots (a sketch is swapped for an empty one), and builds the output
// series after unlocking; FlushEach hands them over in parts, built by
// GOMAXPROCS goroutines that take shards in turn (each with its own emit
// buffers), one window after the other. Steady-state
// Push does not allocate, also across window turnover: slots, sketches,
// sets and rate lists are reused. Concurrent Flush calls are serialized.
//
// # Checkpoints
//
// Checkpoint writes the state, one shard at a time under its lock (Push
// waits for that shard only), as one section of a checkpoint file (the
// format is in checkpoint.go; the file framing and checksums in package
// checkpoint): the placing seed, and per shard its watermark and clock,
// every group by its labels with its open window slots (accumulators,
// sketch, unique set, rate list), its running total and flags, and the
// counter baselines, count_series memberships and dedup buckets. Restore
// loads it into a new Aggregator whose Fingerprint (SHA-256 of its
// definition) is the same, re-creating each group through the normal
// path, and skips every window ending at or before the larger of the
// saved watermark and the emitted watermark it is given, so a window is
// never emitted twice. lastSeen counts from the saved clock, so staleness
// is judged as without the restart. A restored aggregation given the same
// samples from then on emits the same windows, markers and counter
// outputs as the one that was saved (TestCheckpointRestoreContinuesExactly).
//
// # Memory ownership
//
// Push does not modify or retain the batch: a new group copies its labels
// into its packed string (one allocation) and the symbol tables. Flush
// appends outputs to the caller's batch; their label strings alias the
// symbol tables and packed strings, which are never modified, so they stay
// valid after the batch is reset.
//
// # Metrics
//
// premetrics_aggregate_{input,late,output}_samples_total{aggregation}
// (output: window outputs, not stale markers),
// premetrics_aggregate_staleness_markers_total{aggregation},
// premetrics_aggregate_rejected_samples_total{aggregation,reason} with
// reason too_far_in_future, stale_marker, counter_out_of_order,
// output_series_limit, input_series_limit, deduplicated;
// premetrics_aggregate_series{aggregation} (groups, overflow groups
// included, plus the entries of the per-input-series tables, as of the
// last Flush), and
// premetrics_aggregate_flush_duration_seconds{aggregation} (per Flush that
// emitted a window). When the aggregation consumes its input
// (keep_input: false), late, too-far-in-future and output-series-limit
// drops are also added to premetrics_dropped_samples_total{stage="aggregate",
// reason="late"|"too_far_in_future"|"output_series_limit"}.
//
// To find the input label that fills the cardinality budget,
// premetrics_aggregate_input_series_estimate{aggregation} estimates the
// distinct input series the aggregation matched (labels after
// input_relabel_configs), and
// premetrics_aggregate_input_label_values{aggregation,label} the distinct
// values of each input label name among them, for the 10 names with the
// most (a name that leaves the top 10 is no longer exported). Both cover
// the current and the previous 10-minute period of the push clock
// (aligned to the epoch: 10 to 20 minutes of data; Flush moves them on
// when no input comes). Push observes one in 16 matched series (by
// position in its part of the batch, offset by a hash of the push time),
// so a series that sends k times in that span is counted with
// probability about 1 − e^(−k/16): 97.6% for k = 60 (every 10 s);
// series that send rarely are undercounted. Every label name has a
// HyperLogLog sketch per period (2,048 registers, Ertl's estimator:
// standard error 2.3%, exact for a few values) updated lock-free by
// compare-and-swap; observing a series of 6 labels costs about 110 ns,
// 7 ns per matched series, and allocates only for a label name not seen
// before. At most 64 names are tracked (4 KiB each, so at most 264 KiB
// per aggregation); the values of further names are counted together,
// as label="__other__" (distinct name/value pairs). Values are hashed
// with unseeded xxhash, so estimates are reproducible; crafted values can
// only skew an estimate. Of two Aggregators of one name (a reload), the
// one that pushes or flushes is exported; Metrics.Forget removes them.
package aggregate
