// Package decodertest holds the test helpers that the line-oriented
// decoders of ingest (influx, promtext) share: the checks every Decode
// result must pass, a text rendering of a batch for table tests, and
// the benchmark, zero-allocation and fuzz scaffolding around a Decode
// call. Only tests import it.
//
//	dec := Decoder[Options]{Decode: influx.Decode, ItemKind: influx.ItemKind}
//	   │
//	   ├─ dec.Check(t, body, opts)            table tests: decode under Limits, CheckContract
//	   ├─ dec.CheckAppends(t, body, ...)      appends to a batch, keeps nothing of body
//	   ├─ CheckOneRejected(t, b, res, ...)    one bad line between two good ones
//	   ├─ dec.CheckFuzz / dec.DecodeLines     fuzz targets: body intact, no aliasing, line by line
//	   └─ dec.Benchmark / dec.CheckZeroAlloc  the hot path: speed, and no allocation once warm
//
// What differs between the protocols (bodies, options, the comparisons
// made line by line, the expected messages) stays in each package.
package decodertest
