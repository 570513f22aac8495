package otlp

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/race"
)

var benchLimits = outcome.Limits{MaxLabelsPerSeries: 64, MaxLabelNameLength: 256, MaxLabelValueLength: 4096, MaxDecodedBytes: 64 << 20}

var benchOpts = Options{PromoteResourceAttributes: []string{"cloud.region"}, Now: 1730621749123}

var routes = []string{"/", "/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/cart", "/healthz"}

// realisticRequest builds what an OpenTelemetry SDK or Collector sends:
// resources with service and host attributes, one instrumentation scope
// each, and metrics of every kind (half gauges, a quarter counters,
// 15% histograms of 10 buckets, 10% summaries), each with points data
// points of four attributes.
func realisticRequest(resources, metrics, points int) tReq {
	var req tReq
	for r := range resources {
		rm := tRM{res: []kv{
			{"service.name", "checkout"}, {"service.namespace", "shop"},
			{"service.instance.id", fmt.Sprintf("checkout-7d9f8-%05d", r)},
			{"host.name", fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", r, r*7)},
			{"cloud.region", "eu-west-1"}, {"telemetry.sdk.language", "go"},
		}}
		sm := tSM{name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", version: "0.53.0"}
		for m := range metrics {
			var ps []tPoint
			for p := range points {
				ps = append(ps, tPoint{
					attrs: []kv{{"http.request.method", "GET"}, {"http.route", routes[(m+p)%len(routes)]},
						{"http.response.status_code", int64(200 + p%3)}, {"network.protocol.version", "1.1"}},
					time: t0 + uint64(p)*1e6,
				})
			}
			metric := tMetric{name: fmt.Sprintf("app.metric_%d", m)}
			switch {
			case m%20 < 10:
				metric.typ, metric.unit = "gauge", "By"
				for i := range ps {
					ps[i].value = float64(m*31 + i*17)
				}
			case m%20 < 15:
				metric.typ, metric.unit, metric.temporality, metric.monotonic = "sum", "{request}", 2, true
				for i := range ps {
					ps[i].value = int64(m*1000 + i)
				}
			case m%20 < 18:
				metric.typ, metric.unit, metric.temporality = "histogram", "s", 2
				for i := range ps {
					ps[i].bounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
					ps[i].counts = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
					ps[i].count = 66
					ps[i].sum = fp(12.5 + float64(i))
				}
			default:
				metric.typ, metric.unit = "summary", "ms"
				for i := range ps {
					ps[i].count, ps[i].sum = 10, fp(float64(i))
					ps[i].quantiles = [][2]float64{{0.5, 1}, {0.9, 2}, {0.99, 3}}
				}
			}
			metric.points = ps
			sm.metrics = append(sm.metrics, metric)
		}
		rm.sms = []tSM{sm}
		req.rms = append(req.rms, rm)
	}
	return req
}

func benchmarkDecode(b *testing.B, isJSON bool) {
	req := realisticRequest(3, 100, 5)
	body := encodeProto(req, encOpts{})
	decode := DecodeProto
	if isJSON {
		body = encodeJSON(req, false, false)
		decode = DecodeJSON
	}
	dst := &batch.Batch{}
	var res outcome.Result
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	if err := decode(body, dst, benchLimits, benchOpts, &res); err != nil { // warm up caches and arenas
		b.Fatal(err)
	}
	points := 0
	for b.Loop() {
		dst.Reset()
		if err := decode(body, dst, benchLimits, benchOpts, &res); err != nil || res.RejectedItems != 0 {
			b.Fatalf("err %v, %d rejected", err, res.RejectedItems)
		}
		points += res.Items
	}
	b.ReportMetric(float64(points)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(res.Samples), "samples/op")
}

// BenchmarkDecodeProto: 3 resources × 100 metrics × 5 data points
// (1500 points, 4275 samples).
func BenchmarkDecodeProto(b *testing.B) { benchmarkDecode(b, false) }

// BenchmarkDecodeJSON: the same request in OTLP/JSON.
func BenchmarkDecodeJSON(b *testing.B) { benchmarkDecode(b, true) }

func TestDecodeProtoAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	// sync.Pool keeps a pooled decoder per P: on one P the test always
	// gets back the decoder it warmed up.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, c := range []struct {
		name   string
		isJSON bool
	}{{"proto", false}, {"json", true}} {
		t.Run(c.name, func(t *testing.T) {
			req := realisticRequest(2, 40, 3)
			body, decode := encodeProto(req, encOpts{}), DecodeProto
			if c.isJSON {
				body, decode = encodeJSON(req, false, false), DecodeJSON
			}
			b := &batch.Batch{}
			var res outcome.Result
			step := func() {
				b.Reset()
				if err := decode(body, b, benchLimits, benchOpts, &res); err != nil || res.Series == 0 || res.RejectedItems != 0 {
					t.Fatalf("err %v, %d series, %d rejected", err, res.Series, res.RejectedItems)
				}
			}
			step() // fill the caches and arenas
			if n := testing.AllocsPerRun(20, step); n != 0 {
				t.Errorf("%v allocs per decode, want 0", n)
			}
		})
	}
}
