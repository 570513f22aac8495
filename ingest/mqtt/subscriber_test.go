package mqtt

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/testenv"
)

// These tests run against a real Mosquitto (testenv.StartMosquitto) and
// publish with mosquitto_pub; the pipeline and the decoder are fakes.

var qos1 = testenv.PublishOptions{QoS: 1}

func TestWildcardTopicLabelsAndQoS(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	cfg := baseConfig(t, m.URL(),
		TopicConfig{Filter: "vehicles/+/events", QoS: 1, Format: FormatInflux,
			TopicLabels: map[string]int{"vehicle": 1, "kind": 2}},
		TopicConfig{Filter: "fleet/#", QoS: 0, Format: FormatJSON, Input: "text",
			TopicLabels: map[string]int{"fleet": 1, "absent": 4}},
	)
	h := newHarness(t, cfg, nil)
	h.start(t)
	h.waitConnected(t, m.URL())

	// The topic wins over the payload's own vehicle label.
	m.Publish(t, "vehicles/v42/events", []byte("vehicle_rpm 1200 region=eu vehicle=spoofed"), qos1)
	m.Publish(t, "other/x", []byte("not_subscribed 1"), qos1)
	m.Publish(t, "fleet/north/a/b", []byte("fleet_size 3\nfleet_speed 4 kind=x"), qos1)
	// An empty level adds nothing.
	m.Publish(t, "fleet//z", []byte("fleet_size 5"), qos1)
	h.p.waitSeries(t,
		`vehicle_rpm{kind="events", region="eu", vehicle="v42"}`,
		`fleet_size{fleet="north"}`,
		`fleet_speed{fleet="north", kind="x"}`,
		`fleet_size{}`,
	)
	waitCounter(t, "accepted", 3, func() float64 { return h.messages(ResultAccepted) })
	if got := h.samplesTotal(); got != 4 {
		t.Errorf("premetrics_ingest_samples_total{protocol=mqtt} = %v, want 4", got)
	}
	// QoS as subscribed: the broker forwarded the QoS 1 message with QoS
	// 1, the fleet ones downgraded to 0; premetrics acknowledged the
	// first.
	id := h.s.ClientID()
	out := m.Output()
	for _, want := range []string{
		"Sending PUBLISH to " + id + " (d0, q1, r0, m1, 'vehicles/v42/events'",
		"Sending PUBLISH to " + id + " (d0, q0, r0, m0, 'fleet/north/a/b'",
		"Received PUBACK from " + id,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("broker log lacks %q", want)
		}
	}
}

// brokerCount counts the broker log lines containing s.
func brokerCount(m *testenv.Mosquitto, s string) int { return strings.Count(m.Output(), s) }

func TestAckOnlyAfterIngestAndRetryUntilAdmitted(t *testing.T) {
	// A small in-flight window shows that holding acknowledgements holds
	// the broker back.
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{ExtraConfig: "max_inflight_messages 2"})
	p := &fakePipeline{refuse: true}
	h := newHarness(t, baseConfig(t, m.URL()), p)
	h.start(t)
	h.waitConnected(t, m.URL())
	id := h.s.ClientID()

	for i := 1; i <= 5; i++ {
		m.Publish(t, "t/x", fmt.Appendf(nil, "m 1 seq=%d", i), qos1)
	}
	// The first message is held: retried, not ingested, not acknowledged,
	// and the broker sent no more than its window.
	waitCounter(t, "retried", 5, func() float64 { return h.messages(ResultRetried) })
	if got := p.got(); len(got) != 0 {
		t.Fatalf("ingested %q while the pipeline refused", got)
	}
	if n := brokerCount(m, "Received PUBACK from "+id); n != 0 {
		t.Fatalf("%d PUBACKs while the pipeline refused, want 0", n)
	}
	if n := brokerCount(m, "Sending PUBLISH to "+id); n != 2 {
		t.Fatalf("broker sent %d messages with max_inflight_messages 2 and none acknowledged, want 2", n)
	}

	// Admitted, Ingest still fails twice with ErrBackoff: the message is
	// decoded afresh each time (the fake mangles the batch) and arrives
	// once, followed by the rest in order.
	p.mu.Lock()
	p.failIngest = 2
	p.refuse = false
	p.mu.Unlock()
	h.p.waitSeries(t, `m{seq="1"}`, `m{seq="2"}`, `m{seq="3"}`, `m{seq="4"}`, `m{seq="5"}`)
	testenv.WaitFor(t, 10*time.Second, "5 PUBACKs", func() error {
		if n := brokerCount(m, "Received PUBACK from "+id); n != 5 {
			return fmt.Errorf("%d PUBACKs", n)
		}
		return nil
	})
	if got := h.messages(ResultAccepted); got != 5 {
		t.Errorf("accepted = %v, want 5", got)
	}
	h.waitLog(t, "pipeline is not admitting data; holding the MQTT message unacknowledged", "pipeline is busy")
}

func TestMalformedAndRejectedPayloadsAreAckedAndCounted(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	h := newHarness(t, baseConfig(t, m.URL()), nil)
	h.start(t)
	h.waitConnected(t, m.URL())

	m.Publish(t, "t/poison", []byte("!garbage"), qos1)
	m.Publish(t, "t/partly", []byte("a 1\nnot-a-line\n"), qos1)
	m.Publish(t, "t/good", []byte("good 1"), qos1)
	h.p.waitSeries(t, `a{}`, `good{}`)

	// A message is counted after the pipeline took its series: wait for
	// the counts rather than read them once.
	testenv.WaitFor(t, 10*time.Second, "the message counts", func() error {
		for result, want := range map[string]float64{ResultMalformed: 1, ResultRejected: 1, ResultAccepted: 1, ResultRetried: 0} {
			if got := h.messages(result); got != want {
				return fmt.Errorf("messages_total{result=%q} = %v, want %v", result, got, want)
			}
		}
		if got := h.gauge("premetrics_ingest_rejected_samples_total", "reason", "malformed"); got != 1 {
			return fmt.Errorf("rejected_samples_total{reason=malformed} = %v, want 1", got)
		}
		if got := h.samplesTotal(); got != 2 {
			return fmt.Errorf("samples_total = %v, want 2", got)
		}
		return nil
	})
	h.waitLog(t, "malformed MQTT payload; acknowledged and dropped", "topic=t/poison", "not a text payload",
		"rejected items in an MQTT message", "topic=t/partly", "reason=malformed")
	testenv.WaitFor(t, 5*time.Second, "3 PUBACKs", func() error {
		if n := brokerCount(m, "Received PUBACK from "+h.s.ClientID()); n != 3 {
			return fmt.Errorf("%d PUBACKs", n)
		}
		return nil
	})
}

func TestCredentials(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{Users: map[string]string{"device": "right"}})

	cfg := baseConfig(t, m.URL())
	cfg.Username, cfg.Password = "device", "wrong"
	bad := newHarness(t, cfg, nil)
	bad.start(t)
	bad.waitLog(t, "MQTT broker refused the credentials; check username and password", "client_id="+bad.s.ClientID())
	if v := bad.gauge("premetrics_mqtt_connected", "broker", m.URL()); v != 0 || bad.s.Connected() {
		t.Errorf("with a wrong password: connected gauge %v, Connected() %v", v, bad.s.Connected())
	}

	cfg = baseConfig(t, m.URL())
	cfg.ClientID += "-good"
	cfg.Username, cfg.Password = "device", "right"
	good := newHarness(t, cfg, nil)
	good.start(t)
	good.waitConnected(t, m.URL())
	m.Publish(t, "t/x", []byte("authed 1"), testenv.PublishOptions{QoS: 1, Username: "device", Password: "right"})
	good.p.waitSeries(t, `authed{}`)
	if got := bad.p.got(); len(got) != 0 {
		t.Errorf("unauthenticated input got %q", got)
	}
}

func TestTLSWithCAAndClientCertificate(t *testing.T) {
	certs := testenv.WriteTestCerts(t)
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{TLS: &testenv.MosquittoTLS{
		CAFile: certs.CAFile, CertFile: certs.CertFile, KeyFile: certs.KeyFile, RequireClientCert: true,
	}})

	cfg := baseConfig(t, m.TLSURL())
	cfg.TLS = &TLSConfig{CAFile: certs.CAFile, CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}
	h := newHarness(t, cfg, nil)
	h.start(t)
	h.waitConnected(t, m.TLSURL())
	m.Publish(t, "t/secure", []byte("over_tls 1"), qos1)
	h.p.waitSeries(t, `over_tls{}`)

	// Without the CA the broker's certificate does not verify.
	cfg = baseConfig(t, m.TLSURL())
	cfg.ClientID += "-noca"
	cfg.TLS = &TLSConfig{CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile}
	noCA := newHarness(t, cfg, nil)
	noCA.start(t)
	noCA.waitLog(t, "cannot connect to MQTT broker; retrying", "certificate")
	if noCA.s.Connected() {
		t.Error("connected without trusting the broker's CA")
	}
}

func TestBrokerRestartReconnectsAndRedeliversHeldMessage(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	p := &fakePipeline{}
	h := newHarness(t, baseConfig(t, m.URL()), p)
	h.start(t)
	h.waitConnected(t, m.URL())
	m.Publish(t, "t/a", []byte("first 1"), qos1)
	p.waitSeries(t, `first{}`)

	// A message held (unacknowledged) by a busy pipeline when the broker
	// goes away is not lost and not ingested twice: the broker persisted
	// it and delivers it again after the reconnect.
	p.setRefuse(true)
	m.Publish(t, "t/a", []byte("held 1"), qos1)
	waitCounter(t, "retried", 1, func() float64 { return h.messages(ResultRetried) })
	m.Stop(t)
	testenv.WaitFor(t, 10*time.Second, "disconnected", func() error {
		if v := h.gauge("premetrics_mqtt_connected", "broker", m.URL()); v != 0 {
			return fmt.Errorf("connected gauge %v", v)
		}
		return nil
	})
	h.waitLog(t, "lost the connection to the MQTT broker; reconnecting")
	waitCounter(t, "abandoned", 1, func() float64 { return h.messages(ResultAbandoned) })

	m.Start(t)
	waitCounter(t, "reconnects", 1, func() float64 { return h.gauge("premetrics_mqtt_reconnects_total", "input", "test") })
	h.waitConnected(t, m.URL())
	p.setRefuse(false)
	m.Publish(t, "t/a", []byte("after 1"), qos1)
	p.waitSeries(t, `first{}`, `held{}`, `after{}`)
	// The restarted broker sent the held message again, flagged DUP, and
	// kept the subscription in the session: no second SUBSCRIBE (which
	// would resend retained messages).
	if want := "Sending PUBLISH to " + h.s.ClientID() + " (d1, q1"; !strings.Contains(m.Output(), want) {
		t.Errorf("restarted broker's log lacks %q", want)
	}
	if strings.Contains(m.Output(), "Received SUBSCRIBE from "+h.s.ClientID()) {
		t.Error("subscribed again into a present session")
	}
	h.waitLog(t, "session_present=true")
}

func TestPersistentSessionQueuesWhileAway(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	cfg := baseConfig(t, m.URL(),
		TopicConfig{Filter: "t/#", QoS: 1, Format: FormatInflux},
		TopicConfig{Filter: "old/#", QoS: 1, Format: FormatInflux})
	first := newHarness(t, cfg, nil)
	first.start(t)
	first.waitConnected(t, m.URL())
	if err := first.s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Published while premetrics is away, kept across a broker restart.
	m.Publish(t, "t/a", []byte("away 1 n=1"), qos1)
	m.Publish(t, "old/a", []byte("leftover 1"), qos1)
	m.Publish(t, "t/a", []byte("away 1 n=2"), qos1)
	m.Restart(t)

	// The same client ID with a config that dropped old/#: the broker
	// still has that subscription in the session; its message is
	// acknowledged and counted, not ingested and not left in flight.
	cfg.Topics = cfg.Topics[:1]
	second := newHarness(t, cfg, nil)
	second.start(t)
	second.p.waitSeries(t, `away{n="1"}`, `away{n="2"}`)
	waitCounter(t, "unmatched", 1, func() float64 { return second.messages(ResultUnmatched) })
	second.waitLog(t, "no configured filter matches", "topic=old/a")
}

func TestStopIsCleanAndKeepsHeldMessage(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	before := runtime.NumGoroutine()

	// Stop without Start is fine.
	idle := newHarness(t, baseConfig(t, m.URL()), nil)
	if err := idle.s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop without Start: %v", err)
	}

	p := &fakePipeline{}
	cfg := baseConfig(t, m.URL())
	h := newHarness(t, cfg, p)
	h.start(t)
	h.waitConnected(t, m.URL())
	m.Publish(t, "t/a", []byte("one 1"), qos1)
	p.waitSeries(t, `one{}`)
	p.setRefuse(true)
	m.Publish(t, "t/a", []byte("held 1"), qos1)
	waitCounter(t, "retried", 1, func() float64 { return h.messages(ResultRetried) })

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %v", time.Since(start))
	if err := h.s.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := h.s.Start(ctx); err == nil {
		t.Fatal("Start after Stop succeeded")
	}
	if got := h.messages(ResultAbandoned); got != 1 {
		t.Errorf("abandoned = %v, want 1 (the held message)", got)
	}
	if v := h.gauge("premetrics_mqtt_connected", "broker", m.URL()); v != 0 {
		t.Errorf("connected gauge after Stop = %v", v)
	}
	testenv.WaitFor(t, 5*time.Second, "a clean DISCONNECT", func() error {
		if !strings.Contains(m.Output(), "Received DISCONNECT from "+h.s.ClientID()) {
			return fmt.Errorf("broker saw no DISCONNECT from %s", h.s.ClientID())
		}
		return nil
	})
	testenv.WaitFor(t, 5*time.Second, "goroutines to end", func() error {
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("%d goroutines, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})

	// The held message was left unacknowledged: the next session gets it.
	again := newHarness(t, cfg, nil)
	again.start(t)
	again.p.waitSeries(t, `held{}`)
}

func TestStartWithBrokerDown(t *testing.T) {
	port := testenv.FreePort(t)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)

	// Not required: Start succeeds, the input reports and logs why.
	h := newHarness(t, baseConfig(t, url), nil)
	h.start(t)
	h.waitLog(t, "cannot connect to MQTT broker; retrying", "connection refused")
	if v := h.gauge("premetrics_mqtt_connected", "broker", url); v != 0 || h.s.Connected() {
		t.Errorf("connected gauge %v, Connected() %v", v, h.s.Connected())
	}

	// Required: Start fails when its context ends first.
	cfg := baseConfig(t, url)
	cfg.ClientID += "-required"
	cfg.Required = true
	r := newHarness(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := r.s.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "required: true") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Start = %v, want a required-connection error saying connection refused", err)
	}
}

func TestStartRequiredConnects(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	cfg := baseConfig(t, m.URL())
	cfg.Required = true
	h := newHarness(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !h.s.Connected() {
		t.Fatal("Start returned before the connection was up")
	}
}

func TestStopHonoursItsDeadline(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	p := &fakePipeline{block: make(chan struct{})} // Ingest never returns by itself
	h := newHarness(t, baseConfig(t, m.URL()), p)
	h.start(t)
	h.waitConnected(t, m.URL())
	m.Publish(t, "t/a", []byte("stuck 1"), qos1)
	testenv.WaitFor(t, 10*time.Second, "Ingest to block", func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.blocked == 0 {
			return fmt.Errorf("Ingest not called yet")
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	h.stopErrOK = true
	err := h.s.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("Stop = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop took %v with a 200ms deadline", d)
	}
	// Ingest's context was cancelled: the message was abandoned, not
	// acknowledged.
	if got := h.messages(ResultAbandoned); got != 1 {
		t.Errorf("abandoned = %v, want 1", got)
	}
	if n := brokerCount(m, "Received PUBACK from "+h.s.ClientID()); n != 0 {
		t.Errorf("%d PUBACKs for a message the pipeline never took", n)
	}
}

func TestCleanSessionResubscribesAfterRestart(t *testing.T) {
	m := testenv.StartMosquitto(t, testenv.MosquittoOptions{})
	cfg := baseConfig(t, m.URL())
	cfg.CleanSession = true
	h := newHarness(t, cfg, nil)
	h.start(t)
	h.waitConnected(t, m.URL())
	m.Restart(t)
	waitCounter(t, "reconnects", 1, func() float64 { return h.gauge("premetrics_mqtt_reconnects_total", "input", "test") })
	testenv.WaitFor(t, 10*time.Second, "a new SUBSCRIBE", func() error {
		if !strings.Contains(m.Output(), "Received SUBSCRIBE from "+h.s.ClientID()) {
			return fmt.Errorf("no SUBSCRIBE after the restart")
		}
		return nil
	})
	m.Publish(t, "t/a", []byte("after 1"), qos1)
	h.p.waitSeries(t, `after{}`)
}
