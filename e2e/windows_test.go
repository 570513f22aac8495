package e2e

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// windowsConfig is written from DESIGN.md alone: a gauge aggregation with
// every gauge output and a counter aggregation, 4 s windows, 3 s lateness.
const windowsConfig = `
server:
  listen_address: %ADDR%
aggregations:
  - name: gauges
    match: temp
    interval: 4s
    by: [room]
    outputs: [sum_samples, count_samples, count_series, min, max, avg, last, first]
    lateness: 3s
  - name: counters
    match: requests_total
    interval: 4s
    by: [svc]
    outputs: [increase, total]
    lateness: 3s
    staleness_interval: 1m   # baselines survive the pauses of this test
remote_write:
  - url: %RW%
    queue_config: {batch_send_deadline: 100ms}
`

// TestExactWindows pushes gauges and counters (with a reset, a new series,
// an in-lateness sample, a late sample, a future sample and an unmatched
// series) and requires Prometheus to hold exactly the windows, names,
// values and timestamps that the aggregation semantics define.
func TestExactWindows(t *testing.T) {
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{})
	pm := startPremetrics(t, windowsConfig, prom.RemoteWriteURL())

	const interval = 4 * time.Second
	const lateness = 3 * time.Second
	// Window A = [a, b), window B = [b, c); A starts at the next boundary so
	// the schedule below has a whole window of slack.
	a := time.Now().Truncate(interval).Add(interval)
	b, c := a.Add(interval), a.Add(2*interval)
	at := func(base time.Time, ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	push := func(what string, samples ...sample) {
		t.Helper()
		if code, msg := post(t, pm.writeURL(), encodeWrite(t, samples...), nil); code != 204 {
			t.Fatalf("%s: status %d: %s", what, code, msg)
		}
	}

	// Phase 1, before A ends (event time may run ahead of the wall clock).
	push("phase 1",
		sample{`temp{room="kitchen",sensor="1"}`, at(a, 500), 20},
		sample{`temp{room="kitchen",sensor="1"}`, at(a, 1500), 22},
		sample{`temp{room="kitchen",sensor="1"}`, at(a, 2500), 21},
		sample{`temp{room="kitchen",sensor="2"}`, at(a, 1000), 10},
		sample{`temp{room="kitchen",sensor="1"}`, at(b, 1000), 30},
		sample{`temp{room="bedroom",sensor="3"}`, at(b, 500), 5},
		sample{`requests_total{svc="api",instance="1"}`, at(a, 500), 10}, // first sample: baseline only
		sample{`requests_total{svc="api",instance="1"}`, at(a, 1000), 15},
		sample{`requests_total{svc="api",instance="1"}`, at(a, 2000), 3}, // reset: +3
		sample{`requests_total{svc="api",instance="1"}`, at(a, 3000), 7},
		sample{`requests_total{svc="api",instance="1"}`, at(b, 1000), 8},
		sample{`requests_total{svc="api",instance="2"}`, at(b, 1500), 100}, // new series: no spike
		sample{`unmatched_metric{x="1"}`, at(a, 100), 1},
		sample{`temp{room="kitchen",sensor="9"}`, time.Now().Add(10 * time.Minute), 1}, // too far in the future
	)

	// Phase 2: A has ended but is within its lateness.
	waitUntil(at(b, 1000))
	push("phase 2 (in lateness)", sample{`temp{room="kitchen",sensor="1"}`, at(a, 3500), 25})

	// Phase 3: A has been emitted; its samples are late now.
	waitUntil(b.Add(lateness).Add(1500 * time.Millisecond))
	push("phase 3",
		sample{`temp{room="kitchen",sensor="1"}`, at(a, 200), 100},       // late
		sample{`requests_total{svc="api",instance="1"}`, at(a, 2500), 9}, // late
		sample{`temp{room="kitchen",sensor="1"}`, at(b, 2000), 32},
		sample{`requests_total{svc="api",instance="2"}`, at(b, 3000), 104},
	)

	// B is emitted at c+lateness; the output reaches Prometheus shortly after.
	waitUntil(c.Add(lateness))
	want := []string{
		// window A, stamped with its end b
		`requests_total:4s_by_svc_increase{svc="api"} 12 @A`,
		`requests_total:4s_by_svc_total{svc="api"} 12 @A`,
		`temp:4s_by_room_avg{room="kitchen"} 19.6 @A`,
		`temp:4s_by_room_count_samples{room="kitchen"} 5 @A`,
		`temp:4s_by_room_count_series{room="kitchen"} 2 @A`,
		`temp:4s_by_room_first{room="kitchen"} 20 @A`,
		`temp:4s_by_room_last{room="kitchen"} 25 @A`,
		`temp:4s_by_room_max{room="kitchen"} 25 @A`,
		`temp:4s_by_room_min{room="kitchen"} 10 @A`,
		`temp:4s_by_room_sum_samples{room="kitchen"} 98 @A`,
		// window B, stamped with c
		`requests_total:4s_by_svc_increase{svc="api"} 5 @B`,
		`requests_total:4s_by_svc_total{svc="api"} 17 @B`,
		`temp:4s_by_room_avg{room="bedroom"} 5 @B`,
		`temp:4s_by_room_avg{room="kitchen"} 31 @B`,
		`temp:4s_by_room_count_samples{room="bedroom"} 1 @B`,
		`temp:4s_by_room_count_samples{room="kitchen"} 2 @B`,
		`temp:4s_by_room_count_series{room="bedroom"} 1 @B`,
		`temp:4s_by_room_count_series{room="kitchen"} 1 @B`,
		`temp:4s_by_room_first{room="bedroom"} 5 @B`,
		`temp:4s_by_room_first{room="kitchen"} 30 @B`,
		`temp:4s_by_room_last{room="bedroom"} 5 @B`,
		`temp:4s_by_room_last{room="kitchen"} 32 @B`,
		`temp:4s_by_room_max{room="bedroom"} 5 @B`,
		`temp:4s_by_room_max{room="kitchen"} 32 @B`,
		`temp:4s_by_room_min{room="bedroom"} 5 @B`,
		`temp:4s_by_room_min{room="kitchen"} 30 @B`,
		`temp:4s_by_room_sum_samples{room="bedroom"} 5 @B`,
		`temp:4s_by_room_sum_samples{room="kitchen"} 62 @B`,
	}
	stamps := map[int64]string{b.UnixMilli(): "A", c.UnixMilli(): "B"}
	var got []string
	eventually(t, 15*time.Second, "both windows in Prometheus", func() bool {
		got = storedSamples(t, prom, `{__name__=~".+"}`, a.Add(-time.Minute), c.Add(time.Minute), stamps)
		return len(got) >= len(want)
	})
	if diff := lineDiff(want, got); diff != "" {
		t.Fatalf("Prometheus holds other samples than the semantics define (-want +got):\n%s", diff)
	}

	// Every drop is visible in /metrics.
	for series, want := range map[string]float64{
		`premetrics_aggregate_late_samples_total{aggregation="gauges"}`:                                1,
		`premetrics_aggregate_late_samples_total{aggregation="counters"}`:                              1,
		`premetrics_aggregate_rejected_samples_total{aggregation="gauges",reason="too_far_in_future"}`: 1,
		`premetrics_dropped_samples_total{reason="unmatched",stage="route"}`:                           1,
		`premetrics_ingest_samples_total{protocol="remote_write"}`:                                     19,
		`premetrics_aggregate_output_samples_total{aggregation="gauges"}`:                              24,
		`premetrics_remotewrite_samples_sent_total{endpoint="` + prom.RemoteWriteURL() + `"}`:          float64(len(want)),
	} {
		if got := metricValue(t, pm.metricsURL(), series); got != want {
			t.Errorf("%s = %g, want %g", series, got, want)
		}
	}
	if code := pm.proc.Stop(t, 20*time.Second); code != 0 {
		t.Errorf("premetrics exited with %d after SIGTERM, want 0\n%s", code, pm.proc.Output())
	}
}

// storedSamples renders every sample Prometheus stores for selector in
// [start, end] as `name{labels} value @stamp`, sorted; stamp is the name
// stamps gives the timestamp, or the raw milliseconds.
func storedSamples(t *testing.T, prom *testenv.Prometheus, selector string, start, end time.Time, stamps map[int64]string) []string {
	t.Helper()
	var out []string
	for _, s := range prom.RawSamples(t, selector, start, end) {
		name := s.Labels["__name__"]
		var keys []string
		for k := range s.Labels {
			if k != "__name__" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var ls []string
		for _, k := range keys {
			ls = append(ls, fmt.Sprintf("%s=%q", k, s.Labels[k]))
		}
		for _, p := range s.Points {
			stamp, ok := stamps[p.Timestamp.UnixMilli()]
			if !ok {
				stamp = fmt.Sprint(p.Timestamp.UnixMilli())
			}
			v := p.Value
			if math.Abs(v-math.Round(v*1e9)/1e9) < 1e-12 {
				v = math.Round(v*1e9) / 1e9
			}
			out = append(out, fmt.Sprintf("%s{%s} %s @%s", name, strings.Join(ls, ","), fmt.Sprint(v), stamp))
		}
	}
	sort.Strings(out)
	return out
}

// lineDiff returns the lines only in want (-) and only in got (+).
func lineDiff(want, got []string) string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	var sb strings.Builder
	for _, w := range want {
		if count[w] > 0 {
			fmt.Fprintf(&sb, "- %s\n", w)
			count[w]--
		}
	}
	for _, g := range got {
		if count[g] < 0 {
			fmt.Fprintf(&sb, "+ %s\n", g)
			count[g]++
		}
	}
	return sb.String()
}
