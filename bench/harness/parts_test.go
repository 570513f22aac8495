package harness

import (
	"bytes"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

func TestParseProc(t *testing.T) {
	stat := []byte("4242 (pre metrics) S 1 4242 4242 0 -1 4194560 3000 0 0 0 1234 567 0 0 20 0 9 0 100 0 0\n")
	if cpu, err := parseStatCPU(stat); err != nil || cpu != 18.01 {
		t.Errorf("cpu %v, %v; want 18.01 s (1801 ticks)", cpu, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1")); err == nil {
		t.Error("short stat accepted")
	}
	if cpu, err := parseMachineCPU([]byte("cpu  100 5 50 9000 40 1 2 3 7 0\ncpu0 1 2 3 4\n")); err != nil || cpu != 1.61 {
		t.Errorf("machine cpu %v, %v; want 1.61 s (161 ticks: user nice system irq softirq steal)", cpu, err)
	}
	status := []byte("Name:\tpremetrics\nVmPeak:\t  999 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t7\n")
	if m, err := parseStatusMemory(status); err != nil || m.rss != 1<<20 || m.peak != 2<<20 {
		t.Errorf("memory %+v, %v", m, err)
	}
	if _, err := parseStatusMemory([]byte("Name:\tx\n")); err == nil {
		t.Error("status without VmRSS accepted")
	}
}

const exposition = `# TYPE premetrics_aggregate_flush_duration_seconds histogram
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="latest",le="0.1"} 1
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="latest",le="0.4"} 3
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="latest",le="1.6"} 3
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="latest",le="+Inf"} 3
premetrics_aggregate_flush_duration_seconds_sum{aggregation="latest"} 0.7
premetrics_aggregate_flush_duration_seconds_count{aggregation="latest"} 3
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="rpm",le="0.1"} 0
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="rpm",le="0.4"} 0
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="rpm",le="1.6"} 1
premetrics_aggregate_flush_duration_seconds_bucket{aggregation="rpm",le="+Inf"} 2
premetrics_aggregate_flush_duration_seconds_sum{aggregation="rpm"} 5
premetrics_aggregate_flush_duration_seconds_count{aggregation="rpm"} 2
# TYPE premetrics_aggregate_output_samples_total counter
premetrics_aggregate_output_samples_total{aggregation="latest"} 3000
premetrics_aggregate_output_samples_total{aggregation="rpm"} 20
# TYPE premetrics_dropped_samples_total counter
premetrics_dropped_samples_total{reason="unmatched",stage="route"} 12
premetrics_dropped_samples_total{reason="late",stage="aggregate"} 0
# TYPE premetrics_aggregate_rejected_samples_total counter
premetrics_aggregate_rejected_samples_total{aggregation="latest",reason="output_series_limit"} 7
premetrics_aggregate_rejected_samples_total{aggregation="distance",reason="input_series_limit"} 5
premetrics_aggregate_rejected_samples_total{aggregation="distance",reason="counter_out_of_order"} 3
# TYPE premetrics_ingest_requests_total counter
premetrics_ingest_requests_total{code="204",protocol="remote_write"} 10
premetrics_ingest_requests_total{code="429",protocol="remote_write"} 2
`

func TestScrapeParsing(t *testing.T) {
	s, err := parseScrape(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.sum(metricIngestRequests, nil); got != 12 {
		t.Errorf("sum = %v", got)
	}
	if got := s.sum(metricIngestRequests, map[string]string{"code": "429"}); got != 2 {
		t.Errorf("429 = %v", got)
	}
	drops := collectDrops(s)
	if len(drops) != 4 || drops[0] != (Drop{Metric: metricDropped, Labels: `{reason="unmatched", stage="route"}`, Value: 12}) ||
		drops[1] != (Drop{Metric: metricAggRejected, Labels: `{aggregation="distance", reason="counter_out_of_order"}`, Value: 3}) {
		t.Errorf("drops %+v", drops)
	}
	if got := limited(s); got != 12 {
		t.Errorf("limited = %v, want 12 (output and input series limits)", got)
	}
	hs := s.histograms(metricFlushDuration, "aggregation")
	if b, inf := hs["latest"].maxBucket(); b != 0.4 || inf {
		t.Errorf("latest max bucket %v %v", b, inf)
	}
	if b, inf := hs["rpm"].maxBucket(); b != 1.6 || !inf {
		t.Errorf("rpm max bucket %v %v, want beyond 1.6", b, inf)
	}
	fl := collectFlushes(s, map[string][]flushObs{"latest": {{count: 1, seconds: 0.1}, {count: 2, seconds: 0.3}, {count: 1, seconds: 0.2}}})
	if len(fl) != 2 || fl[0].Aggregation != "latest" || fl[0].OutputPerFlush != 1000 || math.Abs(fl[0].MeanSeconds-0.7/3) > 1e-12 ||
		fl[0].MaxSeconds != 0.3 || fl[0].MaxExact || fl[1].Aggregation != "rpm" || fl[1].MeanSeconds != 2.5 {
		t.Errorf("flushes %+v", fl)
	}
}

func TestMonitorHelpers(t *testing.T) {
	if s, exact := maxFlush([]flushObs{{1, 0.5}, {1, 0.9}, {2, 0.7}}); s != 0.9 || !exact {
		t.Errorf("maxFlush = %v %v", s, exact)
	}
	pts := []Point{{Seconds: 0, RSSBytes: 10}, {Seconds: 1, RSSBytes: 100}, {Seconds: 2, RSSBytes: 200}, {Seconds: 3, RSSBytes: 210}, {Seconds: 4, RSSBytes: 220}, {Seconds: 9, RSSBytes: 999}}
	// Spans of 1.5 s ending at 4: (1, 2.5] and (2.5, 4].
	if g, prev, last := rssGrowth(pts, 0, 4, 1.5); g != 0.1 || prev != 200 || last != 220 {
		t.Errorf("rssGrowth = %v %d %d", g, prev, last)
	}
	// Too short for two spans: the middle against the end.
	if g, mid, end := rssGrowth(pts, 1, 4, 10); mid != 200 || end != 220 || g != 0.1 {
		t.Errorf("rssGrowth fallback = %v %d %d", g, mid, end)
	}
	hist := make([]int64, 100)
	hist[10], hist[20], hist[90] = 50, 49, 1
	if q := quantileMs(hist, 100, 0.5); q != 10 {
		t.Errorf("p50 = %v", q)
	}
	if q := quantileMs(hist, 100, 0.99); q != 20 {
		t.Errorf("p99 = %v", q)
	}
	if q := quantileMs(hist, 100, 1); q != 90 {
		t.Errorf("p100 = %v", q)
	}
}

func TestSinkMeasuresWindowCloseToReceive(t *testing.T) {
	sk, err := startSink(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sk.close()
	now := time.Now()
	// A window that ended 5.2 s ago closed 200 ms ago; one that ended
	// 4 s ago has not closed yet (early).
	closedAgo := now.Add(-5200 * time.Millisecond).UnixMilli()
	open := now.Add(-4 * time.Second).UnixMilli()
	ts := func(name string, extra []prompb.Label, t int64, n int) prompb.TimeSeries {
		s := prompb.TimeSeries{Labels: append([]prompb.Label{{Name: "__name__", Value: name}}, extra...)}
		for range n {
			s.Samples = append(s.Samples, prompb.Sample{Timestamp: t, Value: 1})
		}
		return s
	}
	wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{
		ts("a", nil, closedAgo, 3),
		ts("b", []prompb.Label{{Name: "premetrics_overflow", Value: "true"}}, closedAgo, 1),
		ts("a", nil, open, 1),
	}}
	raw, err := wr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(sk.URL()+"/api/v1/write", "application/x-protobuf", bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp, err = http.Post(sk.URL()+"/api/v1/write", "application/x-protobuf", strings.NewReader("not snappy"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: status %d", resp.StatusCode)
	}
	st := sk.stats()
	if st.Requests != 2 || st.Bad != 1 || st.Samples != 5 || st.Overflow != 1 || st.MetricNames != 2 || st.FirstError == "" {
		t.Errorf("stats %+v", st)
	}
	l := st.Latency
	if l.Samples != 5 || l.Early != 1 || l.P50Seconds < 0.2 || l.P50Seconds > 5 || l.P99Seconds != l.P50Seconds || l.LargestWindowSamples != 4 {
		t.Errorf("latency %+v", l)
	}
}
