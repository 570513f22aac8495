package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/config"
)

// TestSelfMetricNames: the names include the self metrics of the design,
// the ones only run registers, those of vectors without series yet, and
// the series of histograms.
func TestSelfMetricNames(t *testing.T) {
	cfg, err := config.Load("selfmetrics.yaml", []byte(selfMetricsConfig), func(string) (string, bool) { return "", false })
	if err == nil {
		_, err = compile(cfg, newObservability(nil))
	}
	if err != nil {
		t.Fatalf("selfMetricsConfig does not compile, so histograms may lack their series: %v", err)
	}
	names := selfMetricNames()
	want := []string{
		// DESIGN.md
		"premetrics_ingest_requests_total", "premetrics_ingest_samples_total", "premetrics_ingest_rejected_samples_total",
		"premetrics_dropped_samples_total",
		"premetrics_aggregate_input_samples_total", "premetrics_aggregate_late_samples_total",
		"premetrics_aggregate_output_samples_total", "premetrics_aggregate_series", "premetrics_aggregate_flush_duration_seconds",
		"premetrics_remotewrite_samples_sent_total", "premetrics_remotewrite_samples_dropped_total",
		"premetrics_remotewrite_pending_samples", "premetrics_remotewrite_retries_total",
		// registered by run: reload, checkpoints
		"premetrics_config_last_reload_successful", "premetrics_config_last_reload_success_timestamp_seconds", "premetrics_config_reloads_total",
		"premetrics_checkpoint_writes_total", "premetrics_checkpoint_last_success_timestamp_seconds",
		// custom collectors, vectors without series, build info
		"premetrics_aggregate_input_series_estimate", "premetrics_enrich_last_refresh_successful",
		"premetrics_enrich_refresh_failures_total", "premetrics_mqtt_connected", "premetrics_build_info",
		// histograms' series
		"premetrics_aggregate_flush_duration_seconds_bucket", "premetrics_ingest_request_duration_seconds_count",
		"premetrics_remotewrite_send_duration_seconds_sum",
		// Go collector (with its summary) and process collector
		"go_goroutines", "go_gc_duration_seconds", "go_gc_duration_seconds_count",
		// GET /metrics itself
		"promhttp_metric_handler_errors_total",
	}
	if runtime.GOOS == "linux" {
		want = append(want, "process_cpu_seconds_total", "process_resident_memory_bytes")
	}
	for _, n := range want {
		if !names[n] {
			t.Errorf("%s is missing", n)
		}
	}
	for n := range names {
		if !strings.HasPrefix(n, "premetrics_") && !strings.HasPrefix(n, "go_") && !strings.HasPrefix(n, "process_") && !strings.HasPrefix(n, "promhttp_") {
			t.Errorf("unexpected self metric %s", n)
		}
	}
	if names["premetrics_ingest_samples_total_bucket"] || names["premetrics_remotewrite_pending_samples_count"] {
		t.Error("histogram series for a counter or gauge")
	}
}
