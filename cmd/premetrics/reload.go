package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/derive"
	"github.com/premetrics/premetrics/remotewrite"
)

// reloader loads, compiles and swaps in the config file on SIGHUP and
// POST /-/reload. What reloads live:
//
//   - relabel_configs and forward_unmatched: from the next request;
//   - aggregations: one whose config is deeply equal to a running one
//     keeps its *aggregate.Aggregator and window state; a changed or
//     removed one is flushed with force, open windows included, and
//     dropped; a new one starts empty;
//   - remote_write: an unchanged entry keeps its running queue; a changed
//     one gets a new queue, started before the old one is stopped with a
//     drain of up to --shutdown.timeout;
//   - inputs.json: swapped atomically (JSONInputs.Set);
//   - enrich: an unchanged entry keeps its table and refresh loop; a new
//     or changed one is loaded before the swap (a required table that
//     cannot be loaded fails the reload), the replaced one stops after it.
//
// server.*, the inputs.remote_write/influx/otlp/prometheus_text toggles
// and options, and inputs.mqtt need a restart: a change is logged
// ("requires a restart: server.listen_address") and the running value is
// kept.
type reloader struct {
	file           string
	listenOverride string // --web.listen-address
	drainTimeout   time.Duration
	obs            *observability
	log            *slog.Logger

	mu  sync.Mutex
	cur running

	successful prometheus.Gauge
	lastOK     prometheus.Gauge
	reloads    *prometheus.CounterVec
}

func newReloader(f runFlags, cfg *config.Config, c *components, obs *observability, log *slog.Logger) *reloader {
	r := &reloader{
		file:           f.configFile,
		listenOverride: f.listenAddress,
		drainTimeout:   f.shutdownTimeout,
		obs:            obs,
		log:            log,
		cur:            running{cfg: cfg, c: c},
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "premetrics_config_last_reload_successful",
			Help: "Whether the last config reload succeeded (1) or not (0).",
		}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "premetrics_config_last_reload_success_timestamp_seconds",
			Help: "When the config was last loaded successfully (at start or by a reload).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "premetrics_config_reloads_total",
			Help: "Config reloads by result (success or failure).",
		}, []string{"result"}),
	}
	r.successful.Set(1)
	r.lastOK.SetToCurrentTime()
	r.reloads.WithLabelValues("success")
	r.reloads.WithLabelValues("failure")
	obs.reg.MustRegister(r.successful, r.lastOK, r.reloads)
	return r
}

// current returns the running config and components.
func (r *reloader) current() running {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// invalidConfig is the text premetrics check prints for an invalid file.
func invalidConfig(file string, err error) string {
	return fmt.Sprintf("%s: INVALID\n%v\n", file, err)
}

// reload loads the file and swaps it in. On error the running config is
// untouched and the error's text is what premetrics check prints.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.swap(); err != nil {
		r.successful.Set(0)
		r.reloads.WithLabelValues("failure").Inc()
		r.log.Error("config reload failed; the running config is kept", "file", r.file, "err", err)
		return fmt.Errorf("%s", invalidConfig(r.file, err))
	}
	r.successful.Set(1)
	r.lastOK.SetToCurrentTime()
	r.reloads.WithLabelValues("success").Inc()
	return nil
}

func (r *reloader) swap() error {
	cfg, err := config.LoadFile(r.file)
	if err != nil {
		return err
	}
	if r.listenOverride != "" {
		cfg.Server.ListenAddress = r.listenOverride
	}
	old := r.cur
	for _, field := range restartOnly(old.cfg, cfg) {
		r.log.Warn("config change not applied, requires a restart: "+field, "file", r.file)
	}
	keepRestartOnly(cfg, old.cfg)
	if err := checkPipeline(cfg); err != nil { // as premetrics check and run do
		return err
	}
	c, err := compileReusing(cfg, r.obs, &old)
	if err != nil {
		return err
	}
	// Nothing fails from here on. Sinks first: new queues run before the
	// pipeline sends to them and before the old ones stop.
	var stale []*remotewrite.Queue
	for _, q := range old.c.queues {
		if !contains(c.queues, q) {
			stale = append(stale, q)
		}
	}
	for _, q := range c.queues {
		if !contains(old.c.queues, q) {
			q.Start()
		}
	}
	// The removed aggregations' last windows may wait for queue space.
	sctx, cancelSwap := context.WithTimeout(context.Background(), r.drainTimeout)
	c.pipeline.Swap(sctx, c.stages)
	cancelSwap()
	c.inputs.JSON.Set(c.mappings)
	c.mqtt = old.c.mqtt // running subscribers; the new ones only validated
	r.cur = running{cfg: cfg, c: c}
	r.obs.stopEnrich(retiredEnrich(old.c, c)) // no ingest uses them after the swap
	r.forgetRemoved(old.cfg, cfg)

	dctx, cancel := context.WithTimeout(context.Background(), r.drainTimeout)
	defer cancel()
	for _, q := range stale {
		if err := q.Stop(dctx); err != nil {
			r.log.Warn("replaced remote write queue not fully drained", "err", err)
		}
	}
	kept := 0
	for _, a := range c.aggs {
		if contains(old.c.aggs, a) {
			kept++
		}
	}
	r.log.Info("config reloaded", "file", r.file,
		"aggregations", len(c.aggs), "aggregations_kept", kept,
		"remote_write", len(c.queues), "remote_write_replaced", len(stale))
	return nil
}

// forgetRemoved deletes the self-metric series of the aggregations and
// derive records that next no longer has, by name, once the swap flushed
// them: /metrics stops showing what no longer runs. Those kept by name
// (changed or not) share their series with the running ones and keep them.
func (r *reloader) forgetRemoved(old, next *config.Config) {
	for _, a := range old.Aggregations {
		if !slices.ContainsFunc(next.Aggregations, func(b aggregate.Config) bool { return b.Name == a.Name }) {
			r.obs.aggregate.Forget(a.Name)
		}
	}
	for _, d := range old.Derive {
		if !slices.ContainsFunc(next.Derive, func(e derive.Config) bool { return e.Record == d.Record }) {
			r.obs.derive.Forget(d.Record)
		}
	}
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// restartOnly names the changed settings a reload does not apply.
func restartOnly(old, next *config.Config) []string {
	var out []string
	ov, nv := reflect.ValueOf(old.Server), reflect.ValueOf(next.Server)
	for i := range ov.NumField() {
		if !reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			tag, _, _ := strings.Cut(ov.Type().Field(i).Tag.Get("yaml"), ",")
			out = append(out, "server."+tag)
		}
	}
	oi, ni := &old.Inputs, &next.Inputs
	for _, f := range []struct {
		name string
		a, b any
	}{
		{"inputs.remote_write", oi.RemoteWrite, ni.RemoteWrite},
		{"inputs.influx", oi.Influx, ni.Influx},
		{"inputs.otlp", oi.OTLP, ni.OTLP},
		{"inputs.prometheus_text", oi.PrometheusText, ni.PrometheusText},
		{"inputs.mqtt", oi.MQTT, ni.MQTT},
	} {
		if !reflect.DeepEqual(f.a, f.b) {
			out = append(out, f.name)
		}
	}
	return out
}

// keepRestartOnly copies into next the running values of what needs a
// restart, so later reloads compare against what runs.
func keepRestartOnly(next, running *config.Config) {
	next.Server = running.Server
	next.Inputs.RemoteWrite = running.Inputs.RemoteWrite
	next.Inputs.Influx = running.Inputs.Influx
	next.Inputs.OTLP = running.Inputs.OTLP
	next.Inputs.PrometheusText = running.Inputs.PrometheusText
	next.Inputs.MQTT = running.Inputs.MQTT
}

// reloadHandler serves POST /-/reload: 200 after a reload, 400 with the
// messages of premetrics check when the new config is invalid.
func (r *reloader) reloadHandler(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost && req.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "use POST to reload the config", http.StatusMethodNotAllowed)
		return
	}
	if err := r.reload(); err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, err.Error())
		return
	}
	fmt.Fprintln(w, "config reloaded.")
}
