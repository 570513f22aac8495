package promtext

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/ingest/internal/decodertest"
)

// scrapeBody returns lines (metadata included) like a node exporter
// scrape: cpu counters, filesystem and network gauges, a go summary and
// an http histogram, with values as client_golang prints them.
func scrapeBody(lines int) (body []byte, samples int) {
	var sb strings.Builder
	n := 0
	emit := func(format string, args ...any) bool {
		if n >= lines {
			return false
		}
		fmt.Fprintf(&sb, format, args...)
		sb.WriteByte('\n')
		n++
		if !strings.HasPrefix(format, "#") {
			samples++
		}
		return true
	}
	modes := []string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}
	les := []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	for round := 0; n < lines; round++ {
		emit("# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.")
		emit("# TYPE node_cpu_seconds_total counter")
		for cpu := 0; cpu < 8; cpu++ {
			for m, mode := range modes {
				emit(`node_cpu_seconds_total{cpu="%d",mode="%s"} %g`, cpu+round*8, mode, float64(cpu*1000+m)*12.345+0.01)
			}
		}
		emit("# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.")
		emit("# TYPE node_filesystem_avail_bytes gauge")
		for d := 0; d < 6; d++ {
			emit(`node_filesystem_avail_bytes{device="/dev/nvme0n1p%d",fstype="ext4",mountpoint="/mnt/disk%d"} %g`, d, d+round*6, 1.23456789e+11+float64(d))
		}
		emit("# HELP node_network_receive_bytes_total Network device statistic receive_bytes.")
		emit("# TYPE node_network_receive_bytes_total counter")
		for d := 0; d < 4; d++ {
			emit(`node_network_receive_bytes_total{device="eth%d"} %g`, d+round*4, 8.765432e+09*float64(d+1))
		}
		emit("# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.")
		emit("# TYPE go_gc_duration_seconds summary")
		for _, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
			emit(`go_gc_duration_seconds{quantile="%s"} %g`, q, 1.2e-05)
		}
		emit("go_gc_duration_seconds_sum 0.012345")
		emit("go_gc_duration_seconds_count 1234")
		emit("# HELP http_request_duration_seconds A histogram of request latencies.")
		emit("# TYPE http_request_duration_seconds histogram")
		for _, h := range []string{"/api/v1/write", "/metrics"} {
			for i, le := range les {
				emit(`http_request_duration_seconds_bucket{handler="%s",method="POST",le="%s"} %d`, h, le, 100*(i+1)+round)
			}
			emit(`http_request_duration_seconds_sum{handler="%s",method="POST"} 123.456`, h)
			emit(`http_request_duration_seconds_count{handler="%s",method="POST"} 1200`, h)
		}
		emit("node_load1 0.42 1700000000000")
	}
	return []byte(sb.String()), samples
}

func BenchmarkDecode(b *testing.B) {
	body, samples := scrapeBody(1000)
	dec.Benchmark(b, body, decodertest.BenchLimits, Options{Now: 1700000000000}, samples)
}

func TestDecodeZeroAllocSteadyState(t *testing.T) {
	body, samples := scrapeBody(300)
	// Escapes and quoted names take the arena path.
	body = append(body, "{\"my.metric\", \"my.label\"=\"a\\\"b\"} 1\nm{a=\"x\\\\y\\nz\"} NaN 5\n"...)
	samples += 2
	dec.CheckZeroAlloc(t, body, decodertest.BenchLimits, Options{}, samples)
}

// The benchmark body has the lines it claims, and they decode to the
// samples it claims.
func TestBenchmarkBody(t *testing.T) {
	body, samples := scrapeBody(1000)
	if n := bytes.Count(body, []byte("\n")); n != 1000 {
		t.Fatalf("%d lines, want 1000", n)
	}
	dec.CheckZeroAlloc(t, body, decodertest.BenchLimits, Options{}, samples)
}
