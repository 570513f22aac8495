package alerting

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// SelfHealthGroupName is the name of the built-in group of SelfHealthGroup.
const SelfHealthGroupName = "premetrics-self-health"

// DefaultJob is the job label premetrics is assumed to be scraped with.
const DefaultJob = "premetrics"

// SelfHealth configures the built-in alerts on premetrics itself.
type SelfHealth struct {
	// Job is the job label of premetrics' self metrics in Prometheus (the
	// scrape config's job_name); default DefaultJob.
	Job string
	// QueueCapacity is, per remote_write endpoint (the endpoint label),
	// how many samples its queue holds (queue_config capacity ×
	// max_shards): the backlog alert fires at 80% of it. Endpoints not
	// listed get only the growth alert.
	QueueCapacity map[string]int
}

// Intentional drops, left out of the drop alert: relabel_configs and
// write_relabel_configs dropping series, raw input no aggregation matched
// (forward_unmatched: false), on_miss: drop. Late samples have an alert
// of their own, and so do remote write drops.
const intentionalDrops = "relabel_drop|unmatched|enrich_miss|late"

// SelfHealthGroup returns the rule group of alerts on premetrics itself:
// down, samples dropped, late samples, remote write failing and backing
// up, config reload, checkpoint and enrichment refresh failures. Every
// metric it reads is a premetrics self metric, or up.
func SelfHealthGroup(opts SelfHealth) Group {
	job := cmp.Or(opts.Job, DefaultJob)
	sel := fmt.Sprintf("job=%q", job)
	m := func(metric, extra string) string {
		if extra != "" {
			return metric + "{" + sel + ", " + extra + "}"
		}
		return metric + "{" + sel + "}"
	}
	rule := func(alert, severity string, forDur time.Duration, expr, summary, description string) Rule {
		return Rule{
			Alert:  alert,
			Expr:   expr,
			For:    model.Duration(forDur),
			Labels: map[string]string{"severity": severity},
			Annotations: map[string]string{
				"summary":     summary,
				"description": description,
			},
		}
	}
	g := Group{Name: SelfHealthGroupName}
	g.Rules = append(g.Rules,
		rule("PremetricsDown", "critical", time.Minute,
			m("up", "")+" == 0",
			"premetrics {{ $labels.instance }} is down",
			"Prometheus cannot scrape premetrics at {{ $labels.instance }} (job "+job+"). While it is down nothing is aggregated or written, and devices pushing to it get errors."),
		rule("PremetricsConfigReloadFailed", "warning", time.Minute,
			m("premetrics_config_last_reload_successful", "")+" == 0",
			"premetrics {{ $labels.instance }} could not reload its config",
			"The last config reload of premetrics {{ $labels.instance }} failed; it keeps running the previous config. Run premetrics check on the file to see why."),
		rule("PremetricsSamplesDropped", "warning", time.Minute,
			"sum by (job, instance, stage, reason) (increase("+m("premetrics_dropped_samples_total", `stage!="remotewrite", reason!~"`+intentionalDrops+`"`)+"[5m])) > 0",
			"premetrics {{ $labels.instance }} drops samples ({{ $labels.stage }}: {{ $labels.reason }})",
			"premetrics {{ $labels.instance }} dropped {{ $value | humanize }} samples in the last 5 minutes at stage {{ $labels.stage }} for reason {{ $labels.reason }}."),
		rule("PremetricsLateSamples", "warning", 10*time.Minute,
			"sum by (job, instance, aggregation) (rate("+m("premetrics_aggregate_late_samples_total", "")+"[5m]))\n"+
				"  / sum by (job, instance, aggregation) (rate("+m("premetrics_aggregate_input_samples_total", "")+"[5m])) > 0.01",
			"aggregation {{ $labels.aggregation }} of premetrics {{ $labels.instance }} drops late samples",
			"{{ $value | humanizePercentage }} of the samples of aggregation {{ $labels.aggregation }} arrive after their window was written and are dropped. Raise its lateness, or find what delays them."),
		rule("PremetricsRemoteWriteSamplesDropped", "critical", 0,
			"sum by (job, instance, endpoint, reason) (increase("+m("premetrics_remotewrite_samples_dropped_total", `reason!="relabel"`)+"[5m])) > 0",
			"premetrics {{ $labels.instance }} drops samples bound for {{ $labels.endpoint }} ({{ $labels.reason }})",
			"Remote write to {{ $labels.endpoint }} discarded {{ $value | humanize }} samples in the last 5 minutes for reason {{ $labels.reason }}: they are lost."),
		rule("PremetricsRemoteWriteRetrying", "warning", 10*time.Minute,
			"sum by (job, instance, endpoint) (rate("+m("premetrics_remotewrite_retries_total", "")+"[5m])) > 0",
			"premetrics {{ $labels.instance }} keeps retrying remote write to {{ $labels.endpoint }}",
			"Requests to {{ $labels.endpoint }} have failed and been retried for 10 minutes ({{ $value | humanize }} retries/s); samples wait in the queue meanwhile."),
		rule("PremetricsRemoteWriteBacklogGrowing", "warning", 15*time.Minute,
			"deriv("+m("premetrics_remotewrite_pending_samples", "")+"[10m]) > 0\n"+
				"  and "+m("premetrics_remotewrite_pending_samples", "")+" > 0",
			"remote write queue of premetrics {{ $labels.instance }} to {{ $labels.endpoint }} keeps growing",
			"The samples waiting for {{ $labels.endpoint }} have grown for 15 minutes: it accepts them slower than premetrics produces them. When the queue is full, ingest answers 429."),
	)
	if len(opts.QueueCapacity) > 0 {
		endpoints := make([]string, 0, len(opts.QueueCapacity))
		for ep := range opts.QueueCapacity {
			endpoints = append(endpoints, ep)
		}
		slices.Sort(endpoints)
		parts := make([]string, len(endpoints))
		for i, ep := range endpoints {
			parts[i] = fmt.Sprintf("%s > %d", m("premetrics_remotewrite_pending_samples", fmt.Sprintf("endpoint=%q", ep)), opts.QueueCapacity[ep]*8/10)
		}
		g.Rules = append(g.Rules, rule("PremetricsRemoteWriteBacklogHigh", "warning", 5*time.Minute,
			strings.Join(parts, "\n  or "),
			"remote write queue of premetrics {{ $labels.instance }} to {{ $labels.endpoint }} is over 80% full",
			"{{ $value | humanize }} samples wait for {{ $labels.endpoint }}. When the queue is full, ingest answers 429 and devices must retry."))
	}
	g.Rules = append(g.Rules,
		rule("PremetricsCheckpointFailing", "warning", 0,
			"increase("+m("premetrics_checkpoint_writes_total", `result="failure"`)+"[15m]) > 0",
			"premetrics {{ $labels.instance }} cannot checkpoint its aggregation state",
			"Writing the checkpoint of the aggregation state failed in the last 15 minutes; after a restart, the samples of open windows since the last good checkpoint are lost. Check --storage.path."),
		rule("PremetricsEnrichRefreshFailing", "warning", 10*time.Minute,
			m("premetrics_enrich_last_refresh_successful", "")+" == 0",
			"enrichment table {{ $labels.table }} of premetrics {{ $labels.instance }} cannot be refreshed",
			"The last refreshes of enrichment table {{ $labels.table }} failed; premetrics keeps joining the last good snapshot, which may be stale."),
	)
	return g
}
