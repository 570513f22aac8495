package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/premetrics/premetrics/bench/loopback"
)

// MQTT: each connection is one client (a "gateway") that publishes the
// bodies of its worker, NDJSON events, with QoS 1 to its own topic:
//
//	worker w ──PUBLISH QoS 1 (body j, j mod connections == w)──► broker ──► premetrics (inputs.mqtt)
//	   ▲                                                           │
//	   └─────────────────────────── PUBACK ─────────────────────────┘
//
// Publishing does not wait for the PUBACK: up to MQTTOptions.Inflight
// publishes per connection are outstanding, each with its own buffer
// (paho keeps the payload until the PUBACK, so a buffer is rendered
// again only after its publish completed). With all of them
// outstanding the worker waits for the oldest and falls behind
// schedule, as an HTTP connection with its one request in flight does.
// A PUBACK says the broker took the message, not that premetrics did:
// compare premetrics_ingest_samples_total{protocol="mqtt"}.

// MQTTGateway is the placeholder of MQTTOptions.Topic replaced by the
// connection's gateway name, "gw<connection>".
const MQTTGateway = "{gateway}"

// mqttQoS is the QoS of every publish.
const mqttQoS = 1

// MQTTOptions configure the publishers of ProtocolMQTT.
type MQTTOptions struct {
	// Broker is the broker's URL: tcp:// or mqtt:// on a loopback host
	// (default port 1883).
	Broker string
	// Topic is the topic of every message, with MQTTGateway replaced by
	// the connection's gateway name (gw0, gw1, ...).
	Topic string
	// Inflight is how many publishes of one connection may wait for
	// their PUBACK.
	Inflight int
	// ClientID prefixes the client IDs, <ClientID>-<connection>; default
	// premetrics-loadgen-<pid>.
	ClientID string
}

// validate reports every invalid option, naming its flag.
func (o *MQTTOptions) validate() []error {
	var errs []error
	if _, err := brokerURL(o.Broker); err != nil {
		errs = append(errs, err)
	}
	if o.Topic == "" || strings.ContainsAny(o.Topic, "+#\x00") {
		errs = append(errs, fmt.Errorf("-mqtt-topic: must be a topic name without wildcards, got %q", o.Topic))
	}
	if o.Inflight < 1 || o.Inflight > 10_000 {
		errs = append(errs, fmt.Errorf("-mqtt-inflight: must be in [1, 10000], got %d", o.Inflight))
	}
	return errs
}

// brokerURL checks raw and returns it normalized for paho
// (tcp://host:port).
func brokerURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("cannot parse -mqtt-broker %q: %w", raw, err)
	}
	if u.Scheme != "tcp" && u.Scheme != "mqtt" {
		return "", fmt.Errorf("-mqtt-broker %q: scheme must be tcp or mqtt", raw)
	}
	if !loopback.IsLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("refusing to publish to -mqtt-broker %q: host %q is not a loopback address (127.0.0.0/8, ::1 or localhost)", raw, u.Hostname())
	}
	port := u.Port()
	if port == "" {
		port = "1883"
	}
	return "tcp://" + net.JoinHostPort(u.Hostname(), port), nil
}

// gatewayTopic is the topic of connection w.
func gatewayTopic(template string, w int) string {
	return strings.ReplaceAll(template, MQTTGateway, "gw"+strconv.Itoa(w))
}

// publisher is the MQTT client of one worker and its outstanding
// publishes, a ring in publish order.
type publisher struct {
	client  paho.Client
	topic   string
	timeout time.Duration
	slots   []pubSlot
	head, n int // the oldest outstanding slot, and how many
}

type pubSlot struct {
	buf      []byte
	token    paho.Token
	samples  int
	deadline time.Time // for the PUBACK
}

func newPublisher(o *MQTTOptions, w int, timeout time.Duration) (*publisher, error) {
	broker, err := brokerURL(o.Broker)
	if err != nil {
		return nil, err
	}
	id := o.ClientID
	if id == "" {
		id = "premetrics-loadgen-" + strconv.Itoa(os.Getpid())
	}
	opts := paho.NewClientOptions().
		AddBroker(broker).
		SetClientID(id + "-" + strconv.Itoa(w)).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(timeout).
		SetWriteTimeout(timeout).
		// The worker reconnects before its next publish, so a lost
		// connection fails the publishes outstanding on it at once.
		SetAutoReconnect(false).
		SetConnectRetry(false)
	return &publisher{client: paho.NewClient(opts), topic: gatewayTopic(o.Topic, w), timeout: timeout,
		slots: make([]pubSlot, o.Inflight)}, nil
}

// connect connects unless connected.
func (p *publisher) connect() error {
	if p.client.IsConnectionOpen() {
		return nil
	}
	tok := p.client.Connect()
	if !tok.WaitTimeout(p.timeout) {
		return fmt.Errorf("cannot connect to the MQTT broker: no CONNACK within %s", p.timeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("cannot connect to the MQTT broker: %w", err)
	}
	return nil
}

// oldest returns the oldest outstanding publish, or nil.
func (p *publisher) oldest() *pubSlot {
	if p.n == 0 {
		return nil
	}
	return &p.slots[p.head]
}

// next returns the slot of the next publish; the ring must not be full.
func (p *publisher) next() *pubSlot {
	return &p.slots[(p.head+p.n)%len(p.slots)]
}

// complete records the oldest publish's outcome and frees its slot.
func (r *runner) complete(p *publisher, timedOut bool) {
	s := &p.slots[p.head]
	a := answer{acked: true}
	switch {
	case timedOut:
		a = answer{err: fmt.Errorf("no PUBACK within %s", p.timeout)}
	case s.token.Error() != nil:
		a = answer{err: s.token.Error()}
	}
	r.stats.response(time.Since(r.start), s.samples, len(s.buf), a)
	if !a.acked {
		// paho may still hold the payload: never render into it again.
		s.buf = nil
	}
	s.token = nil
	p.head = (p.head + 1) % len(p.slots)
	p.n--
}

// harvest completes the outstanding publishes that are done, in order.
func (r *runner) harvest(p *publisher) {
	for s := p.oldest(); s != nil; s = p.oldest() {
		select {
		case <-s.token.Done():
			r.complete(p, false)
		default:
			return
		}
	}
}

// waitOldest waits for the oldest publish until its deadline, or until
// until (zero: no bound) or ctx ends; it reports whether it completed
// the publish.
func (r *runner) waitOldest(ctx context.Context, p *publisher, timer *time.Timer, until time.Time) bool {
	s := p.oldest()
	wake := s.deadline
	if !until.IsZero() && until.Before(wake) {
		wake = until
	}
	timer.Reset(time.Until(wake))
	select {
	case <-s.token.Done():
		timer.Stop()
		r.complete(p, false)
		return true
	case <-timer.C:
		if !time.Now().Before(s.deadline) {
			r.complete(p, true)
			return true
		}
		return false
	case <-ctx.Done():
		timer.Stop()
		return false
	}
}

// mqttWorker is worker for MQTT: it publishes the requests of the bodies
// j with j mod n == w on its own connection and topic, and counts their
// PUBACKs as they come.
func (r *runner) mqttWorker(ctx context.Context, p *publisher, w, n int) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer func() {
		// What is outstanding gets its PUBACK or times out, unless
		// interrupted.
		for p.n > 0 && ctx.Err() == nil {
			r.waitOldest(ctx, p, timer, time.Time{})
		}
		p.client.Disconnect(250)
	}()
	if int64(w) >= r.sched.bodies {
		return // more connections than bodies
	}
	for i := int64(w); i < r.sched.total; i = r.sched.nextFor(i, w, n) {
		due := r.sched.due(i)
		for wait := due - time.Since(r.start); wait > 0; wait = due - time.Since(r.start) {
			if p.n == 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					timer.Stop()
					return
				}
				break
			}
			r.waitOldest(ctx, p, timer, r.start.Add(due))
			if ctx.Err() != nil {
				return
			}
		}
		r.harvest(p)
		for p.n == len(p.slots) {
			if r.waitOldest(ctx, p, timer, time.Time{}); ctx.Err() != nil {
				return
			}
		}
		r.stats.behind(i, time.Since(r.start)-due)
		j, tick := r.sched.split(i)
		churned := r.plan.Churned(r.sched.tickStart(tick))
		s := p.next()
		s.buf, s.samples = r.plan.Render(s.buf, j, tick, r.startMs+due.Milliseconds(), churned)
		r.stats.churned(churned)
		if err := p.connect(); err != nil {
			r.stats.response(time.Since(r.start), s.samples, len(s.buf), answer{err: err})
			continue
		}
		s.token = p.client.Publish(p.topic, mqttQoS, false, s.buf)
		s.deadline = time.Now().Add(p.timeout)
		p.n++
	}
}

// errNoBroker is the error of a Run of ProtocolMQTT without a broker.
var errNoBroker = errors.New("-mqtt-broker: required with -protocol mqtt")
