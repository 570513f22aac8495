// Package catalog computes what the pipeline of a config emits, from the
// config alone, without starting anything: every family of series (a
// metric name, or a pattern of names, and what is known of its labels),
// where it comes from, and when it is produced.
//
//	raw input ─► aggregations[0] ─► outputs ─► aggregations[1..] (rollups) ─┐
//	    │             │ keep_input                                          │
//	    │             └──────────────────────────► pass-through             ├─► remote write
//	    └─ forward_unmatched ──────────────────────► pass-through           │   (write_relabel_configs)
//	enrich[].series ───────────────────────────────► reference series ─────┤
//	derive[] over aggregation outputs and earlier records ─► records ──────┘
//
// Names follow the aggregation naming of the design
// (`<metric>:<interval>[_by_<labels>|_without_<labels>]_<output>`, or the
// input name with keep_metric_names), taken from aggregate.Config.Schema.
// The input name is exact when the aggregation's match fixes __name__ by
// equality; otherwise the family is a name pattern (the match's __name__
// matchers, or any name) with the fixed suffix. Labels are a closed set
// (by labels, plus quantile for quantiles) or an open one (without: any
// label but the removed ones). Input, output and write relabel configs
// are applied statically: computed where the values they read are known,
// widened (any name, any label) where not — never guessed.
//
// Rollups: an aggregation sees the outputs of those before it; an output
// it consumes (its match selects all of the output's series and it does
// not keep its input) is not emitted. A rollup whose match names an
// earlier output reads only that output, so its labels are bounded by
// the output's.
//
// Derive records are checked here, since that needs the pipeline: each
// metric a record reads must be an aggregation output or an earlier
// record, all its inputs must close together (same interval and
// lateness), and every label its expr uses must be possible; a record's
// labels are inferred from its expr (package infer).
//
// Pass-through input has names the catalog cannot know: with it, a name
// no family has may still be written. Written and PassThrough say so.
package catalog
