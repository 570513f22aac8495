package remotewrite

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"
)

// decodeStrict decodes like the lead's config loader: yaml.v3 with KnownFields.
func decodeStrict(t *testing.T, doc string) ([]Config, error) {
	t.Helper()
	var top struct {
		RemoteWrite []Config `yaml:"remote_write"`
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.KnownFields(true)
	err := dec.Decode(&top)
	return top.RemoteWrite, err
}

func TestConfigYAMLDefaults(t *testing.T) {
	cfgs, err := decodeStrict(t, `
remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
  - url: https://user:secret@example.com/write
    name: central
    remote_timeout: 10s
    headers: {X-Scope-OrgID: fleet}
    follow_redirects: false
    basic_auth: {username: u, password: p}
    write_relabel_configs:
      - {source_labels: [__name__], regex: 'debug_.*', action: drop}
    queue_config:
      max_shards: 2
      retry_on_http_429: false
  - url: http://127.0.0.1:9090/api/v1/write
    queue_config: {}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 3 {
		t.Fatalf("got %d entries", len(cfgs))
	}
	def := cfgs[0]
	want := DefaultConfig()
	want.URL = "http://127.0.0.1:9090/api/v1/write"
	if def.RemoteTimeout != want.RemoteTimeout || def.QueueConfig != want.QueueConfig ||
		def.HTTPClientConfig.FollowRedirects != true || def.HTTPClientConfig.EnableHTTP2 ||
		def.ProtobufMessage != MessageV1 {
		t.Errorf("defaults not applied: %+v", def)
	}
	if err := def.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if got := def.Endpoint(); got != want.URL {
		t.Errorf("Endpoint = %q", got)
	}

	c := cfgs[1]
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if c.QueueConfig.MaxShards != 2 || c.QueueConfig.RetryOnRateLimit ||
		c.QueueConfig.Capacity != 10000 || c.QueueConfig.MaxSamplesPerSend != 2000 {
		t.Errorf("queue_config = %+v, want explicit values over defaults", c.QueueConfig)
	}
	if c.HTTPClientConfig.FollowRedirects || c.HTTPClientConfig.BasicAuth == nil ||
		c.HTTPClientConfig.BasicAuth.Username != "u" || c.Headers["X-Scope-OrgID"] != "fleet" ||
		time.Duration(c.RemoteTimeout) != 10*time.Second || len(c.WriteRelabelConfigs) != 1 {
		t.Errorf("explicit values lost: %+v", c)
	}
	if c.Endpoint() != "central" {
		t.Errorf("Endpoint = %q", c.Endpoint())
	}
	if cfgs[2].QueueConfig != DefaultQueueConfig() {
		t.Errorf("empty queue_config = %+v, want defaults", cfgs[2].QueueConfig)
	}
}

func TestConfigYAMLStrict(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"top level", "remote_write:\n  - url: http://a/\n    urll: x\n", "field urll not found"},
		{"queue_config", "remote_write:\n  - url: http://a/\n    queue_config: {max_shard: 2}\n", "field max_shard not found"},
		{"basic_auth", "remote_write:\n  - url: http://a/\n    basic_auth: {user: u}\n", "field user not found"},
		{"relabel", "remote_write:\n  - url: http://a/\n    write_relabel_configs: [{actionn: drop}]\n", "field actionn not found"},
		{"v2 only keys", "remote_write:\n  - url: http://a/\n    send_native_histograms: true\n", "field send_native_histograms not found"},
		{"bad duration", "remote_write:\n  - url: http://a/\n    remote_timeout: soon\n", `not a valid duration string: "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeStrict(t, tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func(mod func(c *Config)) Config {
		c := DefaultConfig()
		c.URL = "http://127.0.0.1:9090/api/v1/write"
		mod(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // every line of the joined error, in order
	}{
		{"valid", valid(func(c *Config) {}), nil},
		{"no url", valid(func(c *Config) { c.URL = "" }), []string{"url: must not be empty"}},
		{"bad scheme", valid(func(c *Config) { c.URL = "ftp://u:pw@host/x" }),
			[]string{`url: scheme must be http or https, got "ftp" in "ftp://host/x"`}},
		{"no host", valid(func(c *Config) { c.URL = "http:///x" }), []string{`url: must have a host, got "http:///x"`}},
		{"unparsable, password not echoed", valid(func(c *Config) { c.URL = "http://u:secret@host:port/" }),
			[]string{`url: cannot parse: invalid port ":port" after host`}},
		{"timeout", valid(func(c *Config) { c.RemoteTimeout = 0 }), []string{"remote_timeout: must be > 0, got 0s"}},
		{"reserved header", valid(func(c *Config) { c.Headers = map[string]string{"Content-Type": "x"} }),
			[]string{`headers: "Content-Type" is a reserved header and cannot be set`}},
		{"authorization header", valid(func(c *Config) { c.Headers = map[string]string{"authorization": "x"} }),
			[]string{`headers: "authorization" must be set with basic_auth, authorization or oauth2`}},
		{"bad header name", valid(func(c *Config) { c.Headers = map[string]string{"a b": "x"} }),
			[]string{`headers: invalid header name "a b"`}},
		{"bad header value", valid(func(c *Config) { c.Headers = map[string]string{"X-A": "a\nb"} }),
			[]string{`headers: invalid value for header "X-A"`}},
		{"nil relabel", valid(func(c *Config) { c.WriteRelabelConfigs = []*relabel.Config{nil} }),
			[]string{"write_relabel_configs[0]: must not be empty"}},
		{"bad relabel", valid(func(c *Config) {
			c.WriteRelabelConfigs = []*relabel.Config{{Action: relabel.Replace, Regex: relabel.MustNewRegexp("(.*)"), Separator: ";", Replacement: "$1", NameValidationScheme: model.UTF8Validation}}
		}), []string{"write_relabel_configs[0]: relabel configuration for replace action requires 'target_label' value"}},
		{"v2", valid(func(c *Config) { c.ProtobufMessage = MessageV2 }),
			[]string{`protobuf_message: "io.prometheus.write.v2.Request" is not supported yet, use "prometheus.WriteRequest"`}},
		{"unknown message", valid(func(c *Config) { c.ProtobufMessage = "foo" }),
			[]string{`protobuf_message: unknown message "foo", want "prometheus.WriteRequest"`}},
		{"empty message is v1", valid(func(c *Config) { c.ProtobufMessage = "" }), nil},
		{"two auths", valid(func(c *Config) {
			c.HTTPClientConfig.BasicAuth = &config.BasicAuth{Username: "u"}
			c.HTTPClientConfig.BearerToken = "t"
		}), []string{"at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"}},
		{"queue zeros", valid(func(c *Config) { c.QueueConfig = QueueConfig{} }), []string{
			"queue_config.capacity: must be > 0, got 0",
			"queue_config.max_samples_per_send: must be > 0, got 0",
			"queue_config.max_shards: must be > 0, got 0",
			"queue_config.min_shards: must be between 1 and max_shards (0), got 0",
			"queue_config.batch_send_deadline: must be > 0, got 0s",
			"queue_config.min_backoff: must be > 0, got 0s",
		}},
		{"queue negatives", valid(func(c *Config) {
			c.QueueConfig.MaxShards = -1
			c.QueueConfig.MaxSamplesPerSend = -5
		}), []string{
			"queue_config.max_samples_per_send: must be > 0, got -5",
			"queue_config.max_shards: must be > 0, got -1",
		}},
		{"per send over capacity", valid(func(c *Config) { c.QueueConfig.MaxSamplesPerSend = 20000 }),
			[]string{"queue_config.max_samples_per_send: must be <= capacity (10000), got 20000"}},
		{"min shards", valid(func(c *Config) { c.QueueConfig.MinShards = 5 }),
			[]string{"queue_config.min_shards: must be between 1 and max_shards (4), got 5"}},
		{"backoffs", valid(func(c *Config) { c.QueueConfig.MaxBackoff = model.Duration(time.Millisecond) }),
			[]string{"queue_config.max_backoff: must be >= min_backoff (30ms), got 1ms"}},
		{"several fields", valid(func(c *Config) {
			c.URL = ""
			c.QueueConfig.Capacity = 0
		}), []string{"url: must not be empty", "queue_config.capacity: must be > 0, got 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestEndpointStripsUserinfo(t *testing.T) {
	c := Config{URL: "https://user:pw@example.com:8443/api/v1/write?x=1"}
	if got, want := c.Endpoint(), "https://example.com:8443/api/v1/write?x=1"; got != want {
		t.Errorf("Endpoint = %q, want %q", got, want)
	}
}

func TestValidateConfigs(t *testing.T) {
	a := DefaultConfig()
	a.URL = "http://u:p@127.0.0.1:9090/api/v1/write"
	b := a
	b.URL = "http://127.0.0.1:9090/api/v1/write" // same endpoint once userinfo is stripped
	c := a
	c.URL = ""
	d := b
	d.Name = "other"
	err := ValidateConfigs([]Config{a, b, c, d})
	want := `remote_write[1].name: endpoint "http://127.0.0.1:9090/api/v1/write" is already used by remote_write[0]; set distinct names
remote_write[2].url: must not be empty`
	if err == nil || err.Error() != want {
		t.Errorf("ValidateConfigs:\n%v\nwant:\n%s", err, want)
	}
	if err := ValidateConfigs([]Config{a, d}); err != nil {
		t.Errorf("distinct names: %v", err)
	}
}
