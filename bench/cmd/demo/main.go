// Command demo runs the connected-vehicles pipeline end to end, for
// `make demo`: a real Alertmanager and Prometheus (Debian packages) on
// 127.0.0.1, Prometheus loading the rules `premetrics rules` writes for
// config.example.yaml, premetrics with config.example.yaml (the vehicle
// registry joined onto the events, per-model limits as reference
// series), and the fleet simulator pushing JSON events to
// /api/v1/push/vehicles (or, with -protocol remote_write, remote write to
// /api/v1/write) for about a minute. It then prints what went in and what
// came out, compares every complete 5 s window, per model and region,
// with the simulator's ground truth, shows the alerts Alertmanager
// received, and stops what it started (or keeps it running with -keep).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/premetrics/premetrics/bench/fleet"
)

type options struct {
	premetrics, fleetsim, prometheus, alertmanager string
	config                                         string
	alert                                          string // the alert that must fire
	protocol                                       string
	vehicles                                       int
	duration                                       time.Duration
	keep                                           bool
}

func main() {
	var o options
	flag.StringVar(&o.premetrics, "premetrics", "bin/premetrics", "premetrics binary")
	flag.StringVar(&o.fleetsim, "fleetsim", "bin/fleetsim", "fleet simulator binary")
	flag.StringVar(&o.prometheus, "prometheus", "/usr/bin/prometheus", "Prometheus binary")
	flag.StringVar(&o.alertmanager, "alertmanager", "/usr/bin/prometheus-alertmanager", "Alertmanager binary")
	flag.StringVar(&o.alert, "alert", "VehicleModelWarningLightsAboveLimit", "alert that must reach Alertmanager (empty: none)")
	flag.StringVar(&o.config, "config", "config.example.yaml", "premetrics config")
	flag.StringVar(&o.protocol, "protocol", "json", `how the fleet pushes: "json" (events to /api/v1/push/vehicles) or "remote_write" (/api/v1/write)`)
	flag.IntVar(&o.vehicles, "vehicles", 5000, "simulated vehicles")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long the fleet pushes")
	flag.BoolVar(&o.keep, "keep", false, "keep Prometheus and premetrics running until Ctrl-C")
	flag.Parse()
	if o.protocol != "json" && o.protocol != "remote_write" {
		fmt.Fprintf(os.Stderr, "demo: -protocol: must be \"json\" or \"remote_write\", got %q\n", o.protocol)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	work, err := os.MkdirTemp("", "premetrics-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	promAddr, err := freeAddr()
	if err != nil {
		return err
	}
	pmAddr, err := freeAddr()
	if err != nil {
		return err
	}
	amAddr, err := freeAddr()
	if err != nil {
		return err
	}
	rulesFile := filepath.Join(work, "rules.yml")
	step("writing the Prometheus rules of %s: premetrics rules --job=premetrics %s > rules.yml", o.config, o.config)
	if err := writeRules(o.premetrics, o.config, rulesFile, "premetrics"); err != nil {
		return err
	}
	step("starting Alertmanager on http://%s", amAddr)
	am, err := startAlertmanager(ctx, o.alertmanager, work, amAddr)
	if err != nil {
		return err
	}
	defer am.stop()
	step("starting Prometheus on http://%s (remote write receiver and native histograms on, rules.yml loaded, alerts to Alertmanager)", promAddr)
	promCfg := filepath.Join(work, "prometheus.yml")
	promYAML := fmt.Sprintf(`global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: [%q]
alerting:
  alertmanagers: [{static_configs: [{targets: ['%s']}]}]
scrape_configs:
  - job_name: premetrics
    static_configs: [{targets: ['%s']}]
`, rulesFile, amAddr, pmAddr)
	if err := os.WriteFile(promCfg, []byte(promYAML), 0o644); err != nil {
		return err
	}
	prom, err := start(filepath.Join(work, "prometheus.log"), nil, o.prometheus,
		"--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(work, "tsdb"),
		"--web.listen-address="+promAddr, "--web.enable-remote-write-receiver",
		"--rules.alert.resend-delay=1s", "--enable-feature=native-histograms")
	if err != nil {
		return err
	}
	defer prom.stop()
	if err := waitReady(ctx, "http://"+promAddr+"/-/ready", prom); err != nil {
		return err
	}

	step("starting premetrics on http://%s with %s", pmAddr, o.config)
	pm, err := start(filepath.Join(work, "premetrics.log"),
		[]string{"PREMETRICS_LISTEN=" + pmAddr, "PROMETHEUS_URL=http://" + promAddr},
		o.premetrics, "run", "--config.file="+o.config, "--storage.path="+filepath.Join(work, "data"))
	if err != nil {
		return err
	}
	defer pm.stop()
	if err := waitReady(ctx, "http://"+pmAddr+"/-/ready", pm); err != nil {
		return err
	}

	path := "/api/v1/push/vehicles"
	if o.protocol == "remote_write" {
		path = "/api/v1/write"
		step("simulating %d hybrid vehicles for %s: remote write to %s (vehicle_rpm{engine=ic|electric}, vehicle_warnings; one reading a second each)", o.vehicles, o.duration, path)
	} else {
		step("simulating %d hybrid vehicles for %s: JSON events to %s (IC_RPM, ELECTRIC_RPM, WARNINGS; one reading a second each)", o.vehicles, o.duration, path)
	}
	summaryFile := filepath.Join(work, "fleet.json")
	sim, err := start("", nil, o.fleetsim, "-protocol="+o.protocol, "-url=http://"+pmAddr+path,
		"-vehicles="+strconv.Itoa(o.vehicles), "-duration="+o.duration.String(), "-summary="+summaryFile)
	if err != nil {
		return err
	}
	if err := sim.wait(ctx); err != nil {
		return fmt.Errorf("fleet simulator: %w", err)
	}
	// The 5 s windows close 10 s (their lateness) after they end.
	step("waiting 12 s for the last 5 s windows to close (lateness 10 s)")
	select {
	case <-time.After(12 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}

	var sum fleetSummary
	if err := readJSON(summaryFile, &sum); err != nil {
		return err
	}
	self, err := scrapeSelf("http://" + pmAddr + "/metrics")
	if err != nil {
		return err
	}
	r := &report{prom: "http://" + promAddr, premetrics: "http://" + pmAddr, alertmanager: "http://" + amAddr, path: path, fleet: sum, self: self, wantAlert: o.alert}
	if err := r.print(os.Stdout); err != nil {
		return err
	}
	if o.alert != "" {
		// Prometheus evaluates every 5 s; the alert has `for: 10s`.
		alerts, err := waitForAlert(ctx, r.alertmanager, o.alert, 40*time.Second)
		if err != nil {
			return err
		}
		r.alerts = alerts
		r.printAlerts(os.Stdout)
	}
	if o.keep {
		fmt.Printf("\nKeeping everything running; press Ctrl-C to stop.\n  Prometheus:    http://%s/graph\n  Alertmanager:  http://%s\n  premetrics:    http://%s/metrics\n", promAddr, amAddr, pmAddr)
		<-ctx.Done()
	}
	step("stopping premetrics (SIGTERM: emits due windows, checkpoints open ones, drains the queue), Prometheus and Alertmanager")
	if code := pm.stop(); code != 0 {
		return fmt.Errorf("premetrics exited with %d; log:\n%s", code, pm.tail())
	}
	return r.verdict()
}

type fleetSummary struct {
	Protocol         string           `json:"protocol"`
	Gzip             bool             `json:"gzip"`
	Vehicles         int              `json:"vehicles"`
	Series           int              `json:"series"`
	Requests         int64            `json:"requests"`
	BodyBytes        int64            `json:"body_bytes"`
	SamplesGenerated int64            `json:"samples_generated"`
	SamplesSent      int64            `json:"samples_sent"`
	SamplesFailed    int64            `json:"samples_failed"`
	FailedRequests   int64            `json:"failed_requests"`
	StatusCounts     map[string]int64 `json:"status_counts"`
	Expected         struct {
		Windows []fleet.Window `json:"windows"`
	} `json:"expected"`
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("cannot parse %s: %w", path, err)
	}
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(ctx context.Context, readyURL string, p *process) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready; log:\n%s", p.name, p.tail())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 30 s; log:\n%s", p.name, p.tail())
}

// promQuery runs an instant query and returns the vector.
func promQuery(base, q string, at time.Time) ([]promSample, error) {
	v := url.Values{"query": {q}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	resp, err := http.Get(base + "/api/v1/query?" + v.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	if out.Status != "success" {
		return nil, errors.New("query " + q + ": " + out.Error)
	}
	res := make([]promSample, 0, len(out.Data.Result))
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		f, _ := strconv.ParseFloat(s, 64)
		res = append(res, promSample{labels: r.Metric, value: f})
	}
	return res, nil
}

type promSample struct {
	labels map[string]string
	value  float64
}
