package testenv

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// startAttempts bounds the retries when another process takes the port
// FreePort returned before the server binds it.
const startAttempts = 3

// PrometheusOptions configures StartPrometheus. The zero value is a plain
// remote-write receiver.
type PrometheusOptions struct {
	// ExtraFlags are appended to the command line. A flag given here
	// replaces the default flag of the same name (or its --no- form), so
	// "--rules.alert.resend-delay=5s" overrides the default 1s.
	// --config.file, --storage.tsdb.path and --web.listen-address belong to
	// StartPrometheus and must not be given.
	ExtraFlags []string
	// RuleFiles are rule files by file name (a base name such as
	// "alerts.yml") and content, loaded through rule_files.
	RuleFiles map[string]string
	// AlertmanagerURL, e.g. Alertmanager.URL(), is where alerts are sent.
	AlertmanagerURL string
	// ScrapeConfigs is the YAML value of scrape_configs: a list such as
	// "- job_name: premetrics\n  static_configs:\n  - targets: [127.0.0.1:8080]\n".
	ScrapeConfigs string
	// ScrapeInterval and EvaluationInterval default to 1s.
	ScrapeInterval     time.Duration
	EvaluationInterval time.Duration
	// RemoteWriteURLs makes this Prometheus a remote-write sender to each
	// URL, flushing every second and sending metadata every second (so
	// metadata-only requests happen within a test).
	RemoteWriteURLs []string
	// OutOfOrderTimeWindow lets the TSDB accept out-of-order samples this
	// much older than a series' newest sample; 0 rejects them.
	OutOfOrderTimeWindow time.Duration
	// Agent runs Prometheus in agent mode (--enable-feature=agent): it
	// scrapes and remote-writes but has no TSDB, no queries, no rules and
	// no remote write receiver. The usual sender in front of premetrics.
	Agent bool
}

// Prometheus is a real Prometheus server on 127.0.0.1 with its own
// temporary storage, stopped when the test ends.
type Prometheus struct {
	proc   *Process
	url    string
	dir    string
	client *http.Client
}

// StartPrometheus starts the installed Prometheus (see RequireBinary) on a
// free 127.0.0.1 port with a temporary storage directory and waits until
// /-/ready answers. Default flags:
//
//	--web.enable-remote-write-receiver  remote write 1.0 at RemoteWriteURL
//	--web.enable-lifecycle              Reload
//	--web.enable-admin-api              TSDB admin endpoints
//	--storage.tsdb.retention.time=1d
//	--rules.alert.resend-delay=1s       first alert is not held back a minute
//
// What the TSDB accepts (Prometheus 2.42, default 2h blocks): into an
// empty server, a sample of any timestamp; after that, per series, only
// timestamps newer than that series' newest one (unless
// OutOfOrderTimeWindow allows older), and overall only timestamps no more
// than 1h (half the block range) older than the newest sample of any
// series. Anything else is answered 400 "out of order sample" or "out of
// bounds". Tests should therefore write samples stamped within the last
// ~50 minutes of time.Now() and in increasing order per series.
//
// Prometheus applies target changes at most every 5s, so the first scrape
// of ScrapeConfigs and the first alert sent to AlertmanagerURL take about
// 5s after start: wait for them with WaitFor.
func StartPrometheus(t testing.TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	bin := RequireBinary(t, "prometheus")
	dir := t.TempDir()
	cfgPath, err := writePrometheusConfig(dir, opts)
	if err != nil {
		t.Fatal(err)
	}

	var lastErr error
	for range startAttempts {
		addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
		fixed := []string{
			"--config.file=" + cfgPath,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
		}
		defaults := []string{
			"--web.enable-remote-write-receiver",
			"--web.enable-lifecycle",
			"--web.enable-admin-api",
			"--storage.tsdb.retention.time=1d",
			"--rules.alert.resend-delay=1s",
		}
		if opts.Agent {
			// Server-only flags make an agent exit.
			fixed = []string{
				"--enable-feature=agent",
				"--config.file=" + cfgPath,
				"--storage.agent.path=" + filepath.Join(dir, "agent"),
				"--web.listen-address=" + addr,
			}
			defaults = []string{"--web.enable-lifecycle"}
		}
		base := "http://" + addr
		proc, err := startProcess(t, ProcessOptions{
			Name:     "prometheus",
			Path:     bin,
			Args:     append(fixed, mergeFlags(defaults, opts.ExtraFlags)...),
			ReadyURL: base + "/-/ready",
		})
		if err == nil {
			return &Prometheus{proc: proc, url: base, dir: dir, client: &http.Client{Timeout: 30 * time.Second}}
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("cannot start prometheus: %v", lastErr)
	return nil
}

// URL returns the server's base URL, http://127.0.0.1:PORT.
func (p *Prometheus) URL() string { return p.url }

// RemoteWriteURL returns the remote write 1.0 receiver's URL.
func (p *Prometheus) RemoteWriteURL() string { return p.url + "/api/v1/write" }

// Process returns the server process, e.g. to Stop it early.
func (p *Prometheus) Process() *Process { return p.proc }

// Dir returns the server's temporary directory: prometheus.yml, rules/ and
// data/.
func (p *Prometheus) Dir() string { return p.dir }

// WaitReady waits up to timeout until /-/ready answers 200 OK, e.g. after
// Reload; StartPrometheus has already waited once.
func (p *Prometheus) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := p.proc.waitReady(p.url+"/-/ready", timeout); err != nil {
		t.Fatal(err)
	}
}

// Reload makes the server re-read its configuration and rule files (after
// a test rewrote files under Dir) via POST /-/reload.
func (p *Prometheus) Reload(t testing.TB) {
	t.Helper()
	resp, err := p.client.Post(p.url+"/-/reload", "", nil)
	if err != nil {
		t.Fatalf("cannot reload prometheus: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cannot reload prometheus: %s", readError(resp))
	}
}

// prometheusConfig is the part of prometheus.yml this package writes.
type prometheusConfig struct {
	Global    promGlobal    `yaml:"global"`
	RuleFiles []string      `yaml:"rule_files"`
	Alerting  *promAlerting `yaml:"alerting,omitempty"`
	Storage   *promStorage  `yaml:"storage,omitempty"`
}

type promGlobal struct {
	ScrapeInterval     string `yaml:"scrape_interval"`
	EvaluationInterval string `yaml:"evaluation_interval"`
}

type promAlerting struct {
	Alertmanagers []promAlertmanager `yaml:"alertmanagers"`
}

type promAlertmanager struct {
	Scheme        string             `yaml:"scheme"`
	PathPrefix    string             `yaml:"path_prefix"`
	StaticConfigs []promStaticConfig `yaml:"static_configs"`
}

type promStaticConfig struct {
	Targets []string `yaml:"targets"`
}

type promStorage struct {
	TSDB struct {
		OutOfOrderTimeWindow string `yaml:"out_of_order_time_window"`
	} `yaml:"tsdb"`
}

// writePrometheusConfig writes dir/prometheus.yml and dir/rules/* and
// returns the configuration's path.
func writePrometheusConfig(dir string, opts PrometheusOptions) (string, error) {
	var cfg prometheusConfig
	cfg.Global.ScrapeInterval = durationOr(opts.ScrapeInterval, time.Second)
	cfg.Global.EvaluationInterval = durationOr(opts.EvaluationInterval, time.Second)

	ruleDir := filepath.Join(dir, "rules")
	if err := os.Mkdir(ruleDir, 0o755); err != nil {
		return "", fmt.Errorf("cannot create rule directory: %w", err)
	}
	if !opts.Agent {
		cfg.RuleFiles = []string{filepath.Join(ruleDir, "*")}
	}
	for name, content := range opts.RuleFiles {
		if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
			return "", fmt.Errorf("PrometheusOptions.RuleFiles: name must be a plain file name, got %q", name)
		}
		if err := os.WriteFile(filepath.Join(ruleDir, name), []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("cannot write rule file %s: %w", name, err)
		}
	}

	if opts.AlertmanagerURL != "" {
		u, err := url.Parse(opts.AlertmanagerURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", fmt.Errorf("PrometheusOptions.AlertmanagerURL: must be an http(s) URL, got %q", opts.AlertmanagerURL)
		}
		prefix := u.Path
		if prefix == "" {
			prefix = "/"
		}
		cfg.Alerting = &promAlerting{Alertmanagers: []promAlertmanager{{
			Scheme:        u.Scheme,
			PathPrefix:    prefix,
			StaticConfigs: []promStaticConfig{{Targets: []string{u.Host}}},
		}}}
	}

	if opts.OutOfOrderTimeWindow > 0 {
		cfg.Storage = &promStorage{}
		cfg.Storage.TSDB.OutOfOrderTimeWindow = model.Duration(opts.OutOfOrderTimeWindow).String()
	}

	out, err := yaml.Marshal(&cfg)
	if err != nil {
		return "", fmt.Errorf("cannot encode prometheus.yml: %w", err)
	}
	if s := strings.TrimSpace(opts.ScrapeConfigs); s != "" {
		// A block sequence may sit at the key's indentation.
		out = append(out, "scrape_configs:\n"+s+"\n"...)
	}
	if len(opts.RemoteWriteURLs) > 0 {
		out = append(out, "remote_write:\n"...)
		for _, u := range opts.RemoteWriteURLs {
			out = append(out, fmt.Sprintf("  - url: %q\n    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}\n    metadata_config: {send_interval: 1s}\n", u)...)
		}
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, out, 0o644); err != nil {
		return "", fmt.Errorf("cannot write prometheus.yml: %w", err)
	}
	return cfgPath, nil
}

func durationOr(d, def time.Duration) string {
	if d <= 0 {
		d = def
	}
	return model.Duration(d).String()
}

// mergeFlags returns defaults followed by extra, leaving out each default
// whose name extra sets itself (as --name, --name=v or --no-name).
func mergeFlags(defaults, extra []string) []string {
	overridden := make(map[string]bool)
	for _, f := range extra {
		if name, ok := flagName(f); ok {
			overridden[name] = true
			overridden[strings.TrimPrefix(name, "no-")] = true
		}
	}
	args := make([]string, 0, len(defaults)+len(extra))
	for _, f := range defaults {
		if name, _ := flagName(f); !overridden[name] {
			args = append(args, f)
		}
	}
	return append(args, extra...)
}

// flagName returns the name of a "--name[=value]" argument.
func flagName(arg string) (string, bool) {
	if !strings.HasPrefix(arg, "--") || len(arg) == 2 {
		return "", false
	}
	name, _, _ := strings.Cut(arg[2:], "=")
	return name, true
}
