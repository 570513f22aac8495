// Package config loads the premetrics YAML file: it expands ${ENV}
// references, decodes strictly (unknown keys are errors), applies defaults,
// validates every section, and reports every problem at once with the
// field path and the YAML line it comes from:
//
//	config.yaml:14: aggregations[0].outputs[1]: unknown output "avgg" (...)
//
// Environment references are ${NAME} or ${NAME:-default}; NAME must start
// with a letter or underscore, so relabel templates such as ${1} are left
// alone. A reference to an unset variable without a default is an error.
//
// Each section's Config type and its Validate method live with the package
// that owns the section (ingest, rules, enrich, aggregate, remotewrite);
// this package only assembles them. Keys of later roadmap items (derive,
// alerting) are accepted only when empty, so nothing is silently ignored.
package config
