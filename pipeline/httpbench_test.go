package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/ingest"
)

// httpBenchConfig is a realistic pipeline, not pass-through: a global
// relabel that drops a label every series carries and keeps two metric
// families (one family of five is dropped), then three aggregations with
// by and without, counter and sketch outputs, an equality and a regex
// selector.
const httpBenchConfig = `
server:
  listen_address: 127.0.0.1:0
  max_concurrent_requests: 8
relabel_configs:
  - action: labeldrop
    regex: build_.*
  - source_labels: [__name__]
    regex: app_.*|node_.*
    action: keep
aggregations:
  - name: requests
    match: app_requests_total
    interval: 10s
    by: [service, region]
    outputs: [increase, count_series]
  - name: latency
    match: app_latency_seconds
    interval: 10s
    without: [host, zone]
    outputs: [avg, "quantiles(0.5, 0.99)", count_series]
  - name: node
    match: '{__name__=~"node_cpu_usage|node_memory_usage"}'
    interval: 10s
    by: [region]
    outputs: [avg, max, count_series]
remote_write:
  - url: http://127.0.0.1:9/api/v1/write
`

// benchSeries is one generated series: its labels, and its value, which
// grows by step every round (counters grow; gauges move; 0 stays 0).
type benchSeries struct {
	labels      [][2]string
	value, step float64
}

// genericSeries is n series of hosts with five metric families each; the
// last family is dropped by httpBenchConfig's keep rule.
func genericSeries(n int) []benchSeries {
	metrics := []string{"app_requests_total", "app_latency_seconds", "node_cpu_usage", "node_memory_usage", "go_goroutines"}
	var out []benchSeries
	for h := range n / len(metrics) {
		region := fmt.Sprintf("region-%02d", h%20)
		for i, m := range metrics {
			out = append(out, benchSeries{labels: [][2]string{
				{"__name__", m},
				{"build_id", fmt.Sprintf("b%06d", h%997)},
				{"env", "prod"},
				{"host", fmt.Sprintf("host-%06d", h)},
				{"region", region},
				{"service", fmt.Sprintf("svc-%02d", h%50)},
				{"zone", region + []string{"a", "b", "c"}[h%3]},
			}, value: float64(h % 1000), step: float64(i%7 + 1)})
		}
	}
	return out
}

// fleetSeries is n series of vehicles as bench/bench.yaml describes its
// input: engine and motor rpm (0 while the vehicle stands), warnings and
// the distance counter, labelled vehicle_id, region, model and two
// sender-side labels the pipeline drops.
func fleetSeries(n int) []benchSeries {
	var out []benchSeries
	for v := range n / 4 {
		base := [][2]string{
			{"label_0", fmt.Sprintf("gateway-%02d", v%40)},
			{"label_1", fmt.Sprintf("fw-%d", v%5)},
			{"model", fmt.Sprintf("model-%d", v%7)},
			{"region", fmt.Sprintf("region-%02d", v%20)},
			{"vehicle_id", fmt.Sprintf("V%010d", v)},
		}
		with := func(name string, extra ...[2]string) [][2]string {
			ls := append([][2]string{{"__name__", name}}, extra...)
			return append(ls, base...)
		}
		moving := float64(min(v%10, 1)) // 1 in 10 stands still
		out = append(out,
			benchSeries{labels: with("vehicle_rpm", [2]string{"engine", "electric"}), value: moving * 1500, step: moving * 3},
			benchSeries{labels: with("vehicle_rpm", [2]string{"engine", "ic"}), value: moving * 900, step: moving * 5},
			benchSeries{labels: with("vehicle_warnings"), value: float64(v % 3)},
			benchSeries{labels: with("vehicle_distance_meters_total"), value: float64(v), step: 12})
	}
	return out
}

// benchSeriesSet is distinct series encoded once as protobuf Label
// messages; a round appends one sample per series.
type benchSeriesSet struct {
	labels [][]byte // per series: the encoded repeated Label fields
	values []float64
	steps  []float64
}

func newBenchSeriesSet(series []benchSeries) *benchSeriesSet {
	s := &benchSeriesSet{}
	for _, ser := range series {
		var enc []byte
		for _, l := range ser.labels {
			var lb []byte
			lb = protowire.AppendTag(lb, 1, protowire.BytesType)
			lb = protowire.AppendString(lb, l[0])
			lb = protowire.AppendTag(lb, 2, protowire.BytesType)
			lb = protowire.AppendString(lb, l[1])
			enc = protowire.AppendTag(enc, 1, protowire.BytesType)
			enc = protowire.AppendBytes(enc, lb)
		}
		s.labels = append(s.labels, enc)
		s.values = append(s.values, ser.value)
		s.steps = append(s.steps, ser.step)
	}
	return s
}

// round encodes every series with one sample at ts into snappy-compressed
// remote write requests of perReq series, reusing bufs.
func (s *benchSeriesSet) round(ts int64, perReq int, bufs [][]byte) [][]byte {
	var pb, ser []byte
	bufs = bufs[:0]
	for start := 0; start < len(s.labels); start += perReq {
		pb = pb[:0]
		for i := start; i < min(start+perReq, len(s.labels)); i++ {
			s.values[i] += s.steps[i]
			ser = append(ser[:0], s.labels[i]...)
			var smp [32]byte
			sb := protowire.AppendTag(smp[:0], 1, protowire.Fixed64Type)
			sb = protowire.AppendFixed64(sb, math.Float64bits(s.values[i]))
			sb = protowire.AppendTag(sb, 2, protowire.VarintType)
			sb = protowire.AppendVarint(sb, uint64(ts))
			ser = protowire.AppendTag(ser, 2, protowire.BytesType)
			ser = protowire.AppendBytes(ser, sb)
			pb = protowire.AppendTag(pb, 1, protowire.BytesType)
			pb = protowire.AppendBytes(pb, ser)
		}
		var dst []byte
		if len(bufs) < cap(bufs) {
			dst = bufs[:len(bufs)+1][len(bufs)]
		}
		bufs = append(bufs, snappy.Encode(dst[:cap(dst)], pb))
	}
	return bufs
}

// rawClient sends pre-encoded remote write requests over one keep-alive
// connection with pre-built headers, so that the client side costs little
// CPU next to the server it measures.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
	hdr  []byte
}

func dialRaw(addr string) (*rawClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &rawClient{conn: c, br: bufio.NewReaderSize(c, 4096)}, nil
}

func (c *rawClient) post(body []byte) error {
	c.hdr = append(c.hdr[:0], "POST "+ingest.RemoteWritePath+" HTTP/1.1\r\nHost: bench\r\n"+
		"Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n"+
		"X-Prometheus-Remote-Write-Version: 0.1.0\r\nUser-Agent: premetrics-bench\r\nContent-Length: "...)
	c.hdr = strconv.AppendInt(c.hdr, int64(len(body)), 10)
	c.hdr = append(c.hdr, "\r\n\r\n"...)
	bufs := net.Buffers{c.hdr, body}
	if _, err := bufs.WriteTo(c.conn); err != nil {
		return err
	}
	// Status line, headers; a 204 has no body, errors have Content-Length.
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	ok := bytes.HasPrefix(line, []byte("HTTP/1.1 204 "))
	status := string(bytes.TrimSpace(line))
	n := 0
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, found := bytes.CutPrefix(line, []byte("Content-Length: ")); found {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if ok {
		return nil
	}
	msg := make([]byte, n)
	_, _ = c.br.Read(msg)
	return fmt.Errorf("%s: %s", status, msg)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardSink takes what leaves the pipeline and forgets it.
type discardSink struct{ samples atomic.Int64 }

func (s *discardSink) Enqueue(_ context.Context, b *batch.Batch) error {
	s.samples.Add(int64(b.SampleCount()))
	return nil
}
func (*discardSink) Full() bool { return false }

// BenchmarkHTTPIngest measures the daemon's whole request path over
// loopback: a real http.Server with the remote write handler (headers,
// slots, body read, snappy, protobuf decode) and a pipeline (global
// relabel, every aggregation's Push, routing) with its flush loop, into a
// discarding sink. 100k distinct series send one sample each per round,
// in requests of 1000 or 2000 series over 4 keep-alive connections (and
// over one, which shows what lock contention between concurrent requests
// costs), with event time advancing with the wall clock.
//
// Pipelines: "generic" is httpBenchConfig over hosts with five metric
// families; "bench.yaml" is the harness' benchmark pipeline
// (../bench/bench.yaml, 10s windows) over the vehicle fleet it describes.
//
// One op is one round (100k samples). samples/cpu-s divides the samples by
// the CPU time of the whole process (getrusage user+system, the client
// included) spent during the rounds, which is what a 2-core budget is made
// of; cores is that CPU time over wall time. Encoding the requests between
// rounds is excluded from both.
func BenchmarkHTTPIngest(b *testing.B) {
	const numSeries = 100_000
	generic := func(b *testing.B) (*config.Config, []benchSeries) {
		cfg, err := config.Load("httpbench.yaml", []byte(httpBenchConfig), func(string) (string, bool) { return "", false })
		if err != nil {
			b.Fatal(err)
		}
		return cfg, genericSeries(numSeries)
	}
	benchYAML := func(b *testing.B) (*config.Config, []benchSeries) {
		data, err := os.ReadFile("../bench/bench.yaml")
		if err != nil {
			b.Fatal(err)
		}
		env := map[string]string{"PREMETRICS_LISTEN": "127.0.0.1:0", "BENCH_SINK_URL": "http://127.0.0.1:9"}
		cfg, err := config.Load("bench.yaml", data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			b.Fatal(err)
		}
		return cfg, fleetSeries(numSeries)
	}
	for _, c := range []struct {
		pipeline      string
		setup         func(*testing.B) (*config.Config, []benchSeries)
		perReq, conns int
		routeLines    int
	}{
		{"generic", generic, 1000, 4, 0},
		{"generic", generic, 2000, 4, 0},
		{"generic", generic, 2000, 1, 0},
		{"bench.yaml", benchYAML, 2000, 4, 0},
		{"bench.yaml", benchYAML, 2000, 4, 1 << 18},
	} {
		b.Run(fmt.Sprintf("pipeline=%s/series=100k/req=%d/conns=%d/route-lines=%d", c.pipeline, c.perReq, c.conns, c.routeLines), func(b *testing.B) {
			cfg, series := c.setup(b)
			benchHTTPIngest(b, cfg, series, c.perReq, c.conns, c.routeLines)
		})
	}
}

func benchHTTPIngest(b *testing.B, cfg *config.Config, series []benchSeries, perReq, conns, routeLines int) {
	var err error
	reg := prometheus.NewRegistry()
	rl, aggs := compiledStages(b, cfg)
	p := New(Options{Relabel: rl, Aggregations: aggs, Sinks: []Sink{&discardSink{}}, RouteCacheLines: routeLines})
	ctx, cancel := context.WithCancel(context.Background())
	var flushing sync.WaitGroup
	flushing.Go(func() { p.Run(ctx) })
	defer func() { cancel(); flushing.Wait() }()

	mux := http.NewServeMux()
	mux.Handle(ingest.RemoteWritePath, ingest.NewRemoteWriteHandler(cfg.Server, p, ingest.NewMetrics(reg), nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	clients := make([]*rawClient, conns)
	for i := range clients {
		if clients[i], err = dialRaw(ln.Addr().String()); err != nil {
			b.Fatal(err)
		}
		defer clients[i].conn.Close()
	}

	set := newBenchSeriesSet(series)
	var bodies [][]byte
	var lastTs int64
	next := func() {
		lastTs = max(time.Now().UnixMilli(), lastTs+1)
		bodies = set.round(lastTs, perReq, bodies)
	}
	send := func() {
		var idx atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, len(clients))
		for ci, c := range clients {
			wg.Go(func() {
				for {
					i := int(idx.Add(1)) - 1
					if i >= len(bodies) {
						return
					}
					if err := c.post(bodies[i]); err != nil {
						errs[ci] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
	}
	// Warm up: create every group, series baseline and window.
	for range 3 {
		next()
		send()
	}

	var cpu time.Duration
	var ms runtime.MemStats
	var mallocs uint64
	requests := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		next()
		runtime.ReadMemStats(&ms)
		m0 := ms.Mallocs
		c0 := cpuTime()
		b.StartTimer()
		send()
		cpu += cpuTime() - c0
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - m0
		requests += len(bodies)
	}
	samples := float64(b.N) * float64(len(set.labels))
	b.ReportMetric(samples/cpu.Seconds(), "samples/cpu-s")
	b.ReportMetric(samples/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
	b.ReportMetric(float64(mallocs)/float64(requests), "allocs/req")
}
