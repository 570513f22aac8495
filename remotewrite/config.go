package remotewrite

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"golang.org/x/net/http/httpguts"
)

// Protobuf message names accepted in protobuf_message.
const (
	MessageV1 = "prometheus.WriteRequest"
	MessageV2 = "io.prometheus.write.v2.Request"
)

// Config is one entry of the top-level remote_write list, in Prometheus'
// remote_write syntax. Start from DefaultConfig when building one in Go.
type Config struct {
	URL                 string                  `yaml:"url"`
	Name                string                  `yaml:"name"` // endpoint label; default: URL without userinfo
	RemoteTimeout       model.Duration          `yaml:"remote_timeout"`
	Headers             map[string]string       `yaml:"headers"`
	WriteRelabelConfigs []*relabel.Config       `yaml:"write_relabel_configs"`
	ProtobufMessage     string                  `yaml:"protobuf_message"`
	HTTPClientConfig    config.HTTPClientConfig `yaml:",inline"`
	QueueConfig         QueueConfig             `yaml:"queue_config"`
}

// QueueConfig sizes and paces a Queue.
type QueueConfig struct {
	Capacity          int            `yaml:"capacity"`             // samples buffered per shard
	MaxShards         int            `yaml:"max_shards"`           // number of shards (fixed)
	MinShards         int            `yaml:"min_shards"`           // accepted for compatibility; must be 1..max_shards
	MaxSamplesPerSend int            `yaml:"max_samples_per_send"` // samples per request
	BatchSendDeadline model.Duration `yaml:"batch_send_deadline"`  // longest a sample waits for a full batch
	MinBackoff        model.Duration `yaml:"min_backoff"`
	MaxBackoff        model.Duration `yaml:"max_backoff"`
	RetryOnRateLimit  bool           `yaml:"retry_on_http_429"`
}

// DefaultQueueConfig returns the queue_config defaults.
func DefaultQueueConfig() QueueConfig {
	return QueueConfig{
		Capacity:          10000,
		MaxShards:         4,
		MinShards:         1,
		MaxSamplesPerSend: 2000,
		BatchSendDeadline: model.Duration(5 * time.Second),
		MinBackoff:        model.Duration(30 * time.Millisecond),
		MaxBackoff:        model.Duration(5 * time.Second),
		RetryOnRateLimit:  true,
	}
}

// DefaultConfig returns an entry with every default set and no URL.
func DefaultConfig() Config {
	return Config{
		RemoteTimeout:   model.Duration(30 * time.Second),
		ProtobufMessage: MessageV1,
		// As Prometheus' remote write: follow redirects, HTTP/1.1 only.
		HTTPClientConfig: config.HTTPClientConfig{FollowRedirects: true, EnableHTTP2: false},
		QueueConfig:      DefaultQueueConfig(),
	}
}

// UnmarshalYAML fills in the defaults, then decodes the entry over them with
// the caller's decoder (so strict decoding still rejects unknown keys).
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig()
	type plain Config
	return unmarshal((*plain)(c))
}

// UnmarshalYAML fills in the queue_config defaults, then decodes over them.
func (q *QueueConfig) UnmarshalYAML(unmarshal func(any) error) error {
	*q = DefaultQueueConfig()
	type plain QueueConfig
	return unmarshal((*plain)(q))
}

// Endpoint returns the value of the endpoint label: Name, or the URL with
// any userinfo removed.
func (c *Config) Endpoint() string {
	if c.Name != "" {
		return c.Name
	}
	return redactURL(c.URL)
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<invalid url>"
	}
	u.User = nil
	return u.String()
}

// reservedHeaders are set by premetrics or by HTTP itself (as in Prometheus).
var reservedHeaders = map[string]bool{
	"host": true, "content-encoding": true, "content-length": true, "content-type": true,
	"user-agent": true, "connection": true, "keep-alive": true, "proxy-authenticate": true,
	"proxy-authorization": true, "www-authenticate": true, "accept-encoding": true,
	"x-prometheus-remote-write-version": true, "x-prometheus-remote-read-version": true,
	"transfer-encoding": true, "te": true, "trailer": true, "upgrade": true,
}

// Validate reports every problem of the entry, joined. Messages name the
// field relative to the entry, e.g. "queue_config.max_shards: must be > 0, got 0".
// It may normalise HTTPClientConfig as common/config does (bearer_token
// becomes authorization).
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}

	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
		add("url", "must not be empty")
	case err != nil:
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // *url.Error repeats the URL, which may hold a password
		}
		add("url", "cannot parse: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		add("url", "scheme must be http or https, got %q in %q", u.Scheme, redactURL(c.URL))
	case u.Host == "":
		add("url", "must have a host, got %q", redactURL(c.URL))
	}
	if c.RemoteTimeout <= 0 {
		add("remote_timeout", "must be > 0, got %s", c.RemoteTimeout)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		value := c.Headers[name]
		switch lower := strings.ToLower(name); {
		case !httpguts.ValidHeaderFieldName(name):
			add("headers", "invalid header name %q", name)
		case lower == "authorization":
			add("headers", "%q must be set with basic_auth, authorization or oauth2", name)
		case reservedHeaders[lower]:
			add("headers", "%q is a reserved header and cannot be set", name)
		case !httpguts.ValidHeaderFieldValue(value):
			add("headers", "invalid value for header %q", name)
		}
	}
	for i, rc := range c.WriteRelabelConfigs {
		field := fmt.Sprintf("write_relabel_configs[%d]", i)
		if rc == nil {
			add(field, "must not be empty")
			continue
		}
		if err := rc.Validate(model.UTF8Validation); err != nil {
			add(field, "%v", err)
		}
	}
	switch c.ProtobufMessage {
	case "", MessageV1:
	case MessageV2:
		add("protobuf_message", "%q is not supported yet, use %q", c.ProtobufMessage, MessageV1)
	default:
		add("protobuf_message", "unknown message %q, want %q", c.ProtobufMessage, MessageV1)
	}
	if err := c.HTTPClientConfig.Validate(); err != nil {
		errs = append(errs, err) // its messages name the keys (basic_auth, tls_config, ...)
	}
	errs = append(errs, c.QueueConfig.validate("queue_config.")...)
	return errors.Join(errs...)
}

// ValidateConfigs validates every entry of a remote_write list and checks
// that endpoint names (the endpoint label) are unique. Messages are
// prefixed with the entry, e.g. "remote_write[1].url: must not be empty".
func ValidateConfigs(cfgs []Config) error {
	var errs []error
	seen := map[string]int{}
	for i := range cfgs {
		c := &cfgs[i]
		if err := c.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				errs = append(errs, fmt.Errorf("remote_write[%d].%s", i, line))
			}
			continue
		}
		ep := c.Endpoint()
		if j, dup := seen[ep]; dup {
			errs = append(errs, fmt.Errorf("remote_write[%d].name: endpoint %q is already used by remote_write[%d]; set distinct names", i, ep, j))
			continue
		}
		seen[ep] = i
	}
	return errors.Join(errs...)
}

func (q *QueueConfig) validate(prefix string) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", prefix, field, fmt.Sprintf(format, args...)))
	}
	positive := func(field string, v int) bool {
		if v <= 0 {
			add(field, "must be > 0, got %d", v)
			return false
		}
		return true
	}
	capacityOK := positive("capacity", q.Capacity)
	if positive("max_samples_per_send", q.MaxSamplesPerSend) && capacityOK && q.MaxSamplesPerSend > q.Capacity {
		add("max_samples_per_send", "must be <= capacity (%d), got %d", q.Capacity, q.MaxSamplesPerSend)
	}
	shardsOK := positive("max_shards", q.MaxShards)
	if q.MinShards < 1 || (shardsOK && q.MinShards > q.MaxShards) {
		add("min_shards", "must be between 1 and max_shards (%d), got %d", q.MaxShards, q.MinShards)
	}
	if q.BatchSendDeadline <= 0 {
		add("batch_send_deadline", "must be > 0, got %s", q.BatchSendDeadline)
	}
	if q.MinBackoff <= 0 {
		add("min_backoff", "must be > 0, got %s", q.MinBackoff)
	} else if q.MaxBackoff < q.MinBackoff {
		add("max_backoff", "must be >= min_backoff (%s), got %s", q.MinBackoff, q.MaxBackoff)
	}
	return errs
}
