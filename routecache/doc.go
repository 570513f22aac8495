// Package routecache remembers, for the input series a pipeline sees
// again and again, where each of its aggregations put them: an
// aggregate.Route per aggregation, so that a series pushed ten times a
// second is matched, grouped and looked up once, and afterwards goes
// straight to its group.
//
// # Keys
//
// A series is identified by 128 bits of hash of its labels as the
// aggregations see them (after global relabeling and enrichment): batch's
// stable xxhash, which the aggregations also use as the series hash of
// per-series state, and hash/maphash of the same bytes, keyed per process.
// What a Route says depends on those labels and on the aggregation alone,
// so a Cache serves one set of aggregations (one pipeline generation) and
// is replaced with it.
//
// A series may also be keyed by its labels as decoded (IdentKey, from
// batch.Ident: a hash of their wire bytes), before relabeling: what the
// routes say then depends on the global relabeling too, which is part of
// the generation. The two kinds of key differ in the top bit of Check.
// The cache does not interpret routes: a caller may keep other words in
// columns it gives no aggregation (the pipeline keeps the series hash of
// a decoded-labels key there, or 0 for "relabeling drops it").
//
// # Layout and bounds
//
// A Cache is a fixed array of 64-byte lines, one cache line per series:
// its two key words, a sequence word, when it was last read (seconds),
// and Columns routes. A key may sit in one of two lines, chosen by each
// half of the key. A new key takes an empty one of its lines; else one
// whose key can move to its own other line, if that is empty (so that a
// working set half the size of the array is nearly all resident: 99% in a
// simulation, against 95% without the move); else one whose key has gone
// unread for IdleAfter. Otherwise it stays out: a working set larger than
// the cache keeps the keys it has instead of evicting them at every push
// (which would cost a write per series and serve none), and keys that
// stop coming make room after a minute. The memory (64 bytes per line) is
// mapped at New, outside the Go heap, so it does not raise the heap goal,
// and takes RSS only as lines are written; Release returns the pages and
// keeps the address range for the next cache of its size, so that a
// reader still running reads memory that is mapped. A pipeline
// with more series than lines still works, at the cost of a miss for the
// series that do not fit.
//
// # Concurrency
//
// Get, Put and Drop are safe for concurrent use without locks. Each line
// is a sequence lock over atomic words: a writer takes a ticket t from
// the cache, makes the line's sequence 2t-1 (odd: being written), stores
// the key and routes, then makes it 2t; a reader that sees an odd
// sequence, or a different one after reading, treats the line as a miss.
// Tickets are never reused, and Drop, which has the OS take the lines'
// pages back (reading as zero afterwards), makes every sequence 0, which
// no write gives: a reader thus never takes the routes of one key with
// the key of another, whatever writes and drops happen under it; at worst
// it reads some routes as zero (unknown). Two writers of one line do not
// wait: the second one skips its write.
package routecache
