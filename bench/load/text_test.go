package load

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/bench/fleet"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/ingest/influx"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/otlp"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promrw"
	"github.com/premetrics/premetrics/ingest/promtext"
	"github.com/premetrics/premetrics/internal/race"
)

// The limits premetrics decodes with by default.
var textLimits = outcome.Limits{MaxLabelsPerSeries: 64, MaxLabelNameLength: 256, MaxLabelValueLength: 4096,
	MaxDecodedBytes: 64 << 20, MaxLineBytes: 1 << 20}

// exampleVehicles compiles the vehicles input of config.example.yaml.
func exampleVehicles(t testing.TB) *jsonevent.Mapping {
	t.Helper()
	cfg, err := config.LoadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Inputs.JSON {
		if c.Name == JSONInputFleet {
			m, err := jsonevent.Compile(c)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("config.example.yaml has no JSON input %q", JSONInputFleet)
	return nil
}

// shapeInput compiles the JSON input of Shape.JSONInput.
func shapeInput(t testing.TB, s Shape) *jsonevent.Mapping {
	t.Helper()
	_, text := s.JSONInput()
	var cs []jsonevent.Config
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&cs); err != nil || len(cs) != 1 {
		t.Fatalf("JSONInput: %v, %d inputs:\n%s", err, len(cs), text)
	}
	m, err := jsonevent.Compile(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decoder decodes one body into b with a real premetrics decoder.
type decoder func(body []byte, b *batch.Batch, res *outcome.Result) error

func jsonDecoder(m *jsonevent.Mapping) decoder {
	return func(body []byte, b *batch.Batch, res *outcome.Result) error {
		s := jsonevent.GetScratch()
		defer jsonevent.PutScratch(s)
		return m.Decode(body, b, textLimits, 1, s, res)
	}
}

func influxDecoder(body []byte, b *batch.Batch, res *outcome.Result) error {
	return influx.Decode(body, b, textLimits, influx.Options{Precision: influx.Nanosecond, Now: 1}, res)
}

func otlpDecoder(body []byte, b *batch.Batch, res *outcome.Result) error {
	return otlp.DecodeProto(body, b, textLimits, otlp.Options{Now: 1}, res)
}

func promtextDecoder(body []byte, b *batch.Batch, res *outcome.Result) error {
	return promtext.Decode(body, b, textLimits, promtext.Options{Now: 1}, res)
}

func remoteWriteDecoder(body []byte, b *batch.Batch, res *outcome.Result) error {
	return promrw.Decode(body, b, textLimits, res)
}

// series renders every body of p for one send, decoded with dec, as
// series text (without the labels in drop) → sample.
func series(t *testing.T, p *Plan, dec decoder, tick, ts, churned int64, drop ...string) map[string]batch.Sample {
	t.Helper()
	out := map[string]batch.Sample{}
	var buf []byte
	for j := range p.Bodies() {
		var n int
		buf, n = p.Render(buf, j, tick, ts, churned)
		var b batch.Batch
		var res outcome.Result
		if err := dec(buf, &b, &res); err != nil || res.RejectedItems != 0 || len(b.Series) != n || res.Samples != n {
			t.Fatalf("body %d: %v, %d series of %d: %s\n%s", j, err, len(b.Series), n, res.Message(p.Protocol()), buf)
		}
		for _, s := range b.Series {
			ls := slices.DeleteFunc(slices.Clone(s.Labels), func(l batch.Label) bool { return slices.Contains(drop, l.Name) })
			key := batch.String(ls)
			if _, dup := out[key]; dup || len(s.Samples) != 1 {
				t.Fatalf("series %s twice, or with %d samples", key, len(s.Samples))
			}
			out[key] = s.Samples[0]
		}
	}
	return out
}

// TestTextPlansMatchRemoteWrite checks that JSON events (over HTTP and as
// MQTT payloads), Influx lines, OTLP requests and Prometheus text,
// decoded by premetrics' own decoders, are exactly the series and samples
// of the remote write plan of the same shape (less the model label, which
// the vehicle events do not carry), send after send, with churn.
func TestTextPlansMatchRemoteWrite(t *testing.T) {
	fleetJSON := Shape{Schema: SchemaFleet, Series: 300, ValueTicks: 3, Seed: 5, Churn: 0.2, ChurnInterval: time.Second}
	generic := Shape{Schema: SchemaGeneric, Series: 300, MetricsPerDevice: 3, CounterFraction: 0.4,
		ExtraLabels: 2, LabelValueLen: 12, LabelValues: 7, ValueTicks: 4, Seed: 6, Churn: 0.1, ChurnInterval: time.Second}
	fleetFull := Shape{Schema: SchemaFleet, Series: 400, FleetCounter: true, ExtraLabels: 1, LabelValueLen: 8, LabelValues: 3, ValueTicks: 2, Seed: 7}
	fleetChurn := Shape{Schema: SchemaFleet, Series: 400, FleetCounter: true, ExtraLabels: 2, LabelValueLen: 8, LabelValues: 3, ValueTicks: 3, Seed: 8,
		Churn: 0.2, ChurnInterval: time.Second}
	for _, tc := range []struct {
		name     string
		shape    Shape
		protocol string
		dec      decoder
		drop     []string
	}{
		{"json_fleet", fleetJSON, ProtocolJSON, jsonDecoder(exampleVehicles(t)), []string{fleet.LabelModel}},
		{"json_generic", generic, ProtocolJSON, jsonDecoder(shapeInput(t, generic)), nil},
		{"influx_fleet", fleetFull, ProtocolInflux, influxDecoder, nil},
		{"influx_generic", generic, ProtocolInflux, influxDecoder, nil},
		{"otlp_fleet", fleetFull, ProtocolOTLP, otlpDecoder, nil},
		{"otlp_fleet_churn", fleetChurn, ProtocolOTLP, otlpDecoder, nil},
		{"otlp_generic", generic, ProtocolOTLP, otlpDecoder, nil},
		{"prometheus_text_fleet", fleetFull, ProtocolPrometheusText, promtextDecoder, nil},
		{"prometheus_text_fleet_churn", fleetChurn, ProtocolPrometheusText, promtextDecoder, nil},
		{"prometheus_text_generic", generic, ProtocolPrometheusText, promtextDecoder, nil},
		// MQTT payloads are the JSON events, mapped by the same inputs.
		{"mqtt_fleet", fleetJSON, ProtocolMQTT, jsonDecoder(exampleVehicles(t)), []string{fleet.LabelModel}},
		{"mqtt_generic", generic, ProtocolMQTT, jsonDecoder(shapeInput(t, generic)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := NewPlan(tc.shape, 70)
			if err != nil {
				t.Fatal(err)
			}
			s := tc.shape
			s.Protocol = tc.protocol
			p, err := NewPlan(s, 70)
			if err != nil {
				t.Fatal(err)
			}
			if p.Protocol() != tc.protocol || p.Bodies() != ref.Bodies() || p.Series() != ref.Series() {
				t.Fatalf("protocol %s, %d bodies of %d series; remote write %d of %d", p.Protocol(), p.Bodies(), p.Series(), ref.Bodies(), ref.Series())
			}
			for tick := range int64(5) {
				ts := int64(1_790_000_000_000) + tick*1000 + 7
				churned := tick * 3
				got := series(t, p, tc.dec, tick, ts, churned)
				want := series(t, ref, remoteWriteDecoder, tick, ts, churned, tc.drop...)
				if len(got) != p.Series() || !maps.Equal(got, want) {
					for k, v := range want {
						if got[k] != v {
							t.Fatalf("tick %d: %s = %+v, want %+v (%d series, want %d)", tick, k, got[k], v, len(got), len(want))
						}
					}
					t.Fatalf("tick %d: %d series, want %d", tick, len(got), len(want))
				}
			}
			if r := p.CompressionRatio(); r != 1 {
				t.Errorf("compression ratio %v of a text body", r)
			}
		})
	}
}

// TestJSONFleetEventsAreTheScenarioSchema: every line is one JSON object
// with exactly the five fields of SCENARIOS.md, of the right types.
func TestJSONFleetEventsAreTheScenarioSchema(t *testing.T) {
	p, err := NewPlan(Shape{Schema: SchemaFleet, Protocol: ProtocolJSON, Series: 60, ValueTicks: 2, Seed: 1}, 25)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for j := range p.Bodies() {
		body, n := p.Render(nil, j, 1, 1_730_621_749_123, 0)
		lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		if len(lines) != n {
			t.Fatalf("body %d: %d lines, %d samples", j, len(lines), n)
		}
		for _, line := range lines {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			keys := slices.Sorted(maps.Keys(ev))
			if !slices.Equal(keys, []string{"eventType", "measurement", "region", "timestamp", "vehicleId"}) {
				t.Fatalf("fields %v: %s", keys, line)
			}
			et, _ := ev["eventType"].(string)
			id, _ := ev["vehicleId"].(string)
			ts, _ := ev["timestamp"].(float64)
			m, ok := ev["measurement"].(float64)
			if len(id) != 11 || id[0] != 'V' || ts != 1_730_621_749_123 || !ok || m != float64(int64(m)) {
				t.Fatalf("event %s", line)
			}
			if !strings.HasPrefix(line, `{"eventType":"`+et+`","vehicleId":"`) {
				t.Fatalf("field order: %s", line)
			}
			types[et]++
		}
	}
	if types[fleet.EventICRPM] != 20 || types[fleet.EventElectricRPM] != 20 || types[fleet.EventWarnings] != 20 {
		t.Errorf("event types %v", types)
	}
}

func TestInfluxLines(t *testing.T) {
	p, err := NewPlan(Shape{Schema: SchemaFleet, Protocol: ProtocolInflux, Series: 3, ValueTicks: 1, Seed: 1}, 10)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := p.Render(nil, 0, 0, 1_730_621_749_123, 0)
	v := fleet.New(fleet.Options{Vehicles: 1, Seed: 1}).Vehicles()[0]
	region := strings.ReplaceAll(v.Region, " ", `\ `)
	for i, prefix := range []string{
		"vehicle,engine=ic,model=" + v.Model + ",region=" + region + ",vehicle_id=" + v.ID + " rpm=",
		"vehicle,engine=electric,model=" + v.Model + ",region=" + region + ",vehicle_id=" + v.ID + " rpm=",
		"vehicle,model=" + v.Model + ",region=" + region + ",vehicle_id=" + v.ID + " warnings=",
	} {
		line := strings.Split(string(body), "\n")[i]
		if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, " 1730621749123000000") {
			t.Errorf("line %d: %q, want %q...", i, line, prefix)
		}
	}
}

func TestTextShapeValidate(t *testing.T) {
	for _, tc := range []struct {
		shape Shape
		want  string
	}{
		{Shape{Schema: SchemaFleet, Protocol: "otlp_json", Series: 1, ValueTicks: 1},
			`-protocol: must be one of "remote_write", "json", "influx", "otlp", "prometheus_text" or "mqtt", got "otlp_json"`},
		{Shape{Schema: SchemaFleet, Protocol: ProtocolMQTT, Series: 1, ValueTicks: 1, FleetCounter: true},
			"-fleet-counter: the vehicle events of SCENARIOS.md have no distance counter: use -fleet-counter=false with -protocol mqtt"},
		{Shape{Schema: SchemaFleet, Protocol: ProtocolJSON, Series: 1, ValueTicks: 1, FleetCounter: true}, "-fleet-counter: the vehicle events of SCENARIOS.md have no distance counter"},
		{Shape{Schema: SchemaFleet, Protocol: ProtocolJSON, Series: 1, ValueTicks: 1, ExtraLabels: 2, LabelValues: 1, LabelValueLen: 4}, "-extra-labels: the vehicle events of SCENARIOS.md have no extra fields: must be 0 with -protocol json, got 2"},
	} {
		if err := tc.shape.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.shape, err, tc.want)
		}
	}
	p, err := NewPlan(Shape{Schema: SchemaGeneric, Protocol: ProtocolJSON, Series: 1, MetricsPerDevice: 1, ValueTicks: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckTimestamp(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()); err != nil {
		t.Error(err)
	}
	if err := p.CheckTimestamp(9_000_000_000_001); err == nil || !strings.Contains(err.Error(), "13-character") {
		t.Errorf("a timestamp after 2255: %v", err)
	}
}

func TestRenderTextAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are not stable under the race detector")
	}
	for _, protocol := range []string{ProtocolJSON, ProtocolInflux, ProtocolOTLP, ProtocolPrometheusText, ProtocolMQTT} {
		p, err := NewPlan(Shape{Schema: SchemaGeneric, Protocol: protocol, Series: 2000, MetricsPerDevice: 2, CounterFraction: 0.5,
			ExtraLabels: 1, LabelValueLen: 8, LabelValues: 5, Churn: 0.5, ChurnInterval: time.Second, ValueTicks: 4}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, p.MaxBodyBytes())
		tick := int64(0)
		if allocs := testing.AllocsPerRun(20, func() {
			buf, _ = p.Render(buf, int(tick%2), tick, 1_790_000_000_000+tick, tick)
			tick++
		}); allocs != 0 {
			t.Errorf("%s: %v allocations per Render", protocol, allocs)
		}
	}
}

// textSink decodes JSON events (vehicles input) and Influx lines with
// premetrics' decoders, by Content-Type, as premetrics would.
type textSink struct {
	mu       sync.Mutex
	vehicles decoder
	samples  int
	requests map[string]int // by path and content type
}

func (s *textSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var dec decoder
	switch ct := r.Header.Get("Content-Type"); {
	case ct == "application/x-ndjson" && r.URL.Path == "/api/v1/push/vehicles":
		dec = s.vehicles
	case ct == "text/plain; charset=utf-8" && r.URL.Path == "/write":
		dec = influxDecoder
	default:
		http.Error(w, "unsupported "+ct+" at "+r.URL.Path, http.StatusUnsupportedMediaType)
		return
	}
	var b batch.Batch
	var res outcome.Result
	if err := dec(body, &b, &res); err != nil || res.RejectedItems > 0 || r.Header.Get("Content-Encoding") != "" {
		http.Error(w, res.Message("test"), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples += res.Samples
	s.requests[r.URL.Path+" "+r.Header.Get("Content-Type")]++
	w.WriteHeader(http.StatusNoContent)
}

func TestRunSendsTextProtocols(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sk := &textSink{vehicles: jsonDecoder(exampleVehicles(t)), requests: map[string]int{}}
		for _, tc := range []struct{ protocol, path string }{
			{ProtocolJSON, "/api/v1/push/vehicles"},
			{ProtocolInflux, "/write"},
		} {
			p := testPlan(t, Shape{Schema: SchemaFleet, Protocol: tc.protocol, Series: 300}, 100)
			sum, err := Run(t.Context(), p, Options{URL: "http://127.0.0.1:9201" + tc.path, Rate: 3000, Duration: 2 * time.Second,
				Connections: 2, Timeout: time.Second, Client: &http.Client{Transport: inProcess{sk}}})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Protocol != tc.protocol || sum.SamplesAccepted != 6000 || sum.StatusCounts["204"] != 60 || sum.AchievedRate != 3000 {
				t.Errorf("%s: summary %+v", tc.protocol, sum)
			}
		}
		if sk.samples != 12000 || sk.requests["/api/v1/push/vehicles application/x-ndjson"] != 60 || sk.requests["/write text/plain; charset=utf-8"] != 60 {
			t.Errorf("sink: %d samples, requests %v", sk.samples, sk.requests)
		}
	})
}

func TestJSONInputOfFleetIsTheExampleConfig(t *testing.T) {
	// The mapping loadgen prints for the fleet is the one of
	// config.example.yaml: same series from the same events.
	p, err := NewPlan(Shape{Schema: SchemaFleet, Protocol: ProtocolJSON, Series: 90, ValueTicks: 1}, 40)
	if err != nil {
		t.Fatal(err)
	}
	a := series(t, p, jsonDecoder(exampleVehicles(t)), 0, 1_790_000_000_000, 0)
	b := series(t, p, jsonDecoder(shapeInput(t, Shape{Schema: SchemaFleet})), 0, 1_790_000_000_000, 0)
	if !maps.Equal(a, b) || len(a) != 90 {
		t.Errorf("%d series with config.example.yaml, %d with JSONInput", len(a), len(b))
	}
	if name, text := (&Shape{Schema: SchemaFleet}).JSONInput(); name != "vehicles" || !bytes.Contains([]byte(text), []byte("when: {eventType: WARNINGS}")) {
		t.Errorf("JSONInput %q:\n%s", name, text)
	}
}
