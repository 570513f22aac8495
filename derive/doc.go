// Package derive evaluates the `derive:` records of a config: PromQL
// expressions over the outputs of aggregation windows, evaluated at each
// window close, whose results are emitted like window outputs (error
// ratio = errors / views per title). A record may instead emit, per
// result series, an anomaly score against that series' own history. The
// package owns the observed outputs between two evaluations and the
// anomaly histories, nothing else.
//
//	aggregate flush ──► Observe (copies wanted series) ──┐
//	aggregate flush ──► Observe ─────────────────────────┤  (concurrent)
//	                                                      ▼
//	             Evaluate: per instant (window end), ascending:
//	                 record 1 ─► record 2 (reads record 1) ─► ...
//	                      └──────────┴─► emit(batch) ─► remote write
//
// # Records
//
//	derive:
//	  - record: video_errors:1m_by_title_ratio      # metric name of the results
//	    expr: sum by (title) (video_errors:1m_by_title_code_sum_samples)
//	            / on (title) video_views:1m_by_title_sum_samples
//	    labels: {team: video}                       # set on every result; "" removes a label
//	  - record: video_errors:1m_by_title_ratio_score
//	    expr: video_errors:1m_by_title_ratio        # reads the record above
//	    anomaly: {alpha: 0.1, min_history: 10, forget: 1h}
//
// Results are named like the results of a Prometheus recording rule:
// __name__ is the record, the record's labels are set (an empty value
// removes the label), and a record whose results would share a label set
// fails at that instant.
//
// # The expression subset
//
// expr is parsed by the Prometheus PromQL parser (default options) and
// must stay within what one instant of window outputs can answer:
//
//	number literals, parentheses, unary - and +
//	instant vector selectors naming their metric by equality: name{...} or
//	    {__name__="name", ...} (other matchers are free); no range, offset or @
//	binary + - * / % ^ atan2, == != > < >= <= (with and without bool),
//	    and or unless, with on/ignoring and group_left/group_right
//	functions abs ceil floor round sqrt exp ln log2 log10 sgn clamp clamp_min clamp_max
//	aggregations sum avg min max count stddev stdvar group, with by/without
//
// and must read at least one metric. Validate rejects everything else,
// saying what is not supported, why, and where (`expr: 1:1: rate(...)
// is not supported: a derive record sees one instant (the window's
// outputs), not a range`). Referenced lists the metric names any PromQL
// expression reads (for the catalog and alerting checks).
//
// # Evaluation
//
// Observe copies, from each batch it is given, the series whose metric
// name some record reads from outside (Wants: names of earlier records
// are fed internally), with their float samples; stale markers are not
// data and are skipped, and native histogram series (batch.Series with
// Histograms: their floats are stand-ins) are not observed. Evaluate takes everything observed since the
// last Evaluate and groups the samples by timestamp: all outputs of a
// window are stamped with the window end, so each timestamp is an
// instant, and one flush may hold several. For each instant in ascending
// order, every record is evaluated in config order by the Prometheus
// engine (promql.Engine, an instant query at that time) over an
// in-memory storage that holds exactly the samples of that instant, with
// a lookback of 1 ms: so results are Prometheus' own for those inputs,
// as a recording rule would compute them over the window's outputs
// (TestMatchesPrometheusEngine checks them bit for bit against the engine
// over a conventional storage). Later records see earlier records'
// results at the same instant under the record name; they replace, for
// the later records, any observed series of that name. Of two samples of
// one series at one instant the first observed is used (Prometheus' TSDB
// rejects the second) and the second counted as a duplicate.
//
// Evaluate evaluates only what was observed before it: the caller calls
// it after the flushes of a round, so that the outputs a record combines
// are observed together. Outputs of one instant observed after the
// Evaluate that evaluated it are evaluated again, alone, by the next one
// (the results then repeat that timestamp).
//
// A record that fails at an instant (many-to-many matching, duplicate
// result label sets, the engine's limit of 50M samples, 1 minute) is
// counted in premetrics_derive_errors_total, logged (at most once per 10
// s per record) and emits nothing there; the other records and instants
// go on. Evaluate returns an error only when ctx ends or emit fails, and
// stops there.
//
// # Anomaly score
//
// A record with anomaly: keeps, per result series (by its labels), an
// exponentially weighted mean m and variance v of its values (West's
// incremental form, α = alpha):
//
//	first value x:  m = x, v = 0, n = 1
//	next value x:   score = (x − m) / √v       emitted iff n ≥ min_history and v > 0
//	                diff = x − m;  incr = α·diff
//	                m += incr;  v = (1 − α)·(v + diff·incr);  n++
//
// so the score compares x with the history before it, and new, sparse
// and constant series stay quiet. m and v equal the weighted mean and
// variance of the history with weight (1−α)^(n−1) on the first value and
// α(1−α)^(n−1−i) on the i-th. The record emits the score instead of the
// value (later records read the score). Results that are NaN or ±Inf are
// neither scored nor folded in; a result at or before the series' last
// instant is skipped (anomaly_out_of_order). A series whose last value is
// more than forget before the instant starts a new history; such series
// are also dropped from memory, at the latest after another forget/4 of
// instants. Defaults: alpha 0.1, min_history 10, forget 1h.
//
// # Bounds
//
//	observed series per Evaluate   Options.MaxObservedSeries (1,000,000); beyond
//	                               it Observe drops series (series_limit)
//	anomaly series, all records    Options.MaxAnomalySeries (100,000); a new series
//	                               finding it full is not tracked or scored
//	                               (anomaly_series_limit), forgotten ones make room
//
// Memory: observed series are copied into arenas (labels as bytes) that
// are reused from one Evaluate to the next, so steady-state Observe does
// not allocate; Evaluate builds the engine's labels for each observed
// series and frees them when it returns. An anomaly series costs about 70
// bytes plus its key (its labels but __name__, length-prefixed): 90 bytes
// for one short label.
//
// # State
//
// AppendState writes the anomaly histories for the caller's checkpoint
// file (which adds framing and its own checksum); RestoreState loads them
// into a Deriver of the same or a reloaded config, so a restart or reload
// continues every unchanged record's histories exactly:
//
//	state   = version:byte(1)  nrecords:uvarint  record*  crc:uint32le
//	record  = name:string  fingerprint:[32]byte  nseries:uvarint  series*
//	series  = key:string  n:uvarint  last:varint(Unix ms)  mean:float64le  variance:float64le
//	key     = (name:string value:string)* of the series' labels but __name__, sorted
//	string  = len:uvarint bytes
//	crc     = CRC-32C (Castagnoli) of everything before it
//
// A saved record is restored only into the record of the same name whose
// fingerprint, SHA-256 of its record name, canonical expr (as Prometheus
// prints it), labels and alpha, is the same: a record whose results or
// weighting changed starts fresh. min_history and forget are not part of
// it (they decide what is emitted and kept, not what the history means),
// so changing them keeps the history. A payload that does not parse,
// fails its checksum or holds impossible values (NaN mean, negative
// variance, malformed key) is an error and changes nothing. Observed but
// not yet evaluated outputs are not state: on reload, Evaluate the old
// Deriver before handing over.
//
// # Concurrency and memory ownership
//
// Observe is safe for concurrent use and may run during Evaluate (then it
// counts for the next Evaluate); it keeps no reference to the batch.
// Evaluate, AppendState and RestoreState are serialized. The batch given
// to emit is reused after emit returns; its label strings are not (they
// stay valid).
//
// # Metrics
//
// premetrics_derive_evaluations_total{record} (one per record and instant),
// premetrics_derive_output_samples_total{record},
// premetrics_derive_errors_total{record},
// premetrics_derive_evaluation_duration_seconds (per Evaluate that had
// data), premetrics_derive_dropped_series_total{reason} with reason
// series_limit, duplicate, anomaly_series_limit, anomaly_out_of_order, and
// premetrics_derive_anomaly_series{record} (tracked histories, as of the
// last Evaluate or RestoreState).
package derive
