// Package alerting owns the `alerting:` section: Prometheus rule groups
// shipped with the config, checked against what the pipeline writes, and
// rendered as a Prometheus rule file by `premetrics rules`.
//
//	Config ─► Validate()                  rulefmt's checks, field paths
//	       ─► Check(pipeline, selfMetric) metrics and labels the rules read
//	       ─► Render(cfg, opts)           rule_files YAML (+ self-health group)
//
// Validate needs nothing but the section. Check needs what remote write
// sends (Pipeline, implemented by *catalog.Catalog) and the names of
// premetrics' self metrics, which Prometheus scrapes: every metric a rule
// reads must be one of those, a recording rule of the section, or a series
// Prometheus makes (ALERTS, up, ...), and every label it uses must be
// possible on the series it applies to. SelfHealthGroup is the built-in
// group of alerts on premetrics itself.
package alerting
