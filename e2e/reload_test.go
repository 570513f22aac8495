package e2e

import (
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

const reloadBase = `
server: {listen_address: "%ADDR%"}
aggregations:
  - name: steady
    match: m
    interval: 2s
    by: [site]
    outputs: [count_samples]
    lateness: 1s
%EXTRA%
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`

// TestReloadUnderLoad reloads the config of a running premetrics while a
// sender pushes continuously: through POST /-/reload (adding an
// aggregation), through SIGHUP (adding another), and with an invalid
// file (refused with 400, the running config kept). The unchanged
// aggregation's windows in a real Prometheus count every sample sent,
// once, across all three.
func TestReloadUnderLoad(t *testing.T) {
	dest := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	config := func(extra string) string {
		return strings.ReplaceAll(strings.ReplaceAll(reloadBase, "%EXTRA%", extra), "%RW%", dest.RemoteWriteURL())
	}
	pm := startPremetrics(t, config(""), dest.RemoteWriteURL())
	rewrite := func(extra string) {
		t.Helper()
		cfg := strings.ReplaceAll(config(extra), "%ADDR%", pm.addr)
		if err := os.WriteFile(pm.config, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reload := func() (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+pm.addr+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// The sender: one sample every 20 ms, stamped now; it counts what
	// premetrics accepted per 2 s window.
	var mu sync.Mutex
	sent := map[int64]int{} // window end (ms) → samples accepted
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			now := time.Now()
			if code, _ := post(t, pm.writeURL(), encodeWrite(t, sample{`m{site="a"}`, now, 1}), nil); code == 204 {
				mu.Lock()
				sent[(now.UnixMilli()/2000+1)*2000]++
				mu.Unlock()
			}
		}
	}()

	time.Sleep(2500 * time.Millisecond)
	rewrite("  - {name: added, match: m, interval: 2s, outputs: [max], lateness: 1s}")
	if code, body := reload(); code != 200 {
		t.Fatalf("POST /-/reload: %d %s", code, body)
	}
	time.Sleep(2500 * time.Millisecond)
	rewrite("  - {name: added, match: m, interval: 2s, outputs: [max], lateness: 1s}\n  - {name: other, match: m, interval: 2s, outputs: [min], lateness: 1s}")
	pm.proc.Signal(t, syscall.SIGHUP)
	eventually(t, 10*time.Second, "the SIGHUP reload", func() bool {
		return metricValue(t, pm.metricsURL(), `premetrics_config_reloads_total{result="success"}`) == 2
	})
	time.Sleep(2500 * time.Millisecond)
	rewrite("  - {name: broken, match: m, interval: -2s, outputs: [max]}")
	if code, body := reload(); code != 400 || !strings.Contains(body, "interval") {
		t.Errorf("invalid config: %d %q, want 400 naming the bad interval", code, body)
	}
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	<-done

	if n := metricValue(t, pm.metricsURL(), `premetrics_config_reloads_total{result="failure"}`); n != 1 {
		t.Errorf("failed reloads %g, want 1", n)
	}
	if n := metricValue(t, pm.metricsURL(), `premetrics_config_last_reload_successful`); n != 0 {
		t.Errorf("premetrics_config_last_reload_successful = %g after the invalid config, want 0", n)
	}

	// Every window the sender filled is in Prometheus with exactly the
	// samples sent, before, across and after the reloads.
	mu.Lock()
	want := make(map[int64]int, len(sent))
	var last int64
	for end, n := range sent {
		want[end] = n
		last = max(last, end)
	}
	mu.Unlock()
	eventually(t, 20*time.Second, "the last window in Prometheus", func() bool {
		for _, s := range dest.RawSamples(t, `m:2s_by_site_count_samples`, time.Now().Add(-2*time.Minute), time.Now()) {
			for _, p := range s.Points {
				if p.Timestamp.UnixMilli() == last {
					return true
				}
			}
		}
		return false
	})
	got := map[int64]int{}
	for _, s := range dest.RawSamples(t, `m:2s_by_site_count_samples{site="a"}`, time.Now().Add(-2*time.Minute), time.Now()) {
		for _, p := range s.Points {
			if p.Value == p.Value { // not a staleness marker
				got[p.Timestamp.UnixMilli()] = int(p.Value)
			}
		}
	}
	if len(want) < 6 {
		t.Fatalf("only %d windows sent", len(want))
	}
	for end, n := range want {
		if got[end] != n {
			t.Errorf("window ending %s: %d samples in Prometheus, %d sent", time.UnixMilli(end).UTC().Format("15:04:05"), got[end], n)
		}
	}
	// The aggregations added by the reloads produce output.
	for _, q := range []string{`m:2s_max`, `m:2s_min`} {
		if len(dest.RawSamples(t, q, time.Now().Add(-2*time.Minute), time.Now())) == 0 {
			t.Errorf("%s: no output from the aggregation added by a reload", q)
		}
	}
}
