package e2e

import (
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestShutdownFlushesEndedWindows stops premetrics, running without
// checkpoints, with SIGTERM while a window that has ended is still inside
// its (long) lateness: shutdown emits it, delivers it, and exits 0; the
// still-open window is not emitted. (With checkpoints, shutdown saves
// both instead: see TestCheckpointRestart.)
func TestShutdownFlushesEndedWindows(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
aggregations:
  - name: g
    match: temp
    interval: 2s
    outputs: [sum_samples]
    lateness: 5m
remote_write:
  - url: %RW%
`, prom.RemoteWriteURL(), "--storage.checkpoint-interval=0")

	start := time.Now().Truncate(2 * time.Second).Add(2 * time.Second)
	end := start.Add(2 * time.Second)
	body := encodeWrite(t,
		sample{`temp{s="1"}`, start.Add(100 * time.Millisecond), 1.5},
		sample{`temp{s="2"}`, start.Add(900 * time.Millisecond), 2},
		sample{`temp{s="1"}`, end.Add(500 * time.Millisecond), 100}, // next window: still open at shutdown
	)
	if code, msg := post(t, pm.writeURL(), body, nil); code != 204 {
		t.Fatalf("status %d: %s", code, msg)
	}
	waitUntil(end.Add(200 * time.Millisecond))
	if code := pm.proc.Stop(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	got := storedSamples(t, prom, `{__name__=~".+"}`, start.Add(-time.Minute), end.Add(time.Minute), map[int64]string{end.UnixMilli(): "end"})
	if diff := lineDiff([]string{`temp:2s_sum_samples{} 3.5 @end`}, got); diff != "" {
		t.Fatalf("after shutdown Prometheus holds (-want +got):\n%s", diff)
	}
}
