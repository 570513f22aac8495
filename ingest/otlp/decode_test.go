package otlp

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

const (
	t0   = uint64(1_700_000_000_123_456_789) // ns
	t0ms = "1700000000123"
)

func gaugeOf(name, unit string, points ...tPoint) tMetric {
	return tMetric{name: name, unit: unit, typ: "gauge", points: points}
}

func pt(v any, attrs ...kv) tPoint { return tPoint{value: v, time: t0, attrs: attrs} }

func oneScope(ms ...tMetric) tReq { return tReq{rms: []tRM{{sms: []tSM{{metrics: ms}}}}} }

// variants decodes req in every encoding the tests compare: protobuf as
// usual, protobuf with fields reordered and repeated numbers unpacked,
// JSON with strings for 64-bit integers, JSON with numbers and enum names.
var variants = []struct {
	name   string
	encode func(tReq) []byte
	json   bool
}{
	{"proto", func(r tReq) []byte { return encodeProto(r, encOpts{}) }, false},
	{"proto reordered unpacked", func(r tReq) []byte { return encodeProto(r, encOpts{unpacked: true, reorder: true}) }, false},
	{"json", func(r tReq) []byte { return encodeJSON(r, false, false) }, true},
	{"json numbers names", func(r tReq) []byte { return encodeJSON(r, true, true) }, true},
}

func decodeWith(t *testing.T, body []byte, isJSON bool, lim outcome.Limits, opts Options) (*batch.Batch, *outcome.Result) {
	t.Helper()
	b := &batch.Batch{}
	res := &outcome.Result{}
	var err error
	if isJSON {
		err = DecodeJSON(body, b, lim, opts, res)
	} else {
		err = DecodeProto(body, b, lim, opts, res)
	}
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if res.Series != b.Len() || res.Samples != b.SampleCount() {
		t.Fatalf("result says %d series %d samples, batch has %d, %d", res.Series, res.Samples, b.Len(), b.SampleCount())
	}
	return b, res
}

type counts struct{ items, series, rejected, rejectedSamples int }

func TestDecode(t *testing.T) {
	lenient := outcome.Limits{MaxDecodedBytes: 1 << 20}
	cases := []struct {
		name    string
		req     tReq
		opts    Options
		lim     outcome.Limits
		want    []string
		wantRej []string
		counts  counts
		// protoOnly: encoding/json cannot write the request (invalid UTF-8).
		protoOnly bool
	}{{
		name: "gauge with resource and scope labels",
		req: tReq{rms: []tRM{{
			res: []kv{{"service.name", "checkout"}, {"service.namespace", "shop"}, {"service.instance.id", "pod-1"}, {"host.name", "h1"}},
			sms: []tSM{{name: "io.opentelemetry.runtime", version: "1.2.0", metrics: []tMetric{
				gaugeOf("process.memory.usage", "By", pt(1024.5, kv{"memory.type", "heap"})),
			}}},
		}}},
		want: []string{
			`process_memory_usage_bytes{instance="pod-1", job="shop/checkout", memory_type="heap", otel_scope_name="io.opentelemetry.runtime", otel_scope_version="1.2.0"} ` + t0ms + `@1024.5`,
		},
		counts: counts{items: 1, series: 1},
	}, {
		name: "job without namespace, no instance, scope version without name",
		req: tReq{rms: []tRM{{
			res: []kv{{"service.name", "checkout"}, {"service.name", "second is ignored"}},
			sms: []tSM{{version: "1.0", metrics: []tMetric{gaugeOf("up", "", pt(int64(1)))}}},
		}, {
			res: []kv{{"service.namespace", "shop"}}, // a namespace alone is no job
			sms: []tSM{{metrics: []tMetric{gaugeOf("up", "", pt(int64(1)))}}},
		}}},
		want: []string{
			`up{job="checkout"} ` + t0ms + `@1`,
			`up{} ` + t0ms + `@1`,
		},
		counts: counts{items: 2, series: 2},
	}, {
		name: "metric names: units, _total, _ratio",
		req: oneScope(
			gaugeOf("cpu.utilization", "1", pt(0.5)),
			tMetric{name: "http.server.requests", unit: "{request}", typ: "sum", temporality: 2, monotonic: true, points: []tPoint{pt(int64(42))}},
			tMetric{name: "process.cpu.time", unit: "s", typ: "sum", temporality: 2, monotonic: true, points: []tPoint{pt(1.5)}},
			tMetric{name: "queue.size", unit: "{item}", typ: "sum", temporality: 2, points: []tPoint{pt(int64(-3))}},
			tMetric{name: "requests", unit: "1", typ: "sum", temporality: 1, monotonic: true, points: []tPoint{pt(int64(7))}},
			tMetric{name: "ratio.sum", unit: "1", typ: "sum", temporality: 2, points: []tPoint{pt(1.0)}},
			gaugeOf("network.io", "By/s", pt(1.0)),
			gaugeOf("requests_total", "", pt(1.0)),
			tMetric{name: "foo.total.count", typ: "sum", temporality: 2, monotonic: true, points: []tPoint{pt(1.0)}},
			gaugeOf("temperature", "Cel", pt(21.5)),
			gaugeOf("2xx.rate", "", pt(1.0)),
			gaugeOf("duration_seconds", "s", pt(1.0)),
			gaugeOf("heap", "MiBy", pt(1.0)),
			gaugeOf("weird..name__x", "km/h", pt(1.0)),
			gaugeOf("rx", "{packets}/s", pt(1.0)),
			gaugeOf("fill", "%", pt(1.0)),
			gaugeOf("ratio.gauge.ratio", "1", pt(1.0)),
			gaugeOf("héllo wörld", "", pt(1.0)),
		),
		want: []string{
			`cpu_utilization_ratio{} ` + t0ms + `@0.5`,
			`http_server_requests_total{} ` + t0ms + `@42`,
			`process_cpu_time_seconds_total{} ` + t0ms + `@1.5`,
			`queue_size{} ` + t0ms + `@-3`,
			`requests{} ` + t0ms + `@7`,
			`ratio_sum{} ` + t0ms + `@1`,
			`network_io_bytes_per_second{} ` + t0ms + `@1`,
			`requests_total{} ` + t0ms + `@1`,
			`foo_count_total{} ` + t0ms + `@1`,
			`temperature_celsius{} ` + t0ms + `@21.5`,
			`_2xx_rate{} ` + t0ms + `@1`,
			`duration_seconds{} ` + t0ms + `@1`,
			`heap_mebibytes{} ` + t0ms + `@1`,
			`weird_name_x_km_per_hour{} ` + t0ms + `@1`,
			`rx_per_second{} ` + t0ms + `@1`,
			`fill_percent{} ` + t0ms + `@1`,
			`gauge_ratio{} ` + t0ms + `@1`,
			`h_llo_w_rld{} ` + t0ms + `@1`,
		},
		counts: counts{items: 18, series: 18},
	}, {
		name: "cumulative histograms",
		req: oneScope(tMetric{name: "http.server.duration", unit: "ms", typ: "histogram", temporality: 2, points: []tPoint{
			{attrs: []kv{{"http.route", "/api"}}, time: t0, count: 10, sum: fp(3.5), bounds: []float64{0.005, 0.1, 1}, counts: []uint64{1, 2, 3, 4}},
			{time: t0, count: 3}, // no buckets, no sum
			{time: t0, count: 3, bounds: []float64{1, math.Inf(1)}, counts: []uint64{1, 2, 0}}, // an explicit +Inf bound
			{time: t0, count: 1, sum: fp(-2), bounds: []float64{math.Inf(-1), 1e-9, 2e21}, counts: []uint64{0, 1, 0, 0}},
		}}),
		want: []string{
			`http_server_duration_milliseconds_sum{http_route="/api"} ` + t0ms + `@3.5`,
			`http_server_duration_milliseconds_count{http_route="/api"} ` + t0ms + `@10`,
			`http_server_duration_milliseconds_bucket{http_route="/api", le="0.005"} ` + t0ms + `@1`,
			`http_server_duration_milliseconds_bucket{http_route="/api", le="0.1"} ` + t0ms + `@3`,
			`http_server_duration_milliseconds_bucket{http_route="/api", le="1"} ` + t0ms + `@6`,
			`http_server_duration_milliseconds_bucket{http_route="/api", le="+Inf"} ` + t0ms + `@10`,
			`http_server_duration_milliseconds_count{} ` + t0ms + `@3`,
			`http_server_duration_milliseconds_bucket{le="+Inf"} ` + t0ms + `@3`,
			`http_server_duration_milliseconds_count{} ` + t0ms + `@3`,
			`http_server_duration_milliseconds_bucket{le="1"} ` + t0ms + `@1`,
			`http_server_duration_milliseconds_bucket{le="+Inf"} ` + t0ms + `@3`,
			`http_server_duration_milliseconds_sum{} ` + t0ms + `@-2`,
			`http_server_duration_milliseconds_count{} ` + t0ms + `@1`,
			`http_server_duration_milliseconds_bucket{le="-Inf"} ` + t0ms + `@0`,
			`http_server_duration_milliseconds_bucket{le="0.000000001"} ` + t0ms + `@1`,
			`http_server_duration_milliseconds_bucket{le="2000000000000000000000"} ` + t0ms + `@1`,
			`http_server_duration_milliseconds_bucket{le="+Inf"} ` + t0ms + `@1`,
		},
		counts: counts{items: 4, series: 17},
	}, {
		name: "delta sum and delta histogram keep their values and names",
		req: oneScope(
			tMetric{name: "http.requests", unit: "{request}", typ: "sum", temporality: 1, monotonic: true, points: []tPoint{pt(int64(5)), pt(int64(3))}},
			tMetric{name: "latency", unit: "s", typ: "histogram", temporality: 1, points: []tPoint{
				{time: t0, count: 2, sum: fp(0.3), bounds: []float64{0.25}, counts: []uint64{1, 1}},
			}},
		),
		want: []string{
			`http_requests{} ` + t0ms + `@5`,
			`http_requests{} ` + t0ms + `@3`,
			`latency_seconds_sum{} ` + t0ms + `@0.3`,
			`latency_seconds_count{} ` + t0ms + `@2`,
			`latency_seconds_bucket{le="0.25"} ` + t0ms + `@1`,
			`latency_seconds_bucket{le="+Inf"} ` + t0ms + `@2`,
		},
		counts: counts{items: 3, series: 6},
	}, {
		name: "summary",
		req: oneScope(tMetric{name: "rpc.duration", unit: "s", typ: "summary", points: []tPoint{
			{attrs: []kv{{"rpc.method", "Get"}}, time: t0, count: 4, sum: fp(2.5), quantiles: [][2]float64{{0.5, 0.1}, {0.99, 0.9}}},
			{time: t0, count: 0, sum: fp(0)},
		}}),
		want: []string{
			`rpc_duration_seconds_sum{rpc_method="Get"} ` + t0ms + `@2.5`,
			`rpc_duration_seconds_count{rpc_method="Get"} ` + t0ms + `@4`,
			`rpc_duration_seconds{quantile="0.5", rpc_method="Get"} ` + t0ms + `@0.1`,
			`rpc_duration_seconds{quantile="0.99", rpc_method="Get"} ` + t0ms + `@0.9`,
			`rpc_duration_seconds_sum{} ` + t0ms + `@0`,
			`rpc_duration_seconds_count{} ` + t0ms + `@0`,
		},
		counts: counts{items: 2, series: 6},
	}, {
		name: "exponential histograms are rejected, the rest kept",
		req: oneScope(
			gaugeOf("a", "", pt(1.0)),
			tMetric{name: "latency", unit: "s", typ: "exphist", temporality: 2, points: []tPoint{{time: t0, count: 1}, {time: t0, count: 2}}},
			gaugeOf("b", "", pt(2.0)),
		),
		want: []string{`a{} ` + t0ms + `@1`, `b{} ` + t0ms + `@2`},
		wantRej: []string{
			`data point 1: latency_seconds{}: unsupported (1 samples): exponential histograms are not supported yet; configure the sender to export explicit-bucket histograms`,
			`data point 2: latency_seconds{}: unsupported (1 samples): exponential histograms are not supported yet; configure the sender to export explicit-bucket histograms`,
		},
		counts: counts{items: 4, series: 2, rejected: 2, rejectedSamples: 2},
	}, {
		name: "no recorded value is a staleness marker",
		req: oneScope(
			gaugeOf("g", "", tPoint{time: t0, flags: 1}, tPoint{time: t0, flags: 1, value: 3.0}),
			tMetric{name: "h", typ: "histogram", temporality: 2, points: []tPoint{
				{time: t0, flags: 1, sum: fp(1), bounds: []float64{1}, counts: []uint64{0, 0}},
			}},
			tMetric{name: "s", typ: "summary", points: []tPoint{{time: t0, flags: 1, quantiles: [][2]float64{{0.5, 1}}}}},
		),
		want: []string{
			`g{} ` + t0ms + `@stale`,
			`g{} ` + t0ms + `@stale`,
			`h_sum{} ` + t0ms + `@stale`,
			`h_count{} ` + t0ms + `@stale`,
			`h_bucket{le="1"} ` + t0ms + `@stale`,
			`h_bucket{le="+Inf"} ` + t0ms + `@stale`,
			`s_sum{} ` + t0ms + `@stale`,
			`s_count{} ` + t0ms + `@stale`,
			`s{quantile="0.5"} ` + t0ms + `@stale`,
		},
		counts: counts{items: 4, series: 9},
	}, {
		name:   "a zero time is Options.Now",
		req:    oneScope(gaugeOf("g", "", tPoint{value: 5.0})),
		opts:   Options{Now: 1234},
		want:   []string{`g{} 1234@5`},
		counts: counts{items: 1, series: 1},
	}, {
		name: "promoted resource attributes",
		req: tReq{rms: []tRM{{
			res: []kv{{"cloud.region", "eu-west-1"}, {"k8s.pod.name", "pod-7"}, {"host.name", "h"},
				{"job", "from-resource"}, {"service.name", "svc"}, {"tier", ""}, {"zone", int64(3)}},
			sms: []tSM{{metrics: []tMetric{gaugeOf("g", "", pt(1.0, kv{"k8s.pod.name", "from-point"}), pt(2.0))}}},
		}}},
		opts: Options{PromoteResourceAttributes: []string{"cloud.region", "k8s.pod.name", "job", "tier", "zone", "missing"}},
		want: []string{
			`g{cloud_region="eu-west-1", job="svc", k8s_pod_name="from-point", zone="3"} ` + t0ms + `@1`,
			`g{cloud_region="eu-west-1", job="svc", k8s_pod_name="pod-7", zone="3"} ` + t0ms + `@2`,
		},
		counts: counts{items: 2, series: 2},
	}, {
		name: "attribute collisions and precedence",
		req: tReq{rms: []tRM{{
			res: []kv{{"service.name", "svc"}},
			sms: []tSM{{name: "scope", metrics: []tMetric{{name: "m", typ: "histogram", temporality: 2, points: []tPoint{{
				attrs: []kv{{"a_b", "y"}, {"a.b", "x"}, {"job", "dpjob"}, {"le", "dple"}, {"__name__", "ignored"},
					{"empty", ""}, {"Zeta", "z"}, {"otel_scope_name", "mine"}, {"a.b", "x2"}},
				time: t0, count: 2, sum: fp(1), bounds: []float64{1}, counts: []uint64{1, 1},
			}}}}}},
		}}},
		want: []string{
			`m_sum{Zeta="z", a_b="x;x2;y", job="svc", le="dple", otel_scope_name="scope"} ` + t0ms + `@1`,
			`m_count{Zeta="z", a_b="x;x2;y", job="svc", le="dple", otel_scope_name="scope"} ` + t0ms + `@2`,
			`m_bucket{Zeta="z", a_b="x;x2;y", job="svc", le="1", otel_scope_name="scope"} ` + t0ms + `@1`,
			`m_bucket{Zeta="z", a_b="x;x2;y", job="svc", le="+Inf", otel_scope_name="scope"} ` + t0ms + `@2`,
		},
		counts: counts{items: 1, series: 4},
	}, {
		name: "attribute value types",
		req: oneScope(gaugeOf("g", "", pt(1.0,
			kv{"b", true}, kv{"f", false}, kv{"i", int64(-42)}, kv{"d", 0.000001}, kv{"d2", 1e21}, kv{"d3", 1e-7},
			kv{"nan", math.NaN()}, kv{"inf", math.Inf(-1)},
			kv{"bytes", []byte{0, 1, 2, 0xff}},
			kv{"arr", []any{"a", int64(1), 2.5, true, nil, []byte("hi")}},
			kv{"kvl", []kv{{"z", "1"}, {"a", []any{"<x>"}}, {"z", "2"}, {"m", []kv{}}}},
			kv{"unset", nil}, kv{"arrnan", []any{math.NaN()}},
		))),
		lim: outcome.Limits{},
		want: []string{
			`g{arr="[\"a\",1,2.5,true,null,\"aGk=\"]", b="true", bytes="AAEC/w==", d="0.000001", d2="1e+21", d3="1e-7", f="false", i="-42", inf="-Inf", ` +
				`kvl="{\"a\":[\"\\u003cx\\u003e\"],\"m\":{},\"z\":\"2\"}", nan="NaN"} ` + t0ms + `@1`,
		},
		counts: counts{items: 1, series: 1},
	}, {
		name: "label names",
		req: oneScope(gaugeOf("m", "",
			pt(1.0, kv{"123abc", "1"}, kv{"__reserved__", "2"}, kv{"http.request.method", "GET"}, kv{"a..b", "3"}, kv{"ünï", "4"}, kv{"_private", "5"}),
			pt(2.0, kv{"ok", "1"}, kv{"...", "x"}),
			pt(3.0, kv{"", "x"}),
			pt(4.0, kv{"", ""}, kv{"___", ""}), // no value, no label, no problem
		)),
		want: []string{
			`m{__reserved__="2", _n_="4", _private="5", a_b="3", http_request_method="GET", key_123abc="1"} ` + t0ms + `@1`,
			`m{} ` + t0ms + `@4`,
		},
		wantRej: []string{
			`data point 1: m{}: invalid_label_name (1 samples): attribute "..." has no character valid in a Prometheus label name`,
			`data point 2: m{}: invalid_label_name (1 samples): attribute with an empty key`,
		},
		counts: counts{items: 4, series: 2, rejected: 2, rejectedSamples: 2},
	}, {
		name: "a metric name without valid characters",
		req:  oneScope(gaugeOf("...", "", pt(1.0)), gaugeOf("ok", "", pt(1.0))),
		want: []string{`ok{} ` + t0ms + `@1`},
		wantRej: []string{
			`data point 0: : missing_metric_name (1 samples): metric name "..." has no character valid in a Prometheus metric name`,
		},
		counts: counts{items: 2, series: 1, rejected: 1, rejectedSamples: 1},
	}, {
		name: "limits reject whole data points",
		req: tReq{rms: []tRM{{sms: []tSM{{name: "s", metrics: []tMetric{
			{name: "h", typ: "histogram", temporality: 2, points: []tPoint{
				{attrs: []kv{{"a", "1"}}, time: t0, count: 1, sum: fp(1), bounds: []float64{1}, counts: []uint64{1, 0}},
				{time: t0, count: 1},
			}},
			gaugeOf("g", "", pt(1.0, kv{"a", "1"}), pt(1.0, kv{"a", "\xff"}), pt(1.0, kv{"a", "0123456789abcdef"})),
			gaugeOf("long_metric_name_x", "", pt(1.0)),
		}}, {name: "a-long-scope-name", metrics: []tMetric{gaugeOf("g", "", pt(1.0))}}}}}},
		lim: outcome.Limits{MaxLabelsPerSeries: 3, MaxLabelValueLength: 15},
		want: []string{
			`h_count{otel_scope_name="s"} ` + t0ms + `@1`,
			`h_bucket{le="+Inf", otel_scope_name="s"} ` + t0ms + `@1`,
			`g{a="1", otel_scope_name="s"} ` + t0ms + `@1`,
		},
		wantRej: []string{
			`data point 0: h_bucket{a="1", le="1", otel_scope_name="s"}: too_many_labels (4 samples): 4 labels, limit 3`,
			"data point 3: g{a=\"\xff\", otel_scope_name=\"s\"}: invalid_label_value (1 samples): value of label \"a\" is not valid UTF-8",
			`data point 4: g{a="0123456789abcdef", otel_scope_name="s"}: label_value_too_long (1 samples): value of label "a" is 16 bytes, limit 15`,
			`data point 5: long_metric_name_x{otel_scope_name="s"}: label_value_too_long (1 samples): value of label "__name__" is 18 bytes, limit 15`,
			`data point 6: g{otel_scope_name="a-long-scope-name"}: label_value_too_long (1 samples): value of label "otel_scope_name" is 17 bytes, limit 15`,
		},
		counts:    counts{items: 7, series: 3, rejected: 5, rejectedSamples: 8},
		protoOnly: true,
	}, {
		name: "temporality, values and buckets that cannot be mapped",
		req: oneScope(
			tMetric{name: "s0", typ: "sum", temporality: 0, points: []tPoint{pt(1.0)}},
			tMetric{name: "s7", typ: "sum", temporality: 7, monotonic: true, points: []tPoint{pt(1.0)}},
			tMetric{name: "h0", typ: "histogram", temporality: 0, points: []tPoint{{time: t0, count: 1}}},
			gaugeOf("novalue", "", tPoint{time: t0}),
			tMetric{name: "h", typ: "histogram", temporality: 2, points: []tPoint{
				{time: t0, count: 3, bounds: []float64{1, 2}, counts: []uint64{1, 2}},
				{time: t0, count: 3, bounds: []float64{2, 1}, counts: []uint64{1, 1, 1}},
				{time: t0, count: 3, bounds: []float64{1}},
				{time: t0, count: 3, bounds: []float64{math.NaN()}, counts: []uint64{1, 2}},
			}},
			gaugeOf("ok", "", pt(1.0)),
		),
		want: []string{`ok{} ` + t0ms + `@1`},
		wantRej: []string{
			`data point 0: s0{}: missing_field (1 samples): aggregation_temporality is unspecified; want 1 (delta) or 2 (cumulative)`,
			`data point 1: s7{}: unsupported (1 samples): aggregation_temporality 7 is unknown; want 1 (delta) or 2 (cumulative)`,
			`data point 2: h0{}: missing_field (2 samples): aggregation_temporality is unspecified; want 1 (delta) or 2 (cumulative)`,
			`data point 3: novalue{}: missing_field (1 samples): number data point without as_double or as_int`,
			`data point 4: h{}: malformed (4 samples): histogram data point with 2 bucket_counts for 2 explicit_bounds; want 3`,
			`data point 5: h{}: malformed (4 samples): histogram explicit_bounds[1] = 1 is not greater than the bound before it`,
			`data point 6: h{}: malformed (2 samples): histogram data point with 0 bucket_counts for 1 explicit_bounds; want 2`,
			`data point 7: h{}: malformed (3 samples): histogram explicit_bounds[0] = NaN is not greater than the bound before it`,
		},
		counts: counts{items: 9, series: 1, rejected: 8, rejectedSamples: 18},
	}, {
		name:   "metrics without data or data points",
		req:    oneScope(tMetric{name: "nodata"}, gaugeOf("nopoints", ""), tMetric{name: "s", typ: "sum", temporality: 2}),
		counts: counts{},
	}}
	for _, c := range cases {
		for _, v := range variants {
			if c.protoOnly && v.json {
				continue
			}
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				lim := c.lim
				if lim == (outcome.Limits{}) {
					lim = lenient
				}
				b, res := decodeWith(t, v.encode(c.req), v.json, lim, c.opts)
				if got := render(t, b); !slices.Equal(got, c.want) {
					t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
				}
				if got := rejections(res); !slices.Equal(got, c.wantRej) {
					t.Errorf("rejections:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.wantRej, "\n"))
				}
				got := counts{items: res.Items, series: res.Series, rejected: res.RejectedItems, rejectedSamples: res.RejectedSamples}
				if got != c.counts {
					t.Errorf("counts %+v, want %+v", got, c.counts)
				}
				if res.Samples != res.Series {
					t.Errorf("%d samples in %d series", res.Samples, res.Series)
				}
			})
		}
	}
}

func TestDecodeKeepsEarlierSeriesAndDoesNotAliasBody(t *testing.T) {
	req := tReq{rms: []tRM{{
		res: []kv{{"service.name", "svc"}, {"cloud.region", "eu"}},
		sms: []tSM{{name: "scope", version: "1", metrics: []tMetric{
			gaugeOf("g", "", pt(1.0, kv{"host.name", "h1"}, kv{"n", int64(5)})),
			{name: "h", typ: "histogram", temporality: 2, points: []tPoint{{time: t0, count: 1, bounds: []float64{0.5}, counts: []uint64{1, 0}}}},
		}}},
	}}}
	opts := Options{PromoteResourceAttributes: []string{"cloud.region"}}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			b := &batch.Batch{}
			b.AppendSeries([]batch.Label{{Name: "__name__", Value: "before"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
			body := v.encode(req)
			want := strings.Join(render(t, func() *batch.Batch { b, _ := decodeWith(t, slices.Clone(body), v.json, testLimits, opts); return b }()), "\n")
			var res outcome.Result
			var err error
			if v.json {
				err = DecodeJSON(body, b, testLimits, opts, &res)
			} else {
				err = DecodeProto(body, b, testLimits, opts, &res)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range body {
				body[i] = 'X' // the caller reuses the body
			}
			got := render(t, b)
			if got[0] != "before{} 1@1" {
				t.Errorf("earlier series changed: %s", got[0])
			}
			if g := strings.Join(got[1:], "\n"); g != want {
				t.Errorf("series alias the body:\n%s\nwant:\n%s", g, want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	valid := encodeProto(oneScope(gaugeOf("g", "", pt(1.0))), encOpts{})
	cases := []struct {
		name string
		body []byte
		json bool
		want string // in the error message
		kind outcome.Kind
	}{
		{"truncated protobuf", valid[:len(valid)-3], false, "byte ", outcome.KindMalformed},
		{"not protobuf", []byte("hello, world"), false, "cannot parse ExportMetricsServiceRequest", outcome.KindMalformed},
		{"group wire type", []byte{0x13}, false, "group", outcome.KindMalformed},
		{"wrong wire type", []byte{0x08, 0x01}, false, "field resource_metrics has wire type 0, want 2", outcome.KindMalformed},
		{"packed bounds of 7 bytes", encodeRaw(9, appendMsg(nil, 1, appendMsg(nil, 7, make([]byte, 7)))), false,
			"resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0]: packed explicit_bounds of 7 bytes", outcome.KindMalformed},
		{"too large", make([]byte, 2<<20), false, "limit", outcome.KindTooLarge},
		{"not JSON", []byte("{"), true, "cannot parse ExportMetricsServiceRequest", outcome.KindMalformed},
		{"JSON array", []byte("[]"), true, "the request is a JSON array, want an object", outcome.KindMalformed},
		{"resourceMetrics object", []byte(`{"resourceMetrics":{}}`), true, "field resourceMetrics is a JSON object, want an array", outcome.KindMalformed},
		{"metric name number", []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":5}]}]}]}`), true,
			"resourceMetrics[0].scopeMetrics[0].metrics[0]: field name is a JSON number, want a string", outcome.KindMalformed},
		{"bad temporality", []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":{"aggregationTemporality":"DELTA"}}]}]}]}`), true,
			`aggregationTemporality "\"DELTA\"" is not an AggregationTemporality`, outcome.KindMalformed},
		{"bad resource attribute", []byte(`{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"intValue":"x"}}]}}]}`), true,
			`resource attribute "service.name": intValue: want an integer, got "x"`, outcome.KindMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &batch.Batch{}
			b.AppendSeries([]batch.Label{{Name: "__name__", Value: "before"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
			var res outcome.Result
			var err error
			if c.json {
				err = DecodeJSON(c.body, b, testLimits, Options{}, &res)
			} else {
				err = DecodeProto(c.body, b, testLimits, Options{}, &res)
			}
			var oe *outcome.Error
			if !errors.As(err, &oe) || oe.Kind != c.kind || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a kind %d *outcome.Error containing %q", err, c.kind, c.want)
			}
			if c.kind == outcome.KindTooLarge && !errors.Is(err, outcome.ErrTooLarge) || c.kind == outcome.KindMalformed && !errors.Is(err, outcome.ErrMalformed) {
				t.Errorf("errors.Is does not match: %v", err)
			}
			if b.Len() != 1 {
				t.Errorf("batch has %d series after a failed decode, want the 1 from before", b.Len())
			}
		})
	}
}

// encodeRaw wraps the content of a Metric data field num (with a name)
// in a request.
func encodeRaw(num int, data []byte) []byte {
	m := appendStr(nil, 1, "m")
	m = appendMsg(m, protowire.Number(num), data)
	sm := appendMsg(nil, 2, m)
	rm := appendMsg(nil, 2, sm)
	return appendMsg(nil, 1, rm)
}

func TestDecodeEmpty(t *testing.T) {
	for _, isJSON := range []bool{false, true} {
		for _, body := range [][]byte{nil, {}} {
			b, res := decodeWith(t, body, isJSON, testLimits, Options{})
			if b.Len() != 0 || res.Items != 0 {
				t.Errorf("empty body gave %d series, %d items", b.Len(), res.Items)
			}
		}
	}
	b, _ := decodeWith(t, []byte(`{}`), true, testLimits, Options{})
	if b.Len() != 0 {
		t.Errorf("{} gave %d series", b.Len())
	}
}

// TestDecodeJSONSpecifics: what only the JSON encoding can get wrong
// rejects the data point, not the request.
func TestDecodeJSONSpecifics(t *testing.T) {
	body := `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
		{"name":"g","gauge":{"dataPoints":[
			{"asDouble":"1.5","timeUnixNano":"1700000000123456789"},
			{"asDouble":"Infinity","timeUnixNano":1.7e18},
			{"asInt":"12","timeUnixNano":"x"},
			{"asDouble":true},
			{"asInt":"1.5"},
			{"asDouble":1,"attributes":[{"key":"a","value":{"intValue":{}}}]},
			{"asDouble":1,"attributes":[{"key":"a","value":{"bytesValue":"!!"}}]},
			{"asDouble":1,"attributes":[{"key":"b","value":{"bytesValue":"aGk"}},{"key":"c","value":{"bytesValue":"-_8"}},{"key":"u","unknown":1}]},
			{"asDouble":1,"attributes":"nope"},
			{"asDouble":1,"flags":4294967296},
			{"asDouble":null,"asInt":null,"flags":1,"timeUnixNano":null}
		]}},
		{"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"count":"1","bucketCounts":[1,"x"],"explicitBounds":[1]}]}}
	]}]}]}`
	b, res := decodeWith(t, []byte(body), true, testLimits, Options{Now: 99})
	want := []string{
		`g{} 1700000000123@1.5`,
		`g{} 1700000000000@+Inf`,
		`g{b="aGk=", c="+/8="} 99@1`,
		`g{} 99@stale`,
	}
	if got := render(t, b); !slices.Equal(got, want) {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantRej := []string{
		`data point 2: g{}: bad_timestamp (1 samples): timeUnixNano: want an unsigned integer, got "x"`,
		`data point 3: g{}: wrong_type (1 samples): asDouble: want a number, got a boolean`,
		`data point 4: g{}: bad_value (1 samples): asInt: want an integer, got "1.5"`,
		`data point 5: g{}: wrong_type (1 samples): attribute "a": intValue: want an integer, got an object`,
		`data point 6: g{}: bad_value (1 samples): attribute "a": bytesValue: want base64, got "!!"`,
		`data point 8: g{}: wrong_type (1 samples): attributes: want an array, got a string`,
		`data point 9: g{}: bad_value (1 samples): flags: want a uint32, got "4294967296"`,
		`data point 11: h{}: bad_value (3 samples): bucketCounts: want an unsigned integer, got "x"`,
	}
	if got := rejections(res); !slices.Equal(got, wantRej) {
		t.Errorf("rejections:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRej, "\n"))
	}
}

// TestRejectionDetailsAreBounded: past MaxRejectionDetails rejections are
// only counted.
func TestRejectionDetailsAreBounded(t *testing.T) {
	var points []tPoint
	for range 25 {
		points = append(points, tPoint{time: t0, count: 1})
	}
	req := oneScope(tMetric{name: "e", typ: "exphist", temporality: 2, points: points})
	_, res := decodeWith(t, encodeProto(req, encOpts{}), false, testLimits, Options{})
	if res.RejectedItems != 25 || len(res.Rejected) != outcome.MaxRejectionDetails || res.RejectedByReason[outcome.ReasonUnsupported] != 25 {
		t.Errorf("rejected %d items, %d in detail, by reason %v", res.RejectedItems, len(res.Rejected), res.RejectedByReason)
	}
	if res.Items != 25 || res.Metadata != 1 {
		t.Errorf("items %d, metadata %d", res.Items, res.Metadata)
	}
}
