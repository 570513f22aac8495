// Package telemetry holds the self metrics that several stages share, so
// each is registered exactly once. Per-component metrics live with their
// component; this package only has the cross-cutting ones.
//
// premetrics_dropped_samples_total{stage,reason} counts every sample the
// pipeline discards after ingest accepted it. stage is one of relabel,
// enrich, aggregate, route, remotewrite; reason is a short snake_case word that
// explains the cause (relabel_drop, unmatched, late, too_far_in_future, ...).
package telemetry
