package mqtt

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeInputs decodes an inputs block strictly, as the config loader
// does.
func decodeInputs(t *testing.T, src string) ([]Config, error) {
	t.Helper()
	var out struct {
		MQTT []Config `yaml:"mqtt"`
	}
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	err := dec.Decode(&out)
	return out.MQTT, err
}

const exampleYAML = `
mqtt:
  - name: fleet
    brokers: [tcp://127.0.0.1:1883, "ssl://broker.example:8883"]
    client_id: premetrics-fleet
    username: u
    password: secret
    tls: {ca_file: ca.pem, cert_file: /abs/c.pem, key_file: k.pem, server_name: broker.example}
    reconnect: {min_backoff: 2s}
    topics:
      - filter: vehicles/+/events
        format: json
        input: vehicles
        topic_labels: {vehicle_id: 1}
      - filter: sensors/#
        qos: 0
        format: influx
`

func TestConfigYAMLDefaults(t *testing.T) {
	cfgs, err := decodeInputs(t, exampleYAML)
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateInputs(cfgs); err != nil {
		t.Fatalf("example config invalid: %v", err)
	}
	c := cfgs[0]
	switch {
	case c.Topics[0].QoS != 1 || c.Topics[1].QoS != 0:
		t.Errorf("qos = %d, %d; want the default 1, then the explicit 0", c.Topics[0].QoS, c.Topics[1].QoS)
	case time.Duration(c.KeepAlive) != DefaultKeepAlive || time.Duration(c.ConnectTimeout) != DefaultConnectTimeout:
		t.Errorf("keep_alive %v, connect_timeout %v: want defaults", c.KeepAlive, c.ConnectTimeout)
	case time.Duration(c.Reconnect.MinBackoff) != 2*time.Second || time.Duration(c.Reconnect.MaxBackoff) != DefaultMaxBackoff:
		t.Errorf("reconnect = %+v, want min 2s and the default max", c.Reconnect)
	case c.QueueSize != DefaultQueueSize || c.CleanSession || c.Required:
		t.Errorf("queue_size %d, clean_session %v, required %v: want defaults", c.QueueSize, c.CleanSession, c.Required)
	case c.Topics[0].TopicLabels["vehicle_id"] != 1:
		t.Errorf("topic_labels = %v", c.Topics[0].TopicLabels)
	}

	c.SetDirectory("/etc/premetrics")
	if c.TLS.CAFile != filepath.FromSlash("/etc/premetrics/ca.pem") || c.TLS.CertFile != "/abs/c.pem" || c.TLS.KeyFile != filepath.FromSlash("/etc/premetrics/k.pem") {
		t.Errorf("SetDirectory: %+v", c.TLS)
	}
}

func TestConfigYAMLIsStrict(t *testing.T) {
	for _, src := range []string{
		"mqtt:\n  - name: a\n    broker: tcp://x:1\n",
		"mqtt:\n  - name: a\n    topics: [{filter: a, fromat: json}]\n",
		"mqtt:\n  - name: a\n    reconnect: {min: 1s}\n",
		"mqtt:\n  - name: a\n    tls: {ca: x}\n",
	} {
		if _, err := decodeInputs(t, src); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("%q: err = %v, want an unknown-field error", src, err)
		}
	}
}

// validConfig is a minimal valid entry.
func validConfig() Config {
	c := DefaultConfig()
	c.Name = "in"
	c.Brokers = []string{"tcp://127.0.0.1:1883"}
	c.Topics = []TopicConfig{{Filter: "a/+/c", QoS: 1, Format: FormatInflux}}
	return c
}

func TestConfigValidateMessages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(c *Config)
		errors []string // each a line of the error, in order
	}{
		{"name missing", func(c *Config) { c.Name = "" }, []string{"name: is required"}},
		{"name chars", func(c *Config) { c.Name = "a b" }, []string{`name: must consist of letters, digits, '_', '.' and '-', got "a b"`}},
		{"no brokers", func(c *Config) { c.Brokers = nil }, []string{"brokers: at least one broker URL is required, e.g. tcp://127.0.0.1:1883"}},
		{"bad scheme", func(c *Config) { c.Brokers = []string{"http://x:1"} }, []string{`brokers[0]: unsupported scheme in "http://x:1": want tcp://, mqtt://, ssl://, tls://, mqtts://, ws:// or wss://`}},
		{"no host", func(c *Config) { c.Brokers = []string{"tcp://:1883"} }, []string{`brokers[0]: no host in "tcp://:1883"`}},
		{"bad port", func(c *Config) { c.Brokers = []string{"tcp://h:99999"} }, []string{`brokers[0]: invalid port in "tcp://h:99999"`}},
		{"credentials in URL", func(c *Config) { c.Brokers = []string{"tcp://u:p@h:1"} }, []string{`brokers[0]: credentials in the URL "tcp://u:xxxxx@h:1": use username and password instead`}},
		{"path on tcp", func(c *Config) { c.Brokers = []string{"tcp://h:1/x"} }, []string{`brokers[0]: a path is only meaningful for ws:// and wss://, got "tcp://h:1/x"`}},
		{"duplicate broker", func(c *Config) { c.Brokers = []string{"tcp://h:1", "tcp://h:1"} }, []string{`brokers[1]: duplicate broker "tcp://h:1" (also brokers[0])`}},
		{"password without user", func(c *Config) { c.Password = "p" }, []string{"password: set without username (MQTT 3.1.1 sends a password only with a username)"}},
		{"cert without key", func(c *Config) {
			c.Brokers = []string{"ssl://h:8883"}
			c.TLS = &TLSConfig{CertFile: "c.pem"}
		}, []string{"tls: cert_file and key_file must be set together"}},
		{"tls without tls broker", func(c *Config) { c.TLS = &TLSConfig{CAFile: "ca.pem"} }, []string{"tls: set, but no broker uses ssl://, tls://, mqtts:// or wss://"}},
		{"keep alive", func(c *Config) { c.KeepAlive.Set("500ms") }, []string{"keep_alive: must be between 1s and 18h12m15s, got 500ms"}},
		{"backoff order", func(c *Config) { c.Reconnect.MinBackoff.Set("1m"); c.Reconnect.MaxBackoff.Set("1s") }, []string{"reconnect.max_backoff: must be >= min_backoff (1m), got 1s"}},
		{"queue size", func(c *Config) { c.QueueSize = -1 }, []string{"queue_size: must be > 0, got -1"}},
		{"no topics", func(c *Config) { c.Topics = nil }, []string{"topics: at least one topic is required"}},
		{"filter empty", func(c *Config) { c.Topics[0].Filter = "" }, []string{"topics[0].filter: is required, e.g. vehicles/+/events"}},
		{"filter hash not last", func(c *Config) { c.Topics[0].Filter = "a/#/b" }, []string{`topics[0].filter: "a/#/b": '#' must be the last level`}},
		{"filter partial wildcard", func(c *Config) { c.Topics[0].Filter = "a/b+" }, []string{`topics[0].filter: "a/b+": a wildcard must be a whole level, got "b+"`}},
		{"bad share", func(c *Config) { c.Topics[0].Filter = "$share/g" }, []string{`topics[0].filter: shared subscription "$share/g": want $share/<group>/<filter>`}},
		{"qos", func(c *Config) { c.Topics[0].QoS = 3 }, []string{"topics[0].qos: must be 0, 1 or 2, got 3"}},
		{"format missing", func(c *Config) { c.Topics[0].Format = "" }, []string{"topics[0].format: is required: json or influx"}},
		{"format unknown", func(c *Config) { c.Topics[0].Format = "xml" }, []string{`topics[0].format: must be json or influx, got "xml"`}},
		{"json needs input", func(c *Config) { c.Topics[0].Format = FormatJSON }, []string{"topics[0].input: is required for format json: the name of a JSON input mapping (inputs.json)"}},
		{"influx takes no input", func(c *Config) { c.Topics[0].Input = "x" }, []string{`topics[0].input: is only used by format json, got "x" with format influx`}},
		{"topic labels", func(c *Config) {
			c.Topics[0].TopicLabels = map[string]int{"1bad": 0, "__name__": 0, "neg": -1, "far": 3, "ok": 2}
		}, []string{
			`topics[0].topic_labels.1bad: invalid label name "1bad": want [a-zA-Z_][a-zA-Z0-9_]*`,
			`topics[0].topic_labels.__name__: label names starting with __ are reserved, got "__name__"`,
			`topics[0].topic_labels.far: filter "a/+/c" has 3 levels (0..2), got index 3`,
			`topics[0].topic_labels.neg: topic level index must be >= 0, got -1`,
		}},
		{"duplicate filter", func(c *Config) { c.Topics = append(c.Topics, c.Topics[0]) }, []string{`topics[1].filter: duplicate filter "a/+/c" (also topics[0])`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tc.errors)
			}
			if got, want := err.Error(), strings.Join(tc.errors, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestConfigValidateFillsDefaultsAndAcceptsWildcards(t *testing.T) {
	c := Config{
		Name:    "in",
		Brokers: []string{"mqtt://h", "ws://h/mqtt", "mqtts://h"},
		Topics: []TopicConfig{
			{Filter: "#", Format: FormatInflux, TopicLabels: map[string]int{"deep": 9}},
			{Filter: "$share/g/a/+", Format: FormatJSON, Input: "x", TopicLabels: map[string]int{"l": 1}},
		},
		TLS: &TLSConfig{InsecureSkipVerify: true},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.QueueSize != DefaultQueueSize || time.Duration(c.KeepAlive) != DefaultKeepAlive || time.Duration(c.Reconnect.MaxBackoff) != DefaultMaxBackoff {
		t.Errorf("defaults not filled in: %+v", c)
	}
	u, _ := parseBroker("mqtt://h")
	if u.String() != "mqtt://h:1883" {
		t.Errorf("default port: %s", u)
	}
	if u, _ := parseBroker("mqtts://h"); u.String() != "mqtts://h:8883" {
		t.Errorf("default TLS port: %s", u)
	}
}

func TestValidateInputsUniqueness(t *testing.T) {
	a, b, c := validConfig(), validConfig(), validConfig()
	a.ClientID, b.ClientID = "same", "same"
	b.Name = "other"
	c.Name = ""
	err := ValidateInputs([]Config{a, b, c})
	want := strings.Join([]string{
		`[1].client_id: duplicate client_id "same" (also [0]): the broker would disconnect one whenever the other connects`,
		`[2].name: is required`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant:\n%s", err, want)
	}
	a.ClientID, b.ClientID, b.Name = "", "", "in"
	if err := ValidateInputs([]Config{a, b}); err == nil || err.Error() != `[1].name: duplicate MQTT input name "in" (also [0])` {
		t.Fatalf("err = %v", err)
	}
}

func TestNewResolvesDecoders(t *testing.T) {
	c := validConfig()
	c.Topics = append(c.Topics, TopicConfig{Filter: "j", Format: FormatJSON, Input: "missing"})
	_, err := New(c, &fakePipeline{}, textDecoders, nil, nil)
	want := `MQTT input "in": topics[1]: cannot get the json decoder (input "missing"): no decoder for json/missing`
	if err == nil || err.Error() != want {
		t.Fatalf("New = %v, want %s", err, want)
	}
	c.Topics = c.Topics[:1]
	c.Brokers = []string{"ssl://h:1"}
	c.TLS = &TLSConfig{CAFile: filepath.Join(t.TempDir(), "none.pem")}
	if _, err := New(c, &fakePipeline{}, textDecoders, nil, nil); err == nil || !strings.Contains(err.Error(), "tls: ca_file:") {
		t.Fatalf("New with a missing CA file = %v", err)
	}
	c.TLS = nil
	c.Name = ""
	if _, err := New(c, &fakePipeline{}, textDecoders, nil, nil); err == nil || !strings.Contains(err.Error(), "name: is required") {
		t.Fatalf("New with an invalid config = %v", err)
	}
}

func TestDefaultClientID(t *testing.T) {
	id := defaultClientID("fleet")
	if !strings.HasPrefix(id, "premetrics-") || !strings.HasSuffix(id, "-fleet") {
		t.Errorf("defaultClientID = %q", id)
	}
}
