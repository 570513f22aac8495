package mqtt

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Config is one entry of `inputs.mqtt:`: a connection to one MQTT broker
// (or a failover list of them) and the topics read from it. Keys absent
// from YAML keep their defaults (UnmarshalYAML starts from
// DefaultConfig); Validate fills in defaults for optional fields left zero
// by a Config built in Go.
type Config struct {
	// Name identifies the input in metrics ({input="..."}), logs and the
	// default client ID. Unique among the MQTT inputs.
	Name string `yaml:"name"`
	// Brokers are alternative URLs of one broker (cluster), tried in order
	// on every connection attempt: tcp:// or mqtt:// (default port 1883),
	// ssl://, tls:// or mqtts:// (8883), ws:// or wss://. They are not
	// subscribed to all at once: use one input per independent broker.
	Brokers []string `yaml:"brokers"`
	// ClientID is the MQTT client identifier; default
	// "premetrics-<hostname>-<name>". A persistent session (CleanSession
	// false) belongs to the client ID: set it explicitly where the
	// hostname changes across restarts (containers), or messages queued
	// for the old ID are stranded.
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// TLS configures ssl://, tls://, mqtts:// and wss:// brokers.
	TLS *TLSConfig `yaml:"tls"`
	// CleanSession false (the default) asks the broker for a persistent
	// session: while premetrics is away, the broker keeps its
	// subscriptions and queues QoS 1 and 2 messages for it, and it
	// redelivers messages premetrics received but did not acknowledge.
	CleanSession bool `yaml:"clean_session"`
	// KeepAlive is the MQTT keep-alive interval (at least 1s).
	KeepAlive model.Duration `yaml:"keep_alive"`
	// ConnectTimeout bounds one connection attempt (TCP, TLS and CONNACK).
	ConnectTimeout model.Duration `yaml:"connect_timeout"`
	// Reconnect is the backoff between connection attempts.
	Reconnect BackoffConfig `yaml:"reconnect"`
	// Required makes Start wait for the first connection and fail when it
	// does not come up before Start's context ends. By default an
	// unreachable broker does not stop premetrics from starting: the input
	// logs, reports premetrics_mqtt_connected 0 and keeps retrying.
	Required bool `yaml:"required"`
	// QueueSize is how many received messages wait for the pipeline. Keep
	// it above the broker's in-flight window for QoS 1 and 2
	// (max_inflight_messages, 20 in Mosquitto) so that holding back
	// acknowledgements, not a full queue, is what slows the broker down.
	QueueSize int `yaml:"queue_size"`
	// Topics are the subscriptions; a message goes to the first topic
	// whose filter matches its topic.
	Topics []TopicConfig `yaml:"topics"`
}

// TLSConfig is the client side of TLS to the broker. Relative file names
// are resolved by SetDirectory (the config loader passes the directory of
// the config file).
type TLSConfig struct {
	// CAFile verifies the broker's certificate; default: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate, both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name the broker's certificate must carry
	// (default: the broker URL's host).
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// BackoffConfig is an exponential backoff: MinBackoff, doubled after each
// failed attempt up to MaxBackoff, with ±20% jitter.
type BackoffConfig struct {
	MinBackoff model.Duration `yaml:"min_backoff"`
	MaxBackoff model.Duration `yaml:"max_backoff"`
}

// TopicConfig is one subscription.
type TopicConfig struct {
	// Filter is an MQTT topic filter: levels separated by "/", "+" for one
	// whole level, "#" as the last level for any number of levels.
	// "$share/<group>/<filter>" is a shared subscription (the broker
	// spreads messages over the group's members).
	Filter string `yaml:"filter"`
	// QoS is the maximum QoS asked for: 0, 1 (the YAML default) or 2.
	// With QoS 0 the broker does not redeliver, so a message lost in
	// transit or abandoned at shutdown is gone.
	QoS int `yaml:"qos"`
	// Format is the payload format: json or influx.
	Format string `yaml:"format"`
	// Input names the JSON input mapping (inputs.json) that maps a json
	// payload; not used by influx.
	Input string `yaml:"input"`
	// TopicLabels adds labels taken from the actual topic: label name to
	// 0-based topic level index. A topic label replaces a payload label of
	// the same name (the topic is what broker ACLs control; the payload is
	// whatever the device sends). A level that is empty or absent from
	// the topic adds nothing.
	TopicLabels map[string]int `yaml:"topic_labels"`
}

// Formats of TopicConfig.Format.
const (
	FormatJSON   = "json"
	FormatInflux = "influx"
)

// Defaults.
const (
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultQueueSize      = 64
	DefaultQoS            = 1
)

// DefaultConfig returns the defaults of every optional field.
func DefaultConfig() Config {
	return Config{
		KeepAlive:      model.Duration(DefaultKeepAlive),
		ConnectTimeout: model.Duration(DefaultConnectTimeout),
		Reconnect: BackoffConfig{
			MinBackoff: model.Duration(DefaultMinBackoff),
			MaxBackoff: model.Duration(DefaultMaxBackoff),
		},
		QueueSize: DefaultQueueSize,
	}
}

// UnmarshalYAML fills in the defaults, then decodes the entry over them
// (strictly, when the decoder is strict).
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig()
	type plain Config
	return unmarshal((*plain)(c))
}

// UnmarshalYAML makes QoS default to 1.
func (t *TopicConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*t = TopicConfig{QoS: DefaultQoS}
	type plain TopicConfig
	return unmarshal((*plain)(t))
}

// SetDirectory makes relative TLS file names relative to dir.
func (c *Config) SetDirectory(dir string) {
	if c.TLS == nil {
		return
	}
	for _, p := range []*string{&c.TLS.CAFile, &c.TLS.CertFile, &c.TLS.KeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

var (
	nameRE      = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// maxClientID bounds the client ID (MQTT strings are at most 65535 bytes;
// brokers commonly accept far less than that, 23 is the minimum).
const maxClientID = 256

// Validate fills in defaults for zero optional fields and checks c. It
// returns every problem, one per line, each starting with the field path
// (e.g. "topics[1].filter: ...") without the "inputs.mqtt[i]." prefix.
func (c *Config) Validate() error {
	d := DefaultConfig()
	if c.KeepAlive == 0 {
		c.KeepAlive = d.KeepAlive
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.Reconnect.MinBackoff == 0 {
		c.Reconnect.MinBackoff = d.Reconnect.MinBackoff
	}
	if c.Reconnect.MaxBackoff == 0 {
		c.Reconnect.MaxBackoff = max(d.Reconnect.MaxBackoff, c.Reconnect.MinBackoff)
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}

	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch {
	case c.Name == "":
		add("name: is required")
	case !nameRE.MatchString(c.Name):
		add("name: must consist of letters, digits, '_', '.' and '-', got %q", c.Name)
	}

	if len(c.Brokers) == 0 {
		add("brokers: at least one broker URL is required, e.g. tcp://127.0.0.1:1883")
	}
	tlsBrokers := 0
	for i, b := range c.Brokers {
		u, err := parseBroker(b)
		if err != nil {
			add("brokers[%d]: %v", i, err)
			continue
		}
		if isTLSScheme(u.Scheme) {
			tlsBrokers++
		}
		if j := slices.Index(c.Brokers[:i], b); j >= 0 {
			add("brokers[%d]: duplicate broker %q (also brokers[%d])", i, b, j)
		}
	}
	if len(c.ClientID) > maxClientID {
		add("client_id: must be at most %d bytes, got %d", maxClientID, len(c.ClientID))
	}
	if c.Password != "" && c.Username == "" {
		add("password: set without username (MQTT 3.1.1 sends a password only with a username)")
	}
	if c.TLS != nil {
		if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
			add("tls: cert_file and key_file must be set together")
		}
		if tlsBrokers == 0 && len(c.Brokers) > 0 {
			add("tls: set, but no broker uses ssl://, tls://, mqtts:// or wss://")
		}
	}
	if ka := time.Duration(c.KeepAlive); ka < time.Second || ka > 65535*time.Second {
		add("keep_alive: must be between 1s and 18h12m15s, got %s", c.KeepAlive)
	}
	if c.ConnectTimeout < 0 {
		add("connect_timeout: must be > 0, got %s", c.ConnectTimeout)
	}
	if c.Reconnect.MinBackoff < 0 {
		add("reconnect.min_backoff: must be > 0, got %s", c.Reconnect.MinBackoff)
	}
	if c.Reconnect.MaxBackoff < c.Reconnect.MinBackoff {
		add("reconnect.max_backoff: must be >= min_backoff (%s), got %s", c.Reconnect.MinBackoff, c.Reconnect.MaxBackoff)
	}
	if c.QueueSize < 0 {
		add("queue_size: must be > 0, got %d", c.QueueSize)
	}

	if len(c.Topics) == 0 {
		add("topics: at least one topic is required")
	}
	for i := range c.Topics {
		t := &c.Topics[i]
		for _, err := range t.validate() {
			add("topics[%d].%v", i, err)
		}
		for j := range i {
			if c.Topics[j].Filter == t.Filter && t.Filter != "" {
				add("topics[%d].filter: duplicate filter %q (also topics[%d])", i, t.Filter, j)
				break
			}
		}
	}
	return errors.Join(errs...)
}

// validate returns the problems of t, each starting with the field name.
func (t *TopicConfig) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	levels, err := parseFilter(t.Filter)
	if err != nil {
		add("filter: %v", err)
	}
	if t.QoS < 0 || t.QoS > 2 {
		add("qos: must be 0, 1 or 2, got %d", t.QoS)
	}
	switch t.Format {
	case FormatJSON:
		if t.Input == "" {
			add("input: is required for format json: the name of a JSON input mapping (inputs.json)")
		}
	case FormatInflux:
		if t.Input != "" {
			add("input: is only used by format json, got %q with format influx", t.Input)
		}
	case "":
		add("format: is required: json or influx")
	default:
		add("format: must be json or influx, got %q", t.Format)
	}
	names := make([]string, 0, len(t.TopicLabels))
	for name := range t.TopicLabels {
		names = append(names, name)
	}
	slices.Sort(names) // report in a stable order
	for _, name := range names {
		idx := t.TopicLabels[name]
		switch {
		case !labelNameRE.MatchString(name):
			add("topic_labels.%s: invalid label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", name, name)
			continue
		case strings.HasPrefix(name, "__"):
			add("topic_labels.%s: label names starting with __ are reserved, got %q", name, name)
			continue
		}
		switch {
		case idx < 0:
			add("topic_labels.%s: topic level index must be >= 0, got %d", name, idx)
		case err == nil && !slices.Contains(levels, "#") && idx >= len(levels):
			add("topic_labels.%s: filter %q has %d levels (0..%d), got index %d", name, t.Filter, len(levels), len(levels)-1, idx)
		}
	}
	return errs
}

// ValidateInputs validates every entry of inputs.mqtt (see
// Config.Validate) and that names and client IDs are unique (two
// connections with one client ID take the session from each other in an
// endless loop). Each line of the error starts with "[i]." and the path.
func ValidateInputs(cfgs []Config) error {
	var errs []error
	names := map[string]int{}
	ids := map[string]int{}
	for i := range cfgs {
		c := &cfgs[i]
		if err := c.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				errs = append(errs, fmt.Errorf("[%d].%s", i, line))
			}
		}
		if c.Name != "" {
			if j, dup := names[c.Name]; dup {
				errs = append(errs, fmt.Errorf("[%d].name: duplicate MQTT input name %q (also [%d])", i, c.Name, j))
			}
			names[c.Name] = i
		}
		if c.ClientID != "" {
			if j, dup := ids[c.ClientID]; dup {
				errs = append(errs, fmt.Errorf("[%d].client_id: duplicate client_id %q (also [%d]): the broker would disconnect one whenever the other connects", i, c.ClientID, j))
			}
			ids[c.ClientID] = i
		}
	}
	return errors.Join(errs...)
}

// Broker URL schemes paho understands.
var brokerSchemes = map[string]string{
	"tcp": "1883", "mqtt": "1883",
	"ssl": "8883", "tls": "8883", "mqtts": "8883",
	"ws": "", "wss": "",
}

func isTLSScheme(s string) bool {
	return s == "ssl" || s == "tls" || s == "mqtts" || s == "wss"
}

// parseBroker parses and normalizes a broker URL: the default port is
// filled in for tcp and TLS schemes.
func parseBroker(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %v", s, err)
	}
	defPort, ok := brokerSchemes[u.Scheme]
	switch {
	case !ok:
		return nil, fmt.Errorf("unsupported scheme in %q: want tcp://, mqtt://, ssl://, tls://, mqtts://, ws:// or wss://", s)
	case u.User != nil:
		return nil, fmt.Errorf("credentials in the URL %q: use username and password instead", u.Redacted())
	case u.Hostname() == "":
		return nil, fmt.Errorf("no host in %q", s)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("query or fragment in %q", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid port in %q", s)
		}
	} else if defPort != "" {
		u.Host = net.JoinHostPort(u.Hostname(), defPort)
	}
	if defPort != "" && u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("a path is only meaningful for ws:// and wss://, got %q", s)
	}
	if defPort != "" {
		u.Path = ""
	}
	return u, nil
}
