package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// defaultAlertmanagerConfig routes every alert to a receiver that sends
// nothing; tests read alerts back through Alerts.
const defaultAlertmanagerConfig = `route:
  receiver: "null"
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
`

// AlertmanagerOptions configures StartAlertmanager.
type AlertmanagerOptions struct {
	// Config is alertmanager.yml; empty means a single receiver that
	// sends nothing.
	Config string
	// ExtraFlags are appended to the command line; --config.file,
	// --storage.path, --web.listen-address and --cluster.listen-address
	// belong to StartAlertmanager and must not be given.
	ExtraFlags []string
}

// Alertmanager is a real Alertmanager on 127.0.0.1 with clustering off and
// temporary storage, stopped when the test ends. Start it before the
// Prometheus that sends to it.
type Alertmanager struct {
	proc   *Process
	url    string
	client *http.Client
}

// Alert is an alert as Alertmanager holds it (/api/v2/alerts).
type Alert struct {
	Labels      map[string]string
	Annotations map[string]string
	StartsAt    time.Time
	EndsAt      time.Time
	State       string // "active", "suppressed" or "unprocessed"
}

// StartAlertmanager starts the installed Alertmanager (Debian's
// prometheus-alertmanager, or alertmanager) and waits until /-/ready
// answers.
func StartAlertmanager(t testing.TB, opts AlertmanagerOptions) *Alertmanager {
	t.Helper()
	bin, ok := lookBinary("prometheus-alertmanager", "alertmanager")
	if !ok {
		bin = RequireBinary(t, "prometheus-alertmanager")
	}
	dir := t.TempDir()
	cfg := opts.Config
	if cfg == "" {
		cfg = defaultAlertmanagerConfig
	}
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatalf("cannot write alertmanager.yml: %v", err)
	}

	var lastErr error
	for range startAttempts {
		addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
		args := append([]string{
			"--config.file=" + cfgPath,
			"--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=", // no gossip listener on 0.0.0.0:9094
		}, opts.ExtraFlags...)
		base := "http://" + addr
		proc, err := startProcess(t, ProcessOptions{
			Name:     "alertmanager",
			Path:     bin,
			Args:     args,
			ReadyURL: base + "/-/ready",
		})
		if err == nil {
			return &Alertmanager{proc: proc, url: base, client: &http.Client{Timeout: 30 * time.Second}}
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("cannot start alertmanager: %v", lastErr)
	return nil
}

// URL returns the base URL, http://127.0.0.1:PORT, for
// PrometheusOptions.AlertmanagerURL.
func (a *Alertmanager) URL() string { return a.url }

// Process returns the Alertmanager process.
func (a *Alertmanager) Process() *Process { return a.proc }

// Alerts returns the alerts Alertmanager holds, sorted by labels.
func (a *Alertmanager) Alerts(t testing.TB) []Alert {
	t.Helper()
	resp, err := a.client.Get(a.url + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("cannot list alerts: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cannot list alerts: %s", readError(resp))
	}
	var raw []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		Status      struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("cannot decode alerts: %v", err)
	}
	out := make([]Alert, 0, len(raw))
	for _, r := range raw {
		out = append(out, Alert{Labels: r.Labels, Annotations: r.Annotations, StartsAt: r.StartsAt, EndsAt: r.EndsAt, State: r.Status.State})
	}
	sort.Slice(out, func(i, j int) bool { return labelKey(out[i].Labels) < labelKey(out[j].Labels) })
	return out
}

// String renders an alert for failure messages.
func (a Alert) String() string {
	return fmt.Sprintf("%s %s", labelKey(a.Labels), a.State)
}
