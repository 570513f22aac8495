package alerting

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/internal/testenv"
)

const renderYAML = `groups:
  - name: hosts
    interval: 15s
    rules:
      - alert: HostCPUAboveThreshold
        expr: |
          max by (hostname) (cpu_usage:30s_by_cpu_hostname_avg)
            > on (hostname) cpu_threshold
        for: 1m
        labels: {severity: page}
        annotations:
          summary: '{{ $labels.hostname }}: {{ $value }}% over its threshold'
      - record: hostname:cpu_usage:max
        expr: max by (hostname) (cpu_usage:30s_by_cpu_hostname_avg)
`

// promtoolCheck runs promtool check rules on rules and fails the test
// with its output unless it passes.
func promtoolCheck(t *testing.T, rules []byte) {
	t.Helper()
	promtool := testenv.RequireBinary(t, "promtool")
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s\nrules:\n%s", err, out, rules)
	}
}

func TestRender(t *testing.T) {
	cfg := parse(t, renderYAML)
	out, err := Render(cfg, RenderOptions{Header: "line one\nline two"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "# line one\n# line two\ngroups:\n") {
		t.Errorf("no header:\n%s", out)
	}
	// What Render writes is what was configured.
	if back := parse(t, string(out)); !reflect.DeepEqual(back, cfg) {
		t.Errorf("rendered rules decode to\n%+v\nwant\n%+v", back, cfg)
	}
	promtoolCheck(t, out)
}

func TestRenderSelfHealth(t *testing.T) {
	cfg := parse(t, renderYAML)
	out, err := Render(cfg, RenderOptions{SelfHealth: &SelfHealth{Job: "pm", QueueCapacity: map[string]int{"b": 1000, "a": 40000}}})
	if err != nil {
		t.Fatal(err)
	}
	back := parse(t, string(out))
	if len(back.Groups) != 2 || back.Groups[1].Name != SelfHealthGroupName {
		t.Fatalf("groups: %+v", back.Groups)
	}
	alerts := map[string]string{}
	for _, r := range back.Groups[1].Rules {
		alerts[r.Alert] = r.Expr
		if !strings.Contains(r.Expr, `job="pm"`) {
			t.Errorf("%s does not select job pm: %s", r.Alert, r.Expr)
		}
		if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s lacks a severity, summary or description", r.Alert)
		}
	}
	for _, name := range []string{
		"PremetricsDown", "PremetricsConfigReloadFailed", "PremetricsSamplesDropped", "PremetricsLateSamples",
		"PremetricsRemoteWriteSamplesDropped", "PremetricsRemoteWriteRetrying", "PremetricsRemoteWriteBacklogGrowing",
		"PremetricsRemoteWriteBacklogHigh", "PremetricsCheckpointFailing", "PremetricsEnrichRefreshFailing",
	} {
		if _, ok := alerts[name]; !ok {
			t.Errorf("no alert %s", name)
		}
	}
	// 80% of each endpoint's queue.
	want := `premetrics_remotewrite_pending_samples{job="pm", endpoint="a"} > 32000` + "\n" +
		`  or premetrics_remotewrite_pending_samples{job="pm", endpoint="b"} > 800`
	if got := alerts["PremetricsRemoteWriteBacklogHigh"]; got != want {
		t.Errorf("backlog alert:\n%s\nwant:\n%s", got, want)
	}
	promtoolCheck(t, out)

	// Without queue capacities there is no backlog level to alert on.
	for _, r := range SelfHealthGroup(SelfHealth{}).Rules {
		if r.Alert == "PremetricsRemoteWriteBacklogHigh" {
			t.Error("backlog alert without queue capacities")
		}
		if !strings.Contains(r.Expr, `job="`+DefaultJob+`"`) {
			t.Errorf("%s does not select the default job: %s", r.Alert, r.Expr)
		}
	}
}

func TestRenderEmpty(t *testing.T) {
	out, err := Render(Config{}, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "groups: []\n" {
		t.Errorf("got %q", out)
	}
	promtoolCheck(t, out)
}

func TestRenderErrors(t *testing.T) {
	cfg := Config{Groups: []Group{{Name: SelfHealthGroupName}}}
	_, err := Render(cfg, RenderOptions{SelfHealth: &SelfHealth{}})
	want := `groups[0].name: "premetrics-self-health" is the name of the built-in self-health group; rename the group or leave the built-in one out`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if _, err := Render(cfg, RenderOptions{}); err != nil {
		t.Errorf("without the built-in group: %v", err)
	}
	// What Prometheus would reject is not written.
	bad := Config{Groups: []Group{{Name: "a", Rules: []Rule{{Alert: "A", Expr: "sum("}}}}}
	if _, err := Render(bad, RenderOptions{}); err == nil || !strings.Contains(err.Error(), "rendered rules are not valid for Prometheus") {
		t.Errorf("invalid rule rendered: %v", err)
	}
}
