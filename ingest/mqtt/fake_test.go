package mqtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/testenv"
)

// textDecoder is a tiny decoder for tests: one series per line,
// "name value [label=value ...]". An empty payload or one starting with
// "!" does not decode at all; a line of another shape is a rejected item.
type textDecoder struct{}

func (textDecoder) Decode(payload []byte, b *batch.Batch, now int64, res *outcome.Result) error {
	res.Reset()
	if len(payload) == 0 || payload[0] == '!' {
		return outcome.Errorf(outcome.KindMalformed, "byte 0", "not a text payload")
	}
	for i, line := range strings.Split(strings.TrimSpace(string(payload)), "\n") {
		res.Items++
		f := strings.Fields(line)
		var v float64
		var err error
		if len(f) >= 2 {
			v, err = strconv.ParseFloat(f[1], 64)
		}
		if len(f) < 2 || err != nil {
			res.Reject(outcome.Rejection{Item: i + 1, ItemKind: "line", Reason: outcome.ReasonMalformed, Detail: "want: name value [k=v ...]"})
			continue
		}
		b.StartSeries()
		b.AddLabel(batch.MetricName, f[0])
		for _, kv := range f[2:] {
			k, val, _ := strings.Cut(kv, "=")
			b.AddLabel(k, val)
		}
		b.AddSample(now, v)
		if !b.FinishSeries() {
			res.Reject(outcome.Rejection{Item: i + 1, ItemKind: "line", Reason: outcome.ReasonDuplicateLabel, Samples: 1})
			continue
		}
		res.Series++
		res.Samples++
	}
	return nil
}

func textDecoders(format, input string) (Decoder, error) {
	if format == FormatInflux || (format == FormatJSON && input == "text") {
		return textDecoder{}, nil
	}
	return nil, fmt.Errorf("no decoder for %s/%s", format, input)
}

// busyError is ErrBackoff with a short retry hint.
type busyError struct{}

func (busyError) Error() string             { return "busy" }
func (busyError) Unwrap() error             { return ingest.ErrBackoff }
func (busyError) RetryAfter() time.Duration { return 20 * time.Millisecond }

// fakePipeline records the series it ingests (labels only, as text) and
// can be told to block or refuse: while refuse is set, Admit says no; while
// failIngest > 0, Ingest fails with ErrBackoff and counts down.
type fakePipeline struct {
	block chan struct{} // when set (before Start), Ingest waits for it or ctx

	mu         sync.Mutex
	blocked    int // Ingest calls that waited for block
	refuse     bool
	failIngest int
	admits     int
	series     []string
}

func (p *fakePipeline) Admit() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.admits++
	return 20 * time.Millisecond, !p.refuse
}

func (p *fakePipeline) Ingest(ctx context.Context, b *batch.Batch) error {
	if p.block != nil {
		p.mu.Lock()
		p.blocked++
		p.mu.Unlock()
		select {
		case <-p.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Edit the batch in place like the real pipeline (relabeling), so a
	// retry that reused it instead of decoding afresh would show.
	defer func() {
		for _, s := range b.Series {
			s.Labels[0].Value = "MANGLED"
		}
	}()
	if p.failIngest > 0 {
		p.failIngest--
		return busyError{}
	}
	for _, s := range b.Series {
		p.series = append(p.series, batch.String(s.Labels))
	}
	return nil
}

func (p *fakePipeline) setRefuse(v bool) {
	p.mu.Lock()
	p.refuse = v
	p.mu.Unlock()
}

func (p *fakePipeline) got() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.series)
}

// waitSeries waits until the pipeline got exactly want, in order.
func (p *fakePipeline) waitSeries(t *testing.T, want ...string) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "series "+strings.Join(want, " "), func() error {
		got := p.got()
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			return fmt.Errorf("got %q, want %q", got, want) // wrong already: keep waiting shows it
		}
		if len(got) < len(want) {
			return fmt.Errorf("got %d of %d: %q", len(got), len(want), got)
		}
		return nil
	})
	if got := p.got(); !slices.Equal(got, want) {
		t.Fatalf("series = %q, want %q", got, want)
	}
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a Subscriber with a fake pipeline, registered metrics and a
// captured log.
type harness struct {
	s        *Subscriber
	p        *fakePipeline
	log      *syncBuffer
	reg      *prometheus.Registry
	samples  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	// stopErrOK: the test made Stop fail on purpose.
	stopErrOK bool
}

// baseConfig is a config for broker with one text topic; fast backoff.
func baseConfig(t *testing.T, broker string, topics ...TopicConfig) Config {
	cfg := DefaultConfig()
	cfg.Name = "test"
	cfg.ClientID = "premetrics-" + strings.NewReplacer("/", "-").Replace(t.Name())
	cfg.Brokers = []string{broker}
	cfg.Reconnect.MinBackoff.Set("100ms")
	cfg.Reconnect.MaxBackoff.Set("500ms")
	cfg.ConnectTimeout.Set("5s")
	if len(topics) == 0 {
		topics = []TopicConfig{{Filter: "t/#", QoS: 1, Format: FormatInflux}}
	}
	cfg.Topics = topics
	return cfg
}

// newHarness creates (without starting) a Subscriber; cleanup stops it.
func newHarness(t *testing.T, cfg Config, p *fakePipeline) *harness {
	t.Helper()
	if p == nil {
		p = &fakePipeline{}
	}
	h := &harness{p: p, log: &syncBuffer{}, reg: prometheus.NewRegistry()}
	h.samples = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "premetrics_ingest_samples_total"}, []string{"protocol"})
	h.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "premetrics_ingest_rejected_samples_total"}, []string{"protocol", "reason"})
	h.reg.MustRegister(h.samples, h.rejected)
	m := NewMetrics(h.reg, SharedMetrics{Samples: h.samples, Rejected: h.rejected})
	log := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(cfg, p, textDecoders, m, log)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil && !h.stopErrOK {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("--- subscriber log ---\n%s", h.log.String())
		}
	})
	return h
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	if err := h.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitConnected waits until the connected gauge of broker is 1.
func (h *harness) waitConnected(t *testing.T, broker string) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "connected to "+broker, func() error {
		if v := h.gauge("premetrics_mqtt_connected", "broker", broker); v != 1 {
			return fmt.Errorf("premetrics_mqtt_connected{broker=%q} = %v", broker, v)
		}
		if !h.s.Connected() {
			return errors.New("Connected() is false")
		}
		return nil
	})
	// The subscription follows the connection: wait for its log line.
	h.waitLog(t, "subscribed to MQTT topic")
}

// waitLog waits until the log contains each of parts.
func (h *harness) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, fmt.Sprintf("log %q", parts), func() error {
		out := h.log.String()
		for _, p := range parts {
			if !strings.Contains(out, p) {
				return fmt.Errorf("%q not logged yet", p)
			}
		}
		return nil
	})
}

// messages returns premetrics_mqtt_messages_total{input="test",result}.
func (h *harness) messages(result string) float64 {
	return h.gauge("premetrics_mqtt_messages_total", "result", result)
}

// gauge returns the value of the series of name whose label key is
// value, summed (0 when absent).
func (h *harness) gauge(name, key, value string) float64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		panic(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == key && l.GetValue() == value {
					if m.Counter != nil {
						sum += m.Counter.GetValue()
					} else {
						sum += m.Gauge.GetValue()
					}
				}
			}
		}
	}
	return sum
}

func (h *harness) samplesTotal() float64 {
	return testutil.ToFloat64(h.samples.WithLabelValues(Protocol))
}

// waitCounter waits until counter() reaches want.
func waitCounter(t *testing.T, what string, want float64, counter func() float64) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, what, func() error {
		if got := counter(); got < want {
			return fmt.Errorf("%s = %v, want %v", what, got, want)
		}
		return nil
	})
}
