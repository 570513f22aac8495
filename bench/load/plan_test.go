package load

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/bench/fleet"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
)

func TestAppendBlockRoundTripsAndPatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		// Repetitive data with holes, so that copies are plentiful.
		words := []string{"__name__", "vehicle_rpm", "region", "Germany", "model", "Aurora", "V0000", "\x80\x80\x01"}
		var src []byte
		var holes []hole
		sharedLen := 1 + rng.IntN(12)
		for len(src) < 1+rng.IntN(70_000) {
			if rng.IntN(4) == 0 {
				h := hole{start: len(src), shared: rng.IntN(2) == 0}
				n := 1 + rng.IntN(16)
				if h.shared {
					n = sharedLen - rng.IntN(2) // mostly one length, as timestamps
				}
				h.end = h.start + n
				holes = append(holes, h)
				for k := range n {
					if h.shared {
						src = append(src, byte(0x80+k)) // like a template timestamp
					} else {
						src = append(src, byte(rng.IntN(256)))
					}
				}
				if rng.IntN(2) == 0 { // sometimes two holes in a row
					continue
				}
			}
			src = append(src, words[rng.IntN(len(words))]...)
		}
		block, offs, spans, err := appendBlock([]byte("prefix"), src, holes)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(block, []byte("prefix")) {
			t.Fatal("dst prefix lost")
		}
		got, err := snappy.Decode(nil, block[len("prefix"):])
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("iteration %d: round trip failed: %v", iter, err)
		}
		// Rewriting unique holes at their offsets and shared spans with
		// one shared content rewrites exactly the holes.
		want := bytes.Clone(src)
		shared := make([]byte, 32)
		for k := range shared {
			shared[k] = byte(rng.IntN(256))
		}
		for i, h := range holes {
			if h.shared {
				if offs[i] != -1 {
					t.Fatalf("shared hole has offset %d", offs[i])
				}
				copy(want[h.start:h.end], shared)
				continue
			}
			for k := h.start; k < h.end; k++ {
				b := byte(rng.IntN(256))
				want[k] = b
				block[offs[i]+k-h.start] = b
			}
		}
		for _, sp := range spans {
			copy(block[sp.dst:sp.dst+sp.n], shared[sp.off:sp.off+sp.n])
		}
		got, err = snappy.Decode(nil, block[len("prefix"):])
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("iteration %d: patched block does not decode to the patched source: %v", iter, err)
		}
	}
}

func TestAppendBlockCompresses(t *testing.T) {
	src := bytes.Repeat([]byte("vehicle_rpm{region=\"Germany\"} "), 2000)
	block, _, _, err := appendBlock(nil, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ref := snappy.Encode(nil, src); len(block) > 2*len(ref) {
		t.Errorf("compressed to %d bytes, golang/snappy %d", len(block), len(ref))
	}
	if _, _, _, err := appendBlock(nil, src, []hole{{start: 5, end: 10}, {start: 8, end: 12}}); err == nil {
		t.Error("overlapping holes accepted")
	}
}

// decodeRef decodes a body with golang/snappy and gogo prompb.
func decodeRef(t *testing.T, body []byte) []prompb.TimeSeries {
	t.Helper()
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	var wr prompb.WriteRequest
	if err := wr.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	return wr.Timeseries
}

func labelMap(ls []prompb.Label) map[string]string {
	m := map[string]string{}
	for i, l := range ls {
		if i > 0 && ls[i-1].Name >= l.Name {
			panic("labels not sorted: " + ls[i-1].Name + " before " + l.Name)
		}
		m[l.Name] = l.Value
	}
	return m
}

func TestGenericPlan(t *testing.T) {
	shape := Shape{Schema: SchemaGeneric, Series: 1000, MetricsPerDevice: 4, CounterFraction: 0.5,
		ExtraLabels: 12, LabelValueLen: 16, LabelValues: 30, ValueTicks: 4, Seed: 3}
	p, err := NewPlan(shape, 300)
	if err != nil {
		t.Fatal(err)
	}
	if p.Series() != 1000 || p.Devices() != 250 || p.Bodies() != 4 || p.BodySamples(3) != 100 || p.LabelsPerSeries() != 14 {
		t.Fatalf("series %d devices %d bodies %d last %d labels %d", p.Series(), p.Devices(), p.Bodies(), p.BodySamples(3), p.LabelsPerSeries())
	}
	const ts = int64(1_790_000_000_123)
	seen := map[string]bool{}
	values := map[string][]float64{}
	for tick := range int64(6) {
		for j := range p.Bodies() {
			body, n := p.Render(nil, j, tick, ts+tick*1000, 0)
			series := decodeRef(t, body)
			if len(series) != n {
				t.Fatalf("body %d: %d series, Render said %d", j, len(series), n)
			}
			for _, s := range series {
				lm := labelMap(s.Labels)
				key := fmt.Sprint(s.Labels)
				seen[key] = true
				if len(s.Labels) != 14 || len(s.Samples) != 1 || s.Samples[0].Timestamp != ts+tick*1000 {
					t.Fatalf("series %v", s)
				}
				if !strings.HasPrefix(lm[LabelDevice], "d") || len(lm[LabelDevice]) != 11 {
					t.Fatalf("device id %q", lm[LabelDevice])
				}
				if v := lm["label_11"]; len(v) != 16 || !strings.HasPrefix(v, "value-") {
					t.Fatalf("extra label value %q", v)
				}
				values[key] = append(values[key], s.Samples[0].Value)
			}
		}
	}
	if len(seen) != 1000 {
		t.Errorf("%d distinct series, want 1000", len(seen))
	}
	counters, gauges := 0, 0
	for key, vs := range values {
		switch {
		case strings.Contains(key, GenericCounterPrefix):
			counters++
			for i := 1; i < len(vs); i++ {
				if vs[i] <= vs[i-1] {
					t.Fatalf("%s: counter not increasing: %v", key, vs)
				}
			}
		case strings.Contains(key, GenericGaugePrefix):
			gauges++
			if vs[4] != vs[0] || vs[1] == vs[0] && vs[2] == vs[0] && vs[3] == vs[0] {
				t.Fatalf("%s: gauge values %v, want a cycle of 4 distinct-ish values", key, vs)
			}
		default:
			t.Fatalf("unexpected series %s", key)
		}
	}
	if counters != 500 || gauges != 500 {
		t.Errorf("%d counters, %d gauges", counters, gauges)
	}
}

func TestFleetPlanMatchesFleet(t *testing.T) {
	shape := Shape{Schema: SchemaFleet, Series: 40, FleetCounter: true, ValueTicks: 3, Seed: 9}
	p, err := NewPlan(shape, 7)
	if err != nil {
		t.Fatal(err)
	}
	if p.Devices() != 10 || p.Series() != 40 || p.SeriesPerDevice() != 4 {
		t.Fatalf("devices %d series %d", p.Devices(), p.Series())
	}
	f := fleet.New(fleet.Options{Vehicles: 10, Seed: 9})
	var readings [][]fleet.Reading
	for k := range 3 {
		readings = append(readings, f.Tick(int64(k)*1000, time.Second, nil))
	}
	byID := map[string]int{}
	for i, v := range f.Vehicles() {
		byID[v.ID] = i
	}
	for tick := range int64(4) {
		got := 0
		for j := range p.Bodies() {
			body, _ := p.Render(nil, j, tick, 1_790_000_000_000, 0)
			for _, s := range decodeRef(t, body) {
				got++
				lm := labelMap(s.Labels)
				v, ok := byID[lm[fleet.LabelVehicleID]]
				if !ok {
					t.Fatalf("unknown vehicle %q", lm[fleet.LabelVehicleID])
				}
				veh := f.Vehicles()[v]
				if lm[fleet.LabelRegion] != veh.Region || lm[fleet.LabelModel] != veh.Model {
					t.Fatalf("labels %v, vehicle %+v", lm, veh)
				}
				r := readings[tick%3][v]
				want := map[string]float64{
					fleet.MetricRPM + "/" + fleet.EngineIC:       r.ICRPM,
					fleet.MetricRPM + "/" + fleet.EngineElectric: r.ElectricRPM,
					fleet.MetricWarnings + "/":                   r.Warnings,
				}
				key := lm["__name__"] + "/" + lm[fleet.LabelEngine]
				if lm["__name__"] == MetricDistance {
					if s.Samples[0].Value < float64(tick) {
						t.Fatalf("distance %v at tick %d", s.Samples[0].Value, tick)
					}
					continue
				}
				if w, ok := want[key]; !ok || s.Samples[0].Value != w {
					t.Fatalf("tick %d %s of vehicle %d = %v, want %v", tick, key, v, s.Samples[0].Value, w)
				}
			}
		}
		if got != 40 {
			t.Fatalf("tick %d: %d series", tick, got)
		}
	}
}

func TestChurnReplacesDevices(t *testing.T) {
	shape := Shape{Schema: SchemaFleet, Series: 30, Churn: 0.5, ChurnInterval: time.Second, ValueTicks: 1}
	p, err := NewPlan(shape, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(churned int64) map[string]bool {
		body, _ := p.Render(nil, 0, 0, 1_790_000_000_000, churned)
		m := map[string]bool{}
		for _, s := range decodeRef(t, body) {
			m[labelMap(s.Labels)[fleet.LabelVehicleID]] = true
		}
		return m
	}
	if c := p.Churned(1); c != 5 {
		t.Fatalf("Churned(1s) = %d, want 5 (half of 10 devices)", c)
	}
	all := map[string]bool{}
	for step := range int64(5) {
		cur := ids(step * 5)
		if len(cur) != 10 {
			t.Fatalf("step %d: %d vehicles", step, len(cur))
		}
		fresh := 0
		for id := range cur {
			if !all[id] {
				fresh++
			}
			all[id] = true
		}
		if want := map[bool]int{true: 10, false: 5}[step == 0]; fresh != want {
			t.Errorf("step %d: %d new vehicles, want %d", step, fresh, want)
		}
	}
	if p.DistinctSeries(20) != int64(len(all))*3 {
		t.Errorf("DistinctSeries(20) = %d, saw %d vehicles", p.DistinctSeries(20), len(all))
	}
}

func TestPremetricsDecoderAcceptsBodies(t *testing.T) {
	shape := Shape{Schema: SchemaGeneric, Series: 5000, MetricsPerDevice: 5, CounterFraction: 0.2,
		ExtraLabels: 3, LabelValueLen: 12, LabelValues: 100, Churn: 0.1, ChurnInterval: time.Second, ValueTicks: 8}
	p, err := NewPlan(shape, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var b batch.Batch
	var res outcome.Result
	lim := outcome.Limits{MaxLabelsPerSeries: 64, MaxLabelNameLength: 256, MaxLabelValueLength: 4096, MaxDecodedBytes: 64 << 20}
	var buf []byte
	for j := range p.Bodies() {
		b.Reset()
		var n int
		buf, n = p.Render(buf, j, 3, 1_790_000_000_000, 777)
		if err := promrw.Decode(buf, &b, lim, &res); err != nil {
			t.Fatal(err)
		}
		if res.RejectedItems != 0 || len(b.Series) != n {
			t.Fatalf("body %d: %d series kept of %d, %+v", j, len(b.Series), n, res.Rejected)
		}
	}
	if bps := p.CompressedBytesPerSample(); bps < 5 || bps > 60 {
		t.Errorf("%.1f body bytes per sample", bps)
	}
}

func TestShapeValidate(t *testing.T) {
	for _, tc := range []struct {
		shape Shape
		want  string
	}{
		{Shape{Schema: "x", Series: 1, ValueTicks: 1}, `-schema: must be "generic" or "fleet", got "x"`},
		{Shape{Schema: SchemaFleet, ValueTicks: 1}, "-series: must be > 0, got 0"},
		{Shape{Schema: SchemaGeneric, Series: 1, ValueTicks: 1}, "-metrics-per-device: must be in [1, 1000], got 0"},
		{Shape{Schema: SchemaGeneric, Series: 1, MetricsPerDevice: 1, CounterFraction: 2, ValueTicks: 1}, "-counter-fraction: must be in [0, 1], got 2"},
		{Shape{Schema: SchemaFleet, Series: 1, ExtraLabels: 1, LabelValues: 1000, LabelValueLen: 2, ValueTicks: 1}, "-label-value-len: must be in [3, 1024] (digits of -label-values 1000), got 2"},
		{Shape{Schema: SchemaFleet, Series: 1, Churn: 0.5, ValueTicks: 1}, "-churn-interval: must be > 0 with -churn, got 0s"},
		{Shape{Schema: SchemaFleet, Series: 1}, "-value-ticks: must be in [1, 1024], got 0"},
	} {
		err := tc.shape.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.shape, err, tc.want)
		}
	}
	if err := CheckTimestamp(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()); err != nil {
		t.Error(err)
	}
	if err := CheckTimestamp(1000); err == nil {
		t.Error("timestamp 1000 accepted")
	}
}
