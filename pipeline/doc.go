// Package pipeline wires the compiled stages together and owns the one
// flush loop.
//
//	ingest ─► Ingest(batch) ─► global relabel ─► enrich (tables in order)
//	                                              │
//	                                   every aggregation's Push
//	                                              │ (marks: consumed / kept)
//	                                              ▼
//	              forward kept input, and unmatched input when forward_unmatched
//	                                              │
//	flush loop ─► agg[0].Flush ─► agg[1..].Push ─►│ (rollup chain, config order)
//	              agg[1].Flush ─► agg[2..].Push ─►│
//	                 │ (each output part)         │
//	                 └─► derive.Observe           │
//	              derive.Evaluate (after all) ───►│
//	                                              ▼
//	                                   every remote_write queue
//
// The global relabeling edits each series' labels in place
// (rules.Relabeler.ApplyInPlace): dropping labels or series, or replacing
// values, copies nothing; only a series that gains a label is copied into
// the batch's arena.
//
// Route cache (Options.RouteCacheLines, EnableRouteCache; package
// routecache): each generation may keep, per input series, the
// aggregate.Route of every routable aggregation (the first
// routecache.Columns of them). The series' key is its labels' hash as the
// aggregations see them, taken in the relabel pass right after each
// series is relabeled, while its labels are in cache (after enrichment
// when there are tables, whose additions may change). The cache lines
// are read a few series behind, so their misses overlap; the
// aggregations then push with the routes (aggregate.PushRouted), and the
// routes that changed are stored back. A generation's cache goes with
// it: a reload starts a new, empty one.
//
// Where nothing but the aggregations' routes depends on a series' labels
// (at most routecache.Columns-1 aggregations, all routable, none with
// keep_input, no enrichment, no forward_unmatched: identRoutable), series
// that carry a batch.Ident (remote write 1.0) are looked up by it before
// relabeling instead, and the line also holds the series hash, or says
// that relabeling drops the series. A series whose line has a route for
// every aggregation is then neither relabeled nor hashed: the
// aggregations push it with its routes, relabeling it only if one asks
// for its labels (aggregate.LabelSource: a stale route, a sample for the
// cardinality estimate). The remote write decoder asks the cache too
// (IdentIndex, batch.IdentIndex): it prefetches every series' lines
// before it parses the request, and leaves the labels of a series the
// cache knows undecoded (batch.Series.Wire), to be decoded only if an
// aggregation asks. A cache that hits fewer than 60%
// of a period's lookups (4 per line: a working set much larger than the
// cache, or constant churn) costs more than it saves: it is dropped, its
// memory returned, and left off for 10 minutes before it is tried again.
//
// Ingest is synchronous: when it returns, the batch's samples are in
// aggregation state or buffered in the outbound queues, and the caller
// may reuse the batch.
//
// Aggregations see raw input and the outputs of the aggregations listed
// before them. An output sample carries the window end as its timestamp;
// when fed to a later aggregation it is placed at end-1ms, so that it lands
// in the downstream window that contains the upstream window (a minute
// ending at 13:00 belongs to the hour 12:00-13:00). All aggregations are
// flushed by one loop, in config order, with the same clock reading, so a
// downstream window closes no earlier than the upstream windows it contains
// as long as its lateness is at least the upstream lateness. Downstream,
// an upstream output is late only when its window was emitted already:
// lateness is judged as of the upstream window end, not the flush time.
//
// A window is handed downstream and to the queues in parts of 8192 series,
// built by GOMAXPROCS flush goroutines (aggregate.Aggregator.FlushEach), so
// a window of a million groups never sits in one batch and is delivered
// while it is still being emitted; every part of a window goes before any
// part of the next one.
//
// Derived records (package derive) see every output part of a flush
// (those later aggregations consume too) as it is emitted, and are
// evaluated once every aggregation has flushed, so a record reading the
// outputs of several aggregations whose windows close together sees the
// whole instant; their results go to the queues, not to aggregations.
// The anomaly history is part of the checkpoint (its own section) and is
// handed from the old deriver to the new one on a reload.
//
// Enrichment tables (package enrich) join in config order after the
// global relabeling, so aggregations can group by the labels they add.
//
// Reference series: the tables with series emit their numeric columns
// (enrich.Enricher.Reference) from a goroutine that Run starts next to the
// flush loop, so a large table never delays a window. It arms one timer
// on the earliest next emission over the current stages' tables and
// re-reads them after a Swap. An emission goes to the current sinks in
// parts of 8192 series; each part is sent under the stages generation in
// use then, like an Ingest request (never under the flush lock): a Swap
// waits for one part at most, later parts go to the new sinks, and a
// table the new stages dropped stops emitting. A part waits for queue
// space at most until that table's next emission is due, which replaces
// it.
//
// Reload: the stages (relabeler, enrichers, aggregations, deriver, forward flag, sinks) are
// one immutable value behind an atomic pointer. Ingest uses one generation
// for a whole request; Swap installs the next, waits for ingests on the
// old one, and flushes with force the aggregations the next one dropped.
// An aggregation in both generations is the same object, so its state
// carries over without loss or double counting.
//
// Backpressure: Admit reports false while any remote-write queue is over
// its high watermark; flush output waits for queue space (it is small and
// must not be lost) while ingest is refused with 429.
package pipeline
