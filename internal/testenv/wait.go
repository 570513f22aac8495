package testenv

import (
	"testing"
	"time"
)

// WaitFor calls cond every 25ms until it returns nil and fails the test
// when timeout passes first, reporting what and cond's last error. It is
// for outcomes of real processes, which arrive asynchronously (a flush
// reaching Prometheus, an alert reaching Alertmanager); cond may call
// Prometheus.Query and the like, which fail the test on API errors.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(pollInterval)
	}
}
