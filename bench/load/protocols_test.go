package load

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/bench/fleet"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/ingest/otlp"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/testenv"
)

// TestOTLPHasAMetricPerName: a body has one Metric per metric name (the
// decoder counts them in Result.Metadata) and the counter is a Sum (its
// name gets _total only as a monotonic cumulative one).
func TestOTLPHasAMetricPerName(t *testing.T) {
	p, err := NewPlan(Shape{Schema: SchemaFleet, Protocol: ProtocolOTLP, Series: 40, FleetCounter: true, ValueTicks: 1}, 20)
	if err != nil {
		t.Fatal(err)
	}
	for j := range p.Bodies() {
		body, n := p.Render(nil, j, 0, 1_790_000_000_000, 0)
		var b batch.Batch
		var res outcome.Result
		if err := otlpDecoder(body, &b, &res); err != nil || res.Metadata != 3 || res.Items != n || res.RejectedItems != 0 {
			t.Fatalf("body %d: %v, %d metrics, %d data points of %d: %s", j, err, res.Metadata, res.Items, n, res.Message(otlp.Protocol))
		}
		names := map[string]int{}
		for _, s := range b.Series {
			for _, l := range s.Labels {
				if l.Name == "__name__" {
					names[l.Value]++
				}
			}
		}
		want := map[string]int{fleet.MetricRPM: 10, fleet.MetricWarnings: 5, MetricDistance: 5}
		if !maps.Equal(names, want) {
			t.Errorf("body %d: series by name %v, want %v", j, names, want)
		}
	}
	if err := p.CheckTimestamp(0); err == nil {
		t.Error("time_unix_nano 0 (no time) accepted")
	}
}

// TestPrometheusTextHasTypeLines: the lines of a metric follow its # TYPE
// line, which the decoder takes as metadata.
func TestPrometheusTextHasTypeLines(t *testing.T) {
	p, err := NewPlan(Shape{Schema: SchemaFleet, Protocol: ProtocolPrometheusText, Series: 8, FleetCounter: true, ValueTicks: 1, Seed: 3}, 8)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := p.Render(nil, 0, 0, 1_790_000_000_123, 0)
	var types []string
	current := ""
	for line := range strings.Lines(string(body)) {
		if t, ok := strings.CutPrefix(line, "# TYPE "); ok {
			types = append(types, strings.TrimSpace(t))
			current, _, _ = strings.Cut(t, " ")
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		if name != current || !strings.HasSuffix(line, " 1790000000123\n") {
			t.Errorf("line %q under # TYPE %s", line, current)
		}
	}
	want := []string{"vehicle_rpm gauge", "vehicle_warnings gauge", "vehicle_distance_meters_total counter"}
	if !slices.Equal(types, want) {
		t.Errorf("TYPE lines %q, want %q", types, want)
	}
	var b batch.Batch
	var res outcome.Result
	if err := promtextDecoder(body, &b, &res); err != nil || res.Metadata != 3 || res.Samples != 8 {
		t.Errorf("%v: %d metadata lines, %d samples", err, res.Metadata, res.Samples)
	}
}

func TestParseExportResponse(t *testing.T) {
	var res outcome.Result
	res.Reset()
	if n, msg, err := parseExportResponse(otlp.AppendResponse(nil, otlp.Protobuf, &res)); n != 0 || msg != "" || err != nil {
		t.Errorf("full success: %d %q %v", n, msg, err)
	}
	res.Items, res.RejectedItems, res.RejectedSamples = 10, 3, 3
	body := otlp.AppendResponse(nil, otlp.Protobuf, &res)
	n, msg, err := parseExportResponse(body)
	if n != 3 || msg != res.Message(otlp.Protocol) || err != nil {
		t.Errorf("partial success: %d %q %v, want 3 %q", n, msg, err, res.Message(otlp.Protocol))
	}
	// Unknown fields are skipped; a truncated body is an error.
	if n, _, err := parseExportResponse(append([]byte{0x10, 0x05}, body...)); n != 3 || err != nil {
		t.Errorf("with an unknown field: %d %v", n, err)
	}
	if _, _, err := parseExportResponse(body[:len(body)-2]); err == nil || !strings.Contains(err.Error(), "cannot parse ExportMetricsServiceResponse") {
		t.Errorf("truncated: %v", err)
	}
}

// recorder is an ingest.Pipeline that keeps what it is given.
type recorder struct {
	mu      sync.Mutex
	samples int
	series  map[string]bool
}

func (r *recorder) Admit() (time.Duration, bool) { return 0, true }

func (r *recorder) Ingest(_ context.Context, b *batch.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range b.Series {
		r.samples += len(s.Samples)
		r.series[batch.String(s.Labels)] = true
	}
	return nil
}

// premetricsServer serves premetrics' own push handlers (ingest.Register)
// into a recorder, with at most maxLabels labels per series.
func premetricsServer(t *testing.T, maxLabels int) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{series: map[string]bool{}}
	cfg := ingest.DefaultConfig()
	cfg.MaxLabelsPerSeries = maxLabels
	mux := http.NewServeMux()
	ingest.Register(mux, cfg, ingest.Inputs{OTLP: true, PrometheusText: true}, rec, ingest.NewMetrics(prometheus.NewRegistry()), nil)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

// TestRunSendsOTLPAndTextToPremetrics runs the built-in client against
// premetrics' HTTP handlers: every data point and line arrives, and the
// data points of an OTLP partial success are counted as rejected.
func TestRunSendsOTLPAndTextToPremetrics(t *testing.T) {
	shape := Shape{Schema: SchemaFleet, Series: 400, FleetCounter: true, ValueTicks: 2}
	for _, tc := range []struct {
		protocol, path string
		maxLabels      int
		accepted       int64
	}{
		{ProtocolOTLP, ingest.OTLPPath, 0, 4000},
		{ProtocolPrometheusText, ingest.PrometheusTextPath, 0, 4000},
		// vehicle_rpm has 5 labels, the other two 4: half is rejected.
		{ProtocolOTLP, ingest.OTLPPath, 4, 2000},
	} {
		t.Run(fmt.Sprintf("%s_%d", tc.protocol, tc.maxLabels), func(t *testing.T) {
			srv, rec := premetricsServer(t, tc.maxLabels)
			s := shape
			s.Protocol = tc.protocol
			p := testPlan(t, s, 100)
			sum, err := Run(t.Context(), p, Options{URL: srv.URL + tc.path, Rate: 4000, Duration: time.Second, Connections: 2, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ok := map[string]string{ProtocolOTLP: "200", ProtocolPrometheusText: "204"}[tc.protocol]
			if sum.Protocol != tc.protocol || sum.Requests != 40 || sum.StatusCounts[ok] != 40 || sum.SamplesSent != 4000 || sum.SamplesAccepted != tc.accepted {
				t.Fatalf("summary: %d requests, status %v, %d sent, %d accepted, errors %v", sum.Requests, sum.StatusCounts, sum.SamplesSent, sum.SamplesAccepted, sum.FirstErrors)
			}
			if rec.samples != int(tc.accepted) || (tc.maxLabels == 0 && len(rec.series) != 400) {
				t.Errorf("premetrics took %d samples of %d series", rec.samples, len(rec.series))
			}
			if tc.maxLabels > 0 && (sum.RejectedSamples["200"] != 2000 || !strings.Contains(sum.FirstErrors["200"], "too_many_labels")) {
				t.Errorf("rejected %v, first errors %q", sum.RejectedSamples, sum.FirstErrors)
			}
		})
	}
}

// TestRunPublishesToMosquitto publishes the vehicle events to a real
// broker and reads them back with a subscriber: every message arrives on
// its gateway's topic, and decodes, with the vehicles input of
// config.example.yaml, to the series of remote write less model.
func TestRunPublishesToMosquitto(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	dec := jsonDecoder(exampleVehicles(t))
	var mu sync.Mutex
	topics := map[string]int{}
	got := map[string]bool{}
	samples, messages := 0, 0
	var decodeErr error
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(m.URL()).SetClientID("loadgen-test-sub").SetCleanSession(true))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: cannot connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe("vehicles/+/events", 1, func(_ paho.Client, msg paho.Message) {
		var b batch.Batch
		var res outcome.Result
		err := dec(msg.Payload(), &b, &res)
		mu.Lock()
		defer mu.Unlock()
		messages++
		topics[msg.Topic()]++
		if err == nil && res.RejectedItems > 0 {
			err = errors.New(res.Message("json"))
		}
		if err != nil && decodeErr == nil {
			decodeErr = err
		}
		samples += res.Samples
		for _, s := range b.Series {
			got[batch.String(s.Labels)] = true
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: cannot subscribe: %v", tok.Error())
	}

	shape := Shape{Schema: SchemaFleet, Protocol: ProtocolMQTT, Series: 300, ValueTicks: 2, Seed: 4}
	p := testPlan(t, shape, 10)
	opts := Options{MQTT: MQTTOptions{Broker: m.URL(), Topic: "vehicles/" + MQTTGateway + "/events", Inflight: 4},
		Rate: 3000, Duration: time.Second, Connections: 3, Timeout: 5 * time.Second}
	sum, err := Run(t.Context(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Protocol != ProtocolMQTT || sum.URL != m.URL() || sum.MQTTTopic != opts.MQTT.Topic || sum.Requests != 300 ||
		sum.StatusCounts[statusPuback] != 300 || sum.SamplesAccepted != 3000 || sum.AchievedRate < 2000 {
		t.Fatalf("summary: %d requests, status %v, %d accepted at %.0f/s, errors %v", sum.Requests, sum.StatusCounts, sum.SamplesAccepted, sum.AchievedRate, sum.FirstErrors)
	}
	testenv.WaitFor(t, 10*time.Second, "the subscriber to get every message", func() error {
		mu.Lock()
		defer mu.Unlock()
		if messages < 300 {
			return fmt.Errorf("%d messages of 300", messages)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if decodeErr != nil || samples != 3000 || messages != 300 {
		t.Errorf("%d messages, %d samples, decode error %v", messages, samples, decodeErr)
	}
	if want := map[string]int{"vehicles/gw0/events": 100, "vehicles/gw1/events": 100, "vehicles/gw2/events": 100}; !maps.Equal(topics, want) {
		t.Errorf("messages by topic %v, want %v", topics, want)
	}
	ref := shape
	ref.Protocol = ProtocolRemoteWrite
	want := series(t, testPlan(t, ref, 10), remoteWriteDecoder, 0, 1_790_000_000_000, 0, fleet.LabelModel)
	if len(got) != len(want) {
		t.Errorf("%d series, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Errorf("series %s never arrived", k)
			break
		}
	}
}

// TestRunMQTTWithoutBroker: every publish fails, counted as an error, and
// the run ends on schedule.
func TestRunMQTTWithoutBroker(t *testing.T) {
	defer checkGoroutines(t, runtime.NumGoroutine())
	p := testPlan(t, Shape{Schema: SchemaFleet, Protocol: ProtocolMQTT, Series: 30}, 10)
	port := testenv.FreePort(t) // nothing listens there
	sum, err := Run(t.Context(), p, Options{MQTT: MQTTOptions{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", port), Topic: "t", Inflight: 2},
		Rate: 300, Duration: 500 * time.Millisecond, Connections: 2, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 15 || sum.StatusCounts["error"] != 15 || sum.SamplesAccepted != 0 || !strings.Contains(sum.FirstErrors["error"], "cannot connect to the MQTT broker") {
		t.Errorf("%d requests, status %v, errors %q", sum.Requests, sum.StatusCounts, sum.FirstErrors)
	}
}

// TestRunMQTTWithoutPuback: a broker that never acknowledges: the
// publishes time out and the connection falls behind once its in-flight
// window is full.
func TestRunMQTTWithoutPuback(t *testing.T) {
	defer checkGoroutines(t, runtime.NumGoroutine())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() {
		l.Close()
		wg.Wait() // the client's disconnect ends the connection
	}()
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if _, err := packets.ReadPacket(c); err != nil { // CONNECT
					return
				}
				if err := packets.NewControlPacket(packets.Connack).Write(c); err != nil {
					return
				}
				for { // PUBLISH, never answered
					if _, err := packets.ReadPacket(c); err != nil {
						return
					}
				}
			})
		}
	})
	p := testPlan(t, Shape{Schema: SchemaFleet, Protocol: ProtocolMQTT, Series: 30}, 10)
	sum, err := Run(t.Context(), p, Options{MQTT: MQTTOptions{Broker: "tcp://" + l.Addr().String(), Topic: "t", Inflight: 2},
		Rate: 300, Duration: 500 * time.Millisecond, Connections: 1, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 15 || sum.StatusCounts["error"] != 15 || !strings.Contains(sum.FirstErrors["error"], "no PUBACK within 200ms") || sum.BehindMaxSeconds < 0.1 {
		t.Errorf("%d requests, status %v, errors %q, behind %.3fs", sum.Requests, sum.StatusCounts, sum.FirstErrors, sum.BehindMaxSeconds)
	}
}

// checkGoroutines fails the test unless the goroutines are back to
// before (the MQTT clients stopped).
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, "goroutines to end", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}

func TestMQTTOptions(t *testing.T) {
	for _, tc := range []struct {
		o    MQTTOptions
		want string
	}{
		{MQTTOptions{Broker: "tcp://192.0.2.1:1883", Topic: "t", Inflight: 1}, `host "192.0.2.1" is not a loopback address`},
		{MQTTOptions{Broker: "ssl://127.0.0.1:8883", Topic: "t", Inflight: 1}, "scheme must be tcp or mqtt"},
		{MQTTOptions{Broker: "tcp://127.0.0.1", Topic: "a/+/b", Inflight: 1}, `-mqtt-topic: must be a topic name without wildcards, got "a/+/b"`},
		{MQTTOptions{Broker: "tcp://127.0.0.1", Topic: "t", Inflight: 0}, "-mqtt-inflight: must be in [1, 10000], got 0"},
	} {
		o := Options{MQTT: tc.o, Rate: 1, Duration: time.Second, Connections: 1, Timeout: time.Second}
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
	if u, err := brokerURL("mqtt://localhost"); u != "tcp://localhost:1883" || err != nil {
		t.Errorf("brokerURL: %q %v", u, err)
	}
	if got := gatewayTopic("fleet/"+MQTTGateway+"/events", 7); got != "fleet/gw7/events" {
		t.Errorf("topic %q", got)
	}
	// A plan and options of different protocols.
	ok := Options{URL: "http://127.0.0.1:9201/v1/metrics", Rate: 1, Duration: time.Second, Connections: 1, Timeout: time.Second}
	if _, err := Run(t.Context(), testPlan(t, Shape{Schema: SchemaFleet, Protocol: ProtocolMQTT, Series: 3}, 3), ok); !errors.Is(err, errNoBroker) {
		t.Errorf("mqtt plan without a broker: %v", err)
	}
	ok.MQTT = MQTTOptions{Broker: "tcp://127.0.0.1:1883", Topic: "t", Inflight: 1}
	if _, err := Run(t.Context(), testPlan(t, Shape{Schema: SchemaFleet, Protocol: ProtocolOTLP, Series: 3}, 3), ok); err == nil || !strings.Contains(err.Error(), "only with -protocol mqtt") {
		t.Errorf("otlp plan with a broker: %v", err)
	}
}
