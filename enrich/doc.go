// Package enrich joins reference tables onto series: a named lookup
// table, keyed by the values of some labels, adds labels from its other
// columns (vehicle_id -> model; hostname -> allowed_top). It also emits a
// table's numeric columns as reference series (hostname -> the series
// cpu_threshold{hostname="sleepy"} 40), for alerting rules to compare
// each device with its own threshold.
//
//	source ──fetch──► builder ──finish──► *Table (immutable) ──atomic swap──► Enricher.table
//	(file, http,       (intern values,     slots + record arena                   │
//	 postgres)          parse numbers,                                            ├──► pipeline: relabel ─► Apply(batch) ─► aggregations
//	                    check keys)                                               └──► Reference(now).Emit ─► remote_write (every series_interval)
//
// Config. One `enrich:` entry (Config) names the table, its source (exactly
// one of file, http, postgres), key (label names joined on, which are the
// source's column names too), add (columns added as labels of the same
// names), on_miss, required, and series with series_interval (Reference
// series, below):
//
//	enrich:
//	  - name: vehicle_registry
//	    source: {file: testdata/vehicles.csv}     # or {file: {path, format, interval}}
//	    key: [vehicle_id]
//	    add: [model]
//	    on_miss: keep                             # keep | drop | {default: {model: unknown}}
//	  - name: cpu_thresholds
//	    source:
//	      postgres: {dsn: "${PG_DSN}", query: "SELECT hostname, allowed_top FROM cpu_thresholds", interval: 1m}
//	    key: [hostname]
//	    add: [allowed_top]
//	    required: false                           # start empty if PostgreSQL is down
//	    series: [{column: allowed_top, name: cpu_threshold}]
//	    series_interval: 30s                      # the default
//
// Sources. file: CSV with a header line (other columns ignored), YAML (a
// list of mappings) or JSON (an array of objects), the format from the
// extension unless given; checked every interval (default 10s) by
// modification time and size, re-read when they change and rebuilt only
// when the content's hash changed. http: GET url every interval (default
// 1m) with headers and a timeout (default 30s); a 200 answer with a JSON
// array of objects. postgres: the query run every interval (default 1m) on
// a connection of its own (pgx), result columns matched by name, every
// value read in PostgreSQL's text form. In JSON, numbers are taken as
// written and booleans as true/false; null (and SQL NULL) is no value. A
// file or response over 1 GiB, more than max_rows rows (default 10M), a
// row without a key value, invalid UTF-8, or two rows with the same key
// fail the load: which row was meant cannot be told.
//
// Snapshots and failures. Each successful load builds a new *Table and
// swaps it in with an atomic pointer; a table is never modified after.
// A refresh that fails keeps the last good snapshot, counts
// premetrics_enrich_refresh_failures_total{table}, sets
// premetrics_enrich_last_refresh_successful{table} to 0 and logs a warning
// (at most one per table every 10s). premetrics_enrich_rows and
// premetrics_enrich_last_success_timestamp_seconds say what is in use and
// since when. At startup (Start) a required table (the default) that
// cannot be loaded is an error that stops premetrics; with required:
// false it starts empty, every lookup misses (and counts), and the source
// is retried every interval. While a new snapshot is built the old one
// stays in use, so memory peaks at two snapshots of a table.
//
// Apply. For each series of a batch, the key labels' values are looked
// up; a hit sets the row's add columns as labels. The table is
// authoritative: a label of the same name already on the series is
// replaced (like Prometheus target labels over scraped ones); an empty
// value in the table adds nothing and leaves such a label alone. A miss
// (no row, or a key label missing or empty on the series) applies
// on_miss: keep leaves the series as it is; drop removes it and counts
// its samples in premetrics_dropped_samples_total{stage="enrich",
// reason="enrich_miss"}; default sets the given values as if they were a
// row. premetrics_enrich_lookups_total{table,result="hit|miss"} counts
// series looked up, added once per batch. Tables apply in config order,
// so a later table may key on a label an earlier one added. Labels stay
// sorted; a series that gains a label is copied into the batch's label
// arena (batch.SetLabels), one whose labels are only replaced is edited in
// place.
//
// Reference series. Each entry of series names a column whose values are
// numbers; every series_interval (default 30s) the table emits, per row
// with a number there, one sample: metric name `name` (default: the
// column name, which must then be a valid metric name), labels the row's
// key labels plus the entry's constant labels, value the number, stamped
// with the wall-clock time of the emission (ms). With
//
//	key: [hostname]
//	series:
//	  - {column: allowed_top, name: cpu_threshold}
//	  - {column: critical_top, name: cpu_threshold, labels: {level: critical}}
//
// a row (sleepy, 40, 95) gives cpu_threshold{hostname="sleepy"} 40 and
// cpu_threshold{hostname="sleepy", level="critical"} 95, so that an
// alerting rule can say
//
//	avg by (hostname) (cpu_usage:30s_by_cpu_hostname_avg) > on (hostname) cpu_threshold
//
// Two entries may share a column or a name, not a name and labels. A
// value is parsed as a float (strconv.ParseFloat, spaces around it
// ignored; Inf is a number, NaN is not); one that is empty, NULL or not a
// number is no series for that row and column, counted in
// premetrics_enrich_reference_invalid_values_total{table,column} at each
// load and named in a warning (at most one per table every 10s, with the
// first such row) — not a failed load. A series column missing from the
// source does fail the load, like a key column: absent from a CSV header
// or a query result, or, in JSON and YAML, in no row (a misspelt column,
// most likely). A table with
// series may have no add: it is then not joined (Apply leaves batches
// alone) and on_miss has no use, so only keep is allowed.
//
// Emission is driven by the pipeline (package pipeline): Reference(now)
// claims an emission that is due, fixing the snapshot in use and the
// timestamp; Emit builds its series in source row order into batches of
// at most a given number of series, handed to a callback, so a table of a
// million rows never sits in one batch. The first emission is due at once;
// each next one a series_interval after the previous was due (or after
// now, when emissions were missed); a table without a snapshot yet emits
// nothing and tries again an interval later. A reload that keeps a table
// (the same *Enricher) keeps its schedule; a changed table emits at once.
// premetrics_enrich_reference_series{table} is the number of series of
// the snapshot in use, premetrics_enrich_reference_samples_total{table}
// the samples handed to the remote_write queues.
//
// Memory. Apply allocates nothing in steady state: keys are built in
// pooled scratch memory, lookups read the immutable table, and the added
// label values are strings of the snapshot (interned: each distinct value
// once, all in one string), which the garbage collector keeps alive as
// long as a batch or aggregation refers to them. A Table is an
// open-addressing array of 8-byte slots (at most 3/4 full) over one byte
// arena of records (key bytes, a 4-byte value index per add column and an
// 8-byte float per series column, NaN for no number): about 40 bytes a
// row for vehicle ids, and a handful of allocations however many rows, so
// the garbage collector has nothing to scan. The reference series are a
// scan of that arena: their key label values are strings over its bytes,
// nothing is allocated per row.
package enrich
