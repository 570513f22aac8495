package influx

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/ingest/internal/decodertest"
)

// telegrafBody returns lines as Telegraf's cpu, mem and system inputs
// write them: per host 4 cpu lines and cpu-total, mem, system (with a
// string field), at nanosecond precision.
func telegrafBody(lines int) (body []byte, samples int) {
	var sb strings.Builder
	ts := int64(1700000000000000000)
	for n, host := 0, 0; n < lines; host++ {
		tags := fmt.Sprintf("host=web-%03d,region=eu-west-%d", host, host%3)
		for c := 0; c < 5 && n < lines; c++ {
			cpu := fmt.Sprintf("cpu%d", c)
			if c == 4 {
				cpu = "cpu-total"
			}
			fmt.Fprintf(&sb, "cpu,cpu=%s,%s usage_guest=0,usage_guest_nice=0,usage_idle=%d.%d,usage_iowait=0.1,usage_irq=0,"+
				"usage_nice=0,usage_softirq=0.05,usage_steal=0,usage_system=0.9,usage_user=1.15 %d\n", cpu, tags, 90+c, host%10, ts)
			n++
			samples += 10
		}
		if n < lines {
			fmt.Fprintf(&sb, "mem,%s active=%di,available=8000000000i,available_percent=50.1,buffers=1234i,cached=4567i,"+
				"free=1111i,total=16000000000i,used=8000000000i,used_percent=49.9 %d\n", tags, 123456789+host, ts)
			n++
			samples += 9
		}
		if n < lines {
			fmt.Fprintf(&sb, "system,%s load1=0.5,load15=0.25,load5=0.3,n_cpus=4i,n_users=2i,uptime=123456u,"+
				"uptime_format=\"1 day,  10:17\" %d\n", tags, ts)
			n++
			samples += 6
		}
	}
	return []byte(sb.String()), samples
}

func BenchmarkDecode(b *testing.B) {
	body, samples := telegrafBody(1000)
	dec.Benchmark(b, body, decodertest.BenchLimits, Options{}, samples)
}

func TestDecodeZeroAllocSteadyState(t *testing.T) {
	body, samples := telegrafBody(200)
	// Escapes and names to sanitize take the arena path.
	body = append(body, "disk.io,mount\\ point=/a\\,b,1st=x read-bytes=1i,io_time=2 1700000000000000000\n"...)
	samples += 2
	dec.CheckZeroAlloc(t, body, decodertest.BenchLimits, Options{}, samples)
}

// The benchmark body has the lines it claims, and they decode to the
// samples it claims.
func TestBenchmarkBody(t *testing.T) {
	body, samples := telegrafBody(1000)
	if n := bytes.Count(body, []byte("\n")); n != 1000 {
		t.Fatalf("%d lines, want 1000", n)
	}
	dec.CheckZeroAlloc(t, body, decodertest.BenchLimits, Options{}, samples)
}
