package ingest

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/premetrics/premetrics/ingest/outcome"
)

// Config is the `server:` block of the configuration file. Keys absent
// from YAML keep their defaults (UnmarshalYAML starts from DefaultConfig);
// an entirely zero Config (no server block) becomes DefaultConfig in
// Validate. When building one in Go, start from DefaultConfig.
type Config struct {
	// ListenAddress is the host:port the HTTP listener binds.
	ListenAddress string `yaml:"listen_address"`
	// MaxRequestBytes bounds the compressed request body (413 beyond).
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxDecodedBytes bounds the decompressed body (413 beyond).
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
	// MaxConcurrentRequests is how many requests are decoded and ingested
	// at once; the others wait for a slot.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// RequestQueueTimeout is how long a request may wait for a slot before
	// it gets 429. Zero means no waiting.
	RequestQueueTimeout model.Duration `yaml:"request_queue_timeout"`
	// Per-series limits; a series over them is rejected on its own.
	MaxLabelsPerSeries  int `yaml:"max_labels_per_series"`
	MaxLabelNameLength  int `yaml:"max_label_name_length"`
	MaxLabelValueLength int `yaml:"max_label_value_length"`
	// MaxLineBytes bounds one line of Influx or Prometheus text and one
	// JSON event; a longer one is rejected on its own (line_too_long).
	MaxLineBytes int `yaml:"max_line_bytes"`
}

// Defaults.
const (
	DefaultListenAddress       = "127.0.0.1:9201"
	DefaultMaxRequestBytes     = 16 << 20
	DefaultMaxDecodedBytes     = 64 << 20
	DefaultRequestQueueTimeout = time.Second
	DefaultMaxLabelsPerSeries  = 64
	DefaultMaxLabelNameLength  = 256
	DefaultMaxLabelValueLength = 4096
	DefaultMaxLineBytes        = 1 << 20
)

// maxDecodedLimit is the largest decoded size a snappy block can declare.
const maxDecodedLimit = 1<<32 - 1

// DefaultConfig returns the defaults; MaxConcurrentRequests is
// 4 × GOMAXPROCS at the time of the call.
func DefaultConfig() Config {
	return Config{
		ListenAddress:         DefaultListenAddress,
		MaxRequestBytes:       DefaultMaxRequestBytes,
		MaxDecodedBytes:       DefaultMaxDecodedBytes,
		MaxConcurrentRequests: 4 * runtime.GOMAXPROCS(0),
		RequestQueueTimeout:   model.Duration(DefaultRequestQueueTimeout),
		MaxLabelsPerSeries:    DefaultMaxLabelsPerSeries,
		MaxLabelNameLength:    DefaultMaxLabelNameLength,
		MaxLabelValueLength:   DefaultMaxLabelValueLength,
		MaxLineBytes:          DefaultMaxLineBytes,
	}
}

// UnmarshalYAML fills in the defaults, then decodes the block over them
// (strictly, when the decoder is strict).
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig()
	type plain Config
	return unmarshal((*plain)(c))
}

// Validate checks c; messages name the field (without the "server."
// prefix) and the offending value. A zero Config is first replaced by
// DefaultConfig: an absent server block means all defaults.
func (c *Config) Validate() error {
	if *c == (Config{}) {
		*c = DefaultConfig()
	}
	if err := validateListenAddress(c.ListenAddress); err != nil {
		return err
	}
	switch {
	case c.MaxRequestBytes <= 0:
		return fmt.Errorf("max_request_bytes: must be > 0, got %d", c.MaxRequestBytes)
	case c.MaxDecodedBytes <= 0 || c.MaxDecodedBytes > maxDecodedLimit:
		return fmt.Errorf("max_decoded_bytes: must be in 1..%d, got %d", int64(maxDecodedLimit), c.MaxDecodedBytes)
	case c.MaxConcurrentRequests <= 0:
		return fmt.Errorf("max_concurrent_requests: must be > 0, got %d", c.MaxConcurrentRequests)
	case c.RequestQueueTimeout < 0:
		return fmt.Errorf("request_queue_timeout: must be >= 0, got %s", time.Duration(c.RequestQueueTimeout))
	case c.MaxLabelsPerSeries <= 0:
		return fmt.Errorf("max_labels_per_series: must be > 0, got %d", c.MaxLabelsPerSeries)
	case c.MaxLabelNameLength <= 0:
		return fmt.Errorf("max_label_name_length: must be > 0, got %d", c.MaxLabelNameLength)
	case c.MaxLabelValueLength <= 0:
		return fmt.Errorf("max_label_value_length: must be > 0, got %d", c.MaxLabelValueLength)
	case c.MaxLineBytes <= 0:
		return fmt.Errorf("max_line_bytes: must be > 0, got %d", c.MaxLineBytes)
	}
	return nil
}

func validateListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen_address: must be host:port, got %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("listen_address: port must be a number in 0..65535, got %q", addr)
	}
	return nil
}

// withDefaults replaces values that Validate would reject with defaults,
// so that a handler built from an unvalidated Config still works.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = d.MaxRequestBytes
	}
	if c.MaxDecodedBytes <= 0 || c.MaxDecodedBytes > maxDecodedLimit {
		c.MaxDecodedBytes = d.MaxDecodedBytes
	}
	if c.MaxConcurrentRequests <= 0 {
		c.MaxConcurrentRequests = d.MaxConcurrentRequests
	}
	if c.RequestQueueTimeout < 0 {
		c.RequestQueueTimeout = d.RequestQueueTimeout
	}
	if c.MaxLabelsPerSeries <= 0 {
		c.MaxLabelsPerSeries = d.MaxLabelsPerSeries
	}
	if c.MaxLabelNameLength <= 0 {
		c.MaxLabelNameLength = d.MaxLabelNameLength
	}
	if c.MaxLabelValueLength <= 0 {
		c.MaxLabelValueLength = d.MaxLabelValueLength
	}
	if c.MaxLineBytes <= 0 {
		c.MaxLineBytes = d.MaxLineBytes
	}
	return c
}

// limits returns the decoder limits of c.
func (c *Config) limits() outcome.Limits {
	return outcome.Limits{
		MaxLabelsPerSeries:  c.MaxLabelsPerSeries,
		MaxLabelNameLength:  c.MaxLabelNameLength,
		MaxLabelValueLength: c.MaxLabelValueLength,
		MaxDecodedBytes:     int(c.MaxDecodedBytes),
		MaxLineBytes:        c.MaxLineBytes,
	}
}
