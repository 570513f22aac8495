// Package batch owns the one data type that flows through every premetrics
// stage: a Batch of time series, each with its labels and samples.
//
// Every ingest decoder fills a Batch; relabeling, enrichment and aggregation
// edit it in place; remote write copies out of it. Nothing downstream of a
// decoder knows the wire format.
//
//	Batch
//	├── Series[0]  Labels (sorted by name, unique)   Samples (as received)
//	├── Series[1]  ...
//	└── arenas:    labels []Label, samples []Sample, bytes []byte (reused)
//
// Memory ownership. A Batch owns its arenas and everything its Series point
// into, including label strings that may alias a decoded request body. Those
// strings are valid only until Reset or Put. A stage that keeps a label
// name or value beyond its call (an aggregation remembering a new group)
// must copy it with strings.Clone. A stage must not keep *Batch, a Series,
// or any slice of them after it returns.
//
// Labels. Series.Labels are sorted by name with unique names; FinishSeries
// establishes that. The metric name is the label "__name__".
//
// Native histograms. A series with Histograms is a native histogram
// series (an aggregation's histogram output): each sample is
// Histograms[i], stamped Samples[i].Timestamp. Samples[i].Value is a float
// stand-in (the histogram's mean) so that the stages that count, route
// and re-time samples need no second path; an encoder that knows
// histograms (remote write) sends the histogram and never the stand-in.
//
// Ident. A decoder that reads a series' labels from one contiguous run of
// wire bytes may set Series.Ident, a per-process hash of those bytes: a
// cheap name for "these labels as decoded" that stages can recognise a
// series by before they read its labels (see Ident).
//
// Hash. Hash(labels) is xxhash64 over name, 0xff, value, 0xff for each label
// in order. It is stable across processes and versions (it is part of the
// disk formats and the remote-write sharding), and two label sets with the
// same sorted labels always hash alike.
package batch
