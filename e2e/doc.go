// Package e2e holds the end-to-end tests: they build the premetrics binary,
// start it with a config written from DESIGN.md, start a real Prometheus
// (Debian package, 2.42) on 127.0.0.1, push real remote-write requests and
// read the results back with PromQL, with exact timestamps and values.
//
// The tests need /usr/bin/prometheus (scripts/install-deps.sh). Without it
// they skip, unless CI or PREMETRICS_REQUIRE_E2E=1 is set, where they fail.
package e2e
