package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// alertmanagerConfig routes every alert to a receiver that sends nothing:
// the demo reads the alerts back from Alertmanager's API.
const alertmanagerConfig = `route:
  receiver: "null"
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: "null"
`

// writeRules writes the Prometheus rule file that `premetrics rules`
// generates for the config (its alerting groups and premetrics' own
// health rules) to path, after checking it with promtool when installed.
func writeRules(premetrics, config, path, job string) error {
	out, err := exec.Command(premetrics, "rules", "--job="+job, config).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("premetrics rules %s: %w\n%s", config, err, ee.Stderr)
		}
		return fmt.Errorf("premetrics rules %s: %w", config, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return err
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
			return fmt.Errorf("promtool check rules: %w\n%s", err, out)
		}
	}
	return nil
}

// startAlertmanager starts Alertmanager on addr with clustering off.
func startAlertmanager(ctx context.Context, bin, work, addr string) (*process, error) {
	cfg := filepath.Join(work, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(alertmanagerConfig), 0o644); err != nil {
		return nil, err
	}
	am, err := start(filepath.Join(work, "alertmanager.log"), nil, bin,
		"--config.file="+cfg, "--storage.path="+filepath.Join(work, "alertmanager"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, "http://"+addr+"/-/ready", am); err != nil {
		am.stop()
		return nil, err
	}
	return am, nil
}

// amAlert is an alert as Alertmanager's API v2 returns it.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// activeAlerts returns the alerts Alertmanager holds, by name and labels.
func activeAlerts(base string) ([]amAlert, error) {
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alertmanager /api/v2/alerts: %s: %s", resp.Status, body)
	}
	var out []amAlert
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("alertmanager /api/v2/alerts: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return alertKey(out[i]) < alertKey(out[j]) })
	return out, nil
}

func alertKey(a amAlert) string { return a.Labels["alertname"] + labelText(a.Labels) }

// waitForAlert polls Alertmanager until an alert named name arrives or
// timeout passes, and returns every alert it holds then.
func waitForAlert(ctx context.Context, base, name string, timeout time.Duration) ([]amAlert, error) {
	deadline := time.Now().Add(timeout)
	for {
		alerts, err := activeAlerts(base)
		if err != nil {
			return nil, err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == name {
				return alerts, nil
			}
		}
		if time.Now().After(deadline) {
			return alerts, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// printAlerts prints the alerts, one a line, without the alertname.
func printAlerts(w io.Writer, alerts []amAlert) {
	if len(alerts) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	for _, a := range alerts {
		ls := make(map[string]string, len(a.Labels))
		for k, v := range a.Labels {
			if k != "alertname" {
				ls[k] = v
			}
		}
		fmt.Fprintf(w, "  %-32s %-9s since %s  %s\n", a.Labels["alertname"], a.Status.State, a.StartsAt.UTC().Format("15:04:05"), labelText(ls))
		if s := a.Annotations["summary"]; s != "" {
			fmt.Fprintf(w, "  %-32s %s\n", "", strings.TrimSpace(s))
		}
	}
}
