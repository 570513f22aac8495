package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/internal/logthrottle"
)

// Decoder decodes one message payload. It has the shape of the ingest
// decoders (see package outcome): it appends the valid series to b,
// reports rejected items in res (resetting it first), and returns an
// *outcome.Error when nothing of the payload can be used. now is the
// receive time in Unix milliseconds, for items without a timestamp.
// payload stays valid while b is in use, so strings in b may alias it.
// One Decoder may serve several inputs at once: it must be safe for
// concurrent use.
type Decoder interface {
	Decode(payload []byte, b *batch.Batch, now int64, res *outcome.Result) error
}

// DecoderFunc returns the decoder of a topic's format and input (see
// TopicConfig). The integrator resolves "json" with the JSON input mapping
// named input, and "influx" with the Influx line protocol decoder.
type DecoderFunc func(format, input string) (Decoder, error)

// Subscriber is one MQTT input: a client connected to the broker, a
// bounded queue of received messages, and one worker that decodes them
// into the pipeline in order. See the package doc for its semantics.
type Subscriber struct {
	cfg      Config
	pipeline ingest.Pipeline
	log      *slog.Logger
	m        *inputMetrics
	topics   []topic
	brokers  []string // normalized URLs, as in the connected metric
	client   paho.Client
	warn     *logthrottle.Throttle

	queue chan delivery
	// gen counts connections: it is incremented before every Connect and
	// when a connection is lost, so a message whose gen differs from the
	// current one came over a connection that no longer exists.
	gen       atomic.Uint64
	attempted atomic.Value // string: the broker of the latest connection attempt
	lost      chan error   // OnConnectionLost, buffered 1

	runCtx    context.Context // Ingest's context; cancelled when Stop gives up
	cancelRun context.CancelFunc

	mu      sync.Mutex
	started bool
	lastErr error // of the latest failed connection attempt, for Start

	up         chan struct{} // closed at the first successful connection
	upOnce     sync.Once
	stopping   chan struct{} // closed by Stop
	stopOnce   sync.Once
	stopErr    error
	workerDone chan struct{}
	superDone  chan struct{}
}

// topic is a compiled TopicConfig.
type topic struct {
	filter  string   // as subscribed
	levels  []string // matched against topics
	qos     byte
	labels  []topicLabel
	decoder Decoder
}

// delivery is a received message waiting for the worker.
type delivery struct {
	msg      paho.Message
	gen      uint64
	received time.Time
}

// quiesce is how long Stop waits for the DISCONNECT to be written.
const quiesce = time.Second

// New compiles cfg (which it validates) into a Subscriber that feeds p.
// decoders resolves each topic's decoder; m may be shared by all inputs
// (nil: private, unregistered metrics); log may be nil (discard). Nothing
// connects before Start.
func New(cfg Config, p ingest.Pipeline, decoders DecoderFunc, m *Metrics, log *slog.Logger) (*Subscriber, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid MQTT input %q: %w", cfg.Name, err)
	}
	if p == nil || decoders == nil {
		return nil, errors.New("cannot create MQTT input: pipeline and decoders are required")
	}
	if m == nil {
		m = NewMetrics(nil, SharedMetrics{})
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Subscriber{
		cfg:        cfg,
		pipeline:   p,
		log:        log.With("input", cfg.Name),
		warn:       logthrottle.New(warnKinds, logthrottle.Every),
		queue:      make(chan delivery, cfg.QueueSize),
		lost:       make(chan error, 1),
		up:         make(chan struct{}),
		stopping:   make(chan struct{}),
		workerDone: make(chan struct{}),
		superDone:  make(chan struct{}),
	}
	s.runCtx, s.cancelRun = context.WithCancel(context.Background())
	s.attempted.Store("")

	for i := range cfg.Topics {
		tc := &cfg.Topics[i]
		levels, _ := parseFilter(tc.Filter) // checked by Validate
		dec, err := decoders(tc.Format, tc.Input)
		if err == nil && dec == nil {
			err = errors.New("no decoder")
		}
		if err != nil {
			return nil, fmt.Errorf("MQTT input %q: topics[%d]: cannot get the %s decoder (input %q): %w", cfg.Name, i, tc.Format, tc.Input, err)
		}
		s.topics = append(s.topics, topic{
			filter: tc.Filter, levels: levels, qos: byte(tc.QoS),
			labels: compileTopicLabels(tc.TopicLabels), decoder: dec,
		})
	}

	opts := paho.NewClientOptions()
	for _, b := range cfg.Brokers {
		u, _ := parseBroker(b) // checked by Validate
		s.brokers = append(s.brokers, u.String())
		opts.AddBroker(u.String())
	}
	s.m = m.forInput(cfg.Name, s.brokers)
	if cfg.TLS != nil {
		tc, err := cfg.TLS.build()
		if err != nil {
			return nil, fmt.Errorf("MQTT input %q: tls: %w", cfg.Name, err)
		}
		opts.SetTLSConfig(tc)
	}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = defaultClientID(cfg.Name)
	}
	s.cfg.ClientID = clientID
	opts.SetClientID(clientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(cfg.CleanSession).
		SetProtocolVersion(4). // 3.1.1; no silent fallback to 3.1
		SetKeepAlive(time.Duration(cfg.KeepAlive)).
		SetPingTimeout(min(10*time.Second, time.Duration(cfg.KeepAlive))).
		SetConnectTimeout(time.Duration(cfg.ConnectTimeout)).
		SetWriteTimeout(time.Duration(cfg.ConnectTimeout)).
		// The Subscriber owns reconnection (its own backoff, metrics and
		// logs), and subscribes after every connection.
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		// Acknowledge only once the pipeline took the data; hand messages
		// to the worker in the order they arrive.
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		// One handler for every message, set before connecting: a
		// persistent session delivers queued messages right after CONNACK,
		// before any subscription (and its route) exists.
		SetDefaultPublishHandler(s.onMessage).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case s.lost <- err:
			default:
			}
		}).
		SetConnectionAttemptHandler(func(broker *url.URL, tc *tls.Config) *tls.Config {
			s.attempted.Store(broker.String())
			return tc
		})
	s.client = paho.NewClient(opts)
	return s, nil
}

// ClientID returns the MQTT client ID in use.
func (s *Subscriber) ClientID() string { return s.cfg.ClientID }

// Connected reports whether the input is connected to a broker now.
func (s *Subscriber) Connected() bool { return s.client.IsConnectionOpen() }

// Start starts connecting and handling messages, and returns at once:
// an unreachable broker is logged, reported as premetrics_mqtt_connected
// 0 and retried with backoff. With Config.Required it waits instead for
// the first connection and returns an error when ctx ends first (call
// Stop then). ctx bounds only that wait.
func (s *Subscriber) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("MQTT input already started")
	}
	select {
	case <-s.stopping:
		s.mu.Unlock()
		return errors.New("MQTT input already stopped")
	default:
	}
	s.started = true
	s.mu.Unlock()

	go s.work()
	go s.supervise()
	if !s.cfg.Required {
		return nil
	}
	select {
	case <-s.up:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		last := s.lastErr
		s.mu.Unlock()
		if last == nil {
			last = ctx.Err()
		}
		return fmt.Errorf("MQTT input %q: cannot connect to %s (required: true): %w", s.cfg.Name, strings.Join(s.brokers, ", "), last)
	}
}

// Stop stops the input: messages arriving from now on are left
// unacknowledged, the queued ones are ingested while the pipeline admits
// them without waiting (the others are abandoned, unacknowledged), then
// the client disconnects cleanly. Subscriptions stay in a persistent
// session on purpose: the broker keeps queueing for premetrics' return.
// Stop is safe without Start and idempotent, and returns once the
// worker is done and the client disconnected. When ctx ends first it
// cancels the context of an Ingest in progress (which must honour it),
// abandons the rest, and returns ctx's error; a connection attempt in
// progress then ends in the background within connect_timeout.
func (s *Subscriber) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(ctx) })
	return s.stopErr
}

func (s *Subscriber) stop(ctx context.Context) error {
	s.mu.Lock()
	close(s.stopping)
	started := s.started
	s.mu.Unlock()
	defer s.cancelRun()
	if !started {
		return nil
	}
	var err error
	select {
	case <-s.workerDone:
	case <-ctx.Done():
		err = fmt.Errorf("MQTT input %q: stop: %w", s.cfg.Name, ctx.Err())
		s.cancelRun()
		<-s.workerDone
	}
	select {
	case <-s.superDone: // at most a connection attempt (connect_timeout)
	case <-ctx.Done():
		err = fmt.Errorf("MQTT input %q: stop: %w", s.cfg.Name, ctx.Err())
	}
	s.client.Disconnect(uint(quiesce / time.Millisecond))
	for {
		select {
		case <-s.queue:
			s.m.abandoned.Inc()
			continue
		default:
		}
		break
	}
	s.m.setConnected("")
	s.log.Info("MQTT input stopped")
	return err
}

// supervise connects, subscribes, and reconnects with backoff after a
// failure or a lost connection, until Stop.
func (s *Subscriber) supervise() {
	defer close(s.superDone)
	bo := backoff{min: time.Duration(s.cfg.Reconnect.MinBackoff), max: time.Duration(s.cfg.Reconnect.MaxBackoff)}
	everConnected := false
	for {
		s.gen.Add(1)
		tok := s.client.Connect()
		select {
		case <-tok.Done():
		case <-s.stopping:
			<-tok.Done() // bounded by connect_timeout; Stop disconnects next
			return
		}
		if err := tok.Error(); err != nil {
			s.connectFailed(err)
			if !s.sleep(bo.next()) {
				return
			}
			continue
		}
		broker := s.attempted.Load().(string)
		s.m.setConnected(broker)
		if everConnected {
			s.m.reconnects.Inc()
		}
		connectedAt := time.Now()
		sessionPresent := tok.(*paho.ConnectToken).SessionPresent()
		s.log.Info("connected to MQTT broker", "broker", broker, "client_id", s.cfg.ClientID,
			"session_present", sessionPresent)
		// Subscribe on the first connection (the config may have changed
		// since the session was made) and whenever the broker has no
		// session for us. A reconnect into a present session keeps its
		// subscriptions; subscribing again would only make the broker
		// resend its retained messages, which would be ingested twice.
		if !everConnected || !sessionPresent {
			s.subscribe()
		}
		everConnected = true
		s.upOnce.Do(func() { close(s.up) })

		select {
		case err := <-s.lost:
			s.gen.Add(1)
			s.m.setConnected("")
			s.log.Warn("lost the connection to the MQTT broker; reconnecting", "broker", broker, "err", err)
			if time.Since(connectedAt) >= bo.max {
				bo.reset() // a connection that lasted: start again from min_backoff
			}
			if !s.sleep(bo.next()) {
				return
			}
		case <-s.stopping:
			return
		}
	}
}

// connectFailed records and logs (throttled) a failed connection attempt.
func (s *Subscriber) connectFailed(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	s.m.setConnected("")
	ok, suppressed := s.warn.Allow(warnConnect, time.Now())
	if !ok {
		return
	}
	args := []any{"brokers", strings.Join(s.brokers, ","), "client_id", s.cfg.ClientID, "err", err, "suppressed", suppressed}
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		s.log.Error("MQTT broker refused the credentials; check username and password; retrying", args...)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		s.log.Error("MQTT broker rejected the client ID; set client_id; retrying", args...)
	default:
		s.log.Warn("cannot connect to MQTT broker; retrying", args...)
	}
}

// subscribe subscribes to every topic and logs the filters the broker
// refused (an ACL, usually). A lost connection shows up on s.lost.
func (s *Subscriber) subscribe() {
	filters := make(map[string]byte, len(s.topics))
	for _, t := range s.topics {
		filters[t.filter] = t.qos
	}
	tok := s.client.SubscribeMultiple(filters, nil)
	timeout := time.NewTimer(time.Duration(s.cfg.ConnectTimeout))
	defer timeout.Stop()
	select {
	case <-tok.Done():
	case <-timeout.C:
		s.log.Error("MQTT broker did not answer the subscription in time", "timeout", s.cfg.ConnectTimeout)
		return
	case <-s.stopping:
		return
	}
	if err := tok.Error(); err != nil {
		s.log.Error("cannot subscribe to MQTT topics", "err", err)
		return
	}
	granted := tok.(*paho.SubscribeToken).Result()
	for _, t := range s.topics {
		switch q, ok := granted[t.filter]; {
		case !ok || q == 0x80:
			s.log.Error("MQTT broker refused the subscription (ACL?)", "filter", t.filter)
		case q < t.qos:
			s.log.Warn("MQTT broker granted a lower QoS than asked for", "filter", t.filter, "qos", t.qos, "granted", q)
		default:
			s.log.Info("subscribed to MQTT topic", "filter", t.filter, "qos", q)
		}
	}
}

// sleep waits d and reports false when Stop was called meanwhile.
func (s *Subscriber) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stopping:
		return false
	}
}

// backoff is exponential: min, doubled per call up to max, ±20% jitter
// (never above max).
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	j := time.Duration(float64(b.cur) * (0.8 + 0.4*rand.Float64()))
	return min(j, b.max)
}

func (b *backoff) reset() { b.cur = 0 }

// defaultClientID is premetrics-<hostname>-<name>.
func defaultClientID(name string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "premetrics-" + name
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	return "premetrics-" + host + "-" + name
}

// build loads the files of c into a tls.Config.
func (c *TLSConfig) build() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // the user asked for it
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: no PEM certificate in %s", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file, key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
