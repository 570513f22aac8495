// Package testenv runs real components (Prometheus, Alertmanager, the
// premetrics binary, any other executable) on 127.0.0.1 for end-to-end
// tests and the demo tool. Production code must not import it.
//
// Lifecycle. Every Start* function registers a t.Cleanup that stops what
// it started (SIGTERM, then SIGKILL after a timeout) before the test's
// temporary directories are removed, so a test that fails, calls
// t.FailNow or panics still stops its processes. On Linux children also
// get SIGKILL from the kernel when the test binary dies without running
// cleanups (go test -timeout, os.Exit). When a test fails, the tail of
// each process's output is attached to the test log.
//
//	StartAlertmanager ──► StartPrometheus{AlertmanagerURL} ◄── remote write
//	        ▲                     │ Query / RawSamples / QueryRange
//	   Alerts(t)                  ▼
//	                        test assertions
//
// Binaries. The real components come from Debian packages that
// scripts/install-deps.sh installs. RequireBinary skips a test when one is
// missing, or fails it when CI is set or PREMETRICS_REQUIRE_E2E=1.
// BuildBinary compiles a package of this module once per test process.
//
// Ports. FreePort listens on 127.0.0.1:0 and closes; StartPrometheus and
// StartAlertmanager retry on a fresh port if someone else took it. Nothing
// listens on another address (Alertmanager's cluster listener is off).
//
// Time in Prometheus. RawSamples returns stored samples with their exact
// millisecond timestamps. Prometheus 2.42 only accepts samples no more
// than 1h older than the newest sample it holds and, per series, newer
// than that series' last one; tests write timestamps from the last ~50
// minutes, increasing per series (see StartPrometheus).
//
// Waiting. Real processes answer asynchronously: readiness is polled with
// a deadline, and WaitFor polls any condition; there are no fixed sleeps.
package testenv
