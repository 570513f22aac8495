package otlp

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// TestJSONAndProtoGiveTheSameBatch decodes one request in each encoding
// variant and expects the same series, rejections and counts.
func TestJSONAndProtoGiveTheSameBatch(t *testing.T) {
	req := realisticRequest(3, 100, 3)
	// Add what realisticRequest lacks: rejections, staleness, odd values.
	req.rms[0].sms = append(req.rms[0].sms, tSM{name: "extra", metrics: []tMetric{
		{name: "latency", unit: "s", typ: "exphist", temporality: 2, points: []tPoint{{time: t0, count: 1}}},
		gaugeOf("odd", "1", pt(math.Inf(-1), kv{"a.b", "1"}, kv{"a_b", "2"}, kv{"list", []any{int64(1), "x", []kv{{"k", 2.5}}}}),
			tPoint{time: t0, flags: 1}, tPoint{attrs: []kv{{"...", "bad"}}, time: t0, value: 1.0}),
		{name: "s", typ: "summary", points: []tPoint{{time: 0, count: 3, sum: fp(1), quantiles: [][2]float64{{0, 0.1}, {1, 0.9}}}}},
	}})
	opts := Options{PromoteResourceAttributes: []string{"cloud.region", "host.name"}, Now: 42}
	lim := outcome.Limits{MaxLabelsPerSeries: 16, MaxLabelNameLength: 64, MaxLabelValueLength: 128, MaxDecodedBytes: 16 << 20}
	var first []string
	var firstRes *outcome.Result
	for _, v := range variants {
		b, res := decodeWith(t, v.encode(req), v.json, lim, opts)
		got := render(t, b)
		if first == nil {
			first, firstRes = got, res
			if res.Series < 3*100*3 || res.RejectedItems != 2 {
				t.Fatalf("%s: %d series, %d rejected: not the request meant", v.name, res.Series, res.RejectedItems)
			}
			continue
		}
		if !slices.Equal(got, first) {
			for i := range min(len(got), len(first)) {
				if got[i] != first[i] {
					t.Fatalf("%s: series %d is\n%s\nin %s\n%s", v.name, i, got[i], variants[0].name, first[i])
				}
			}
			t.Fatalf("%s: %d series, %s has %d", v.name, len(got), variants[0].name, len(first))
		}
		if !reflect.DeepEqual(res, firstRes) {
			t.Errorf("%s: result\n%+v\n%s has\n%+v", v.name, res, variants[0].name, firstRes)
		}
	}
}

// asRaw is the value OpenTelemetry's AnyValue.AsRaw gives for v.
func asRaw(v any) any {
	switch v := v.(type) {
	case []any:
		out := []any{}
		for _, e := range v {
			out = append(out, asRaw(e))
		}
		return out
	case []kv:
		m := map[string]any{}
		for _, e := range v {
			m[e.k] = asRaw(e.v)
		}
		return m
	}
	return v
}

// TestNestedValuesRenderLikeEncodingJSON: arrays and key-value lists
// become the label value json.Marshal(AnyValue.AsRaw()) gives, as in
// Prometheus.
func TestNestedValuesRenderLikeEncodingJSON(t *testing.T) {
	values := []struct {
		v         any
		protoOnly bool
	}{
		{v: []any{}},
		{v: []kv{}},
		{v: []any{"a", int64(-1), 2.5, 1e21, 1e-7, 100.0, true, false, nil, []byte{1, 2, 3}}},
		{v: []kv{{"b", "2"}, {"a", "1"}, {"b", "3"}, {"", "empty key"}}},
		{v: []any{"<html>&", "\u2028\u2029", "\x01\n\t\b\f\r\"\\", "é日本"}},
		{v: []any{"\xffinvalid\xfe"}, protoOnly: true},
		{v: []kv{{"nested", []any{[]kv{{"deep", []any{int64(1), []any{"x"}}}}}}, {"<k>", nil}}},
		{v: []any{int64(math.MaxInt64), int64(math.MinInt64)}},
	}
	for _, c := range values {
		want, err := json.Marshal(asRaw(c.v))
		if err != nil {
			t.Fatal(err)
		}
		req := oneScope(gaugeOf("g", "", pt(1.0, kv{"v", c.v})))
		for _, v := range variants {
			if c.protoOnly && v.json {
				continue
			}
			b, _ := decodeWith(t, v.encode(req), v.json, outcome.Limits{}, Options{})
			if b.Len() != 1 {
				t.Fatalf("%s: %d series", v.name, b.Len())
			}
			if got := b.Series[0].Get("v"); got != string(want) {
				t.Errorf("%s: value %#v renders as %s, want %s", v.name, c.v, got, want)
			}
		}
	}
}

// TestNestingLimit: a value nested deeper than maxNesting rejects the
// data point (protobuf and JSON) or, in a resource, the request.
func TestNestingLimit(t *testing.T) {
	var deep any = "x"
	for range maxNesting + 1 {
		deep = []any{deep}
	}
	req := oneScope(gaugeOf("g", "", pt(1.0, kv{"deep", deep}), pt(2.0)))
	for _, v := range variants {
		b, res := decodeWith(t, v.encode(req), v.json, outcome.Limits{}, Options{})
		if got := strings.Join(render(t, b), "\n"); got != `g{} `+t0ms+`@2` {
			t.Errorf("%s: series %s", v.name, got)
		}
		want := []string{`data point 0: g{}: bad_value (1 samples): value of attribute "deep" is nested more than 64 levels deep`}
		if got := rejections(res); !slices.Equal(got, want) {
			t.Errorf("%s: rejections %q", v.name, got)
		}
	}
	req = tReq{rms: []tRM{{res: []kv{{"service.name", deep}}, sms: []tSM{{metrics: []tMetric{gaugeOf("g", "", pt(1.0))}}}}}}
	for _, v := range variants {
		b := &batch.Batch{}
		var res outcome.Result
		var err error
		if v.json {
			err = DecodeJSON(v.encode(req), b, outcome.Limits{}, Options{}, &res)
		} else {
			err = DecodeProto(v.encode(req), b, outcome.Limits{}, Options{}, &res)
		}
		if err == nil || !strings.Contains(err.Error(), "nested more than 64 levels") {
			t.Errorf("%s: got %v", v.name, err)
		}
	}
}
