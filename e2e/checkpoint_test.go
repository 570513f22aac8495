package e2e

import (
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// TestCheckpointRestart runs one aggregation state through a clean
// restart and a kill -9, into a real Prometheus:
//
//  1. samples S0 for windows A, B, C; SIGTERM: shutdown saves the open
//     windows and counter baselines instead of emitting them early;
//  2. restart: S0 is restored; S1 adds to A, B and the counter; A becomes
//     due and is emitted (with S0 and S1); once Prometheus has it, kill -9,
//     with no checkpoint since step 1;
//  3. restart: the state of step 1 is restored without A, which the
//     emitted-windows journal says left already; S2 adds to B and C.
//
// So A holds S0+S1 (nothing lost over a clean restart), B and C hold
// S0+S2 (S1's samples for them came after the last checkpoint and died
// with the process), A is emitted exactly once, and the counter continues
// from its checkpointed baseline (no reset, no spike).
func TestCheckpointRestart(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, `
server: {listen_address: "%ADDR%"}
aggregations:
  - name: gauges
    match: temp
    interval: 4s
    by: [room]
    outputs: [sum_samples, count_samples, max]
    lateness: 8s
    staleness_interval: 1m
  - name: counters
    match: requests_total
    interval: 4s
    outputs: [increase, total]
    lateness: 8s
    staleness_interval: 1m
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`, prom.RemoteWriteURL(), "--storage.checkpoint-interval=1h")

	// A = [E-4s, E), B = [E, E+4s), C = [E+4s, E+8s); A is due at E+8s.
	e := time.Now().Truncate(4 * time.Second)
	at := func(s float64) time.Time { return e.Add(time.Duration(s * float64(time.Second))) }
	push := func(samples ...sample) {
		t.Helper()
		if code, msg := post(t, pm.writeURL(), encodeWrite(t, samples...), nil); code != 204 {
			t.Fatalf("status %d: %s", code, msg)
		}
	}
	gaugeOutputs := func() float64 {
		return metricValue(t, pm.metricsURL(), `premetrics_aggregate_output_samples_total{aggregation="gauges"}`)
	}
	restored := func() float64 {
		return metricValue(t, pm.metricsURL(), `premetrics_checkpoint_restored_aggregations_total{result="restored"}`)
	}

	// 1.
	push(
		sample{`temp{room="a"}`, at(-3), 1}, sample{`temp{room="a"}`, at(-1), 2},
		sample{`temp{room="a"}`, at(1), 10},
		sample{`temp{room="a"}`, at(5), 100},
		sample{`requests_total{}`, at(-3), 10}, sample{`requests_total{}`, at(1), 20},
	)
	if code := pm.proc.Stop(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if time.Now().After(at(7)) {
		t.Skip("the machine is too slow for this test's 4 s windows") // A would be due before step 2
	}

	// 2.
	pm.start(t)
	if got := restored(); got != 2 {
		t.Fatalf("%v aggregations restored after SIGTERM, want 2", got)
	}
	push(
		sample{`temp{room="a"}`, at(-2), 4},
		sample{`temp{room="a"}`, at(2), 1000},
		sample{`requests_total{}`, at(2), 50},
	)
	stamps := map[int64]string{at(0).UnixMilli(): "A", at(4).UnixMilli(): "B", at(8).UnixMilli(): "C"}
	stored := func() []string {
		return storedSamples(t, prom, `{__name__=~"temp:.+|requests_total:.+"}`, at(-60), at(60), stamps)
	}
	// Delivered, not only emitted: the remote write queue is in memory.
	eventually(t, 15*time.Second, "window A in Prometheus", func() bool { return len(stored()) >= 5 })
	if got := gaugeOutputs(); got != 3 {
		t.Fatalf("%v gauge outputs before the crash, want 3 (window A only)", got)
	}
	pm.proc.Kill(t)

	// 3.
	pm.start(t)
	if got := restored(); got != 2 {
		t.Fatalf("%v aggregations restored after kill -9, want 2", got)
	}
	if time.Now().After(at(11)) {
		t.Fatal("restarted too late: window B was due before S2 could be sent")
	}
	push(
		sample{`temp{room="a"}`, at(3), 20},
		sample{`temp{room="a"}`, at(6), 200},
		sample{`requests_total{}`, at(5), 70},
	)
	eventually(t, 20*time.Second, "windows B and C emitted", func() bool { return gaugeOutputs() >= 6 })
	want := []string{
		`temp:4s_by_room_sum_samples{room="a"} 7 @A`, `temp:4s_by_room_count_samples{room="a"} 3 @A`, `temp:4s_by_room_max{room="a"} 4 @A`,
		`temp:4s_by_room_sum_samples{room="a"} 30 @B`, `temp:4s_by_room_count_samples{room="a"} 2 @B`, `temp:4s_by_room_max{room="a"} 20 @B`,
		`temp:4s_by_room_sum_samples{room="a"} 300 @C`, `temp:4s_by_room_count_samples{room="a"} 2 @C`, `temp:4s_by_room_max{room="a"} 200 @C`,
		`requests_total:4s_increase{} 0 @A`, `requests_total:4s_total{} 0 @A`,
		`requests_total:4s_increase{} 10 @B`, `requests_total:4s_total{} 10 @B`,
		`requests_total:4s_increase{} 50 @C`, `requests_total:4s_total{} 60 @C`,
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = stored(); len(got) >= len(want) {
			break
		}
	}
	if diff := lineDiff(want, got); diff != "" {
		t.Fatalf("Prometheus holds (-want +got):\n%s", diff)
	}
	if got := gaugeOutputs(); got != 6 {
		t.Errorf("the restarted process emitted %v gauge outputs, want 6 (B and C; A left before the crash)", got)
	}
}
