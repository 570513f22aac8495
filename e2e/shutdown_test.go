package e2e

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestShutdownFlushesEndedWindows stops premetrics with SIGTERM while a
// window that has ended is still inside its (long) lateness: shutdown
// emits it, delivers it, and exits 0; the still-open window is not emitted.
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
`, prom.RemoteWriteURL())

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

// TestSIGHUPDoesNotKill: until reload is supported, SIGHUP must neither
// stop premetrics nor lose its state, and /-/reload says why it refuses.
func TestSIGHUPDoesNotKill(t *testing.T) {
	recv := startReceiver(t, func(w http.ResponseWriter, _ int) { w.WriteHeader(http.StatusNoContent) })
	pm := startPremetrics(t, "server: {listen_address: \"%ADDR%\"}\nremote_write: [{url: \"%RW%\"}]\n", recv.URL())
	pm.proc.Signal(t, syscall.SIGHUP)
	resp, err := http.Post("http://"+pm.addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), "not supported yet") {
		t.Fatalf("/-/reload: %d %s", resp.StatusCode, body)
	}
	eventually(t, 5*time.Second, "the SIGHUP warning in the log", func() bool {
		return strings.Contains(pm.proc.Output(), "config reload is not supported yet")
	})
	if resp, err := http.Get("http://" + pm.addr + "/-/ready"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("not ready after SIGHUP: %v", err)
	}
}
