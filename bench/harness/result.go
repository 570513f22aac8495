package harness

import (
	"slices"
	"strings"

	"github.com/premetrics/premetrics/bench/load"
)

// Result is the outcome of one scenario, measured from outside premetrics:
// its CPU time and memory from /proc, its self metrics from /metrics, what
// the sink received, and the generator's summary.
type Result struct {
	Scenario Scenario `json:"scenario"`
	// Load is the generator's summary (offered, accepted, behind
	// schedule, 429s, its own CPU).
	Load *load.Summary `json:"load"`

	// InputSamples is premetrics_ingest_samples_total at the end.
	InputSamples float64 `json:"input_samples"`
	// CPUSeconds is premetrics' user+system CPU from just before the load
	// until every window was delivered; SamplesPerCPUSecond and
	// CPUSecondsPerMillion relate it to InputSamples, Cores to wall time.
	CPUSeconds           float64 `json:"cpu_seconds"`
	SamplesPerCPUSecond  float64 `json:"samples_per_cpu_second"`
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million_samples"`
	Cores                float64 `json:"cores"`
	// HarnessCPUSeconds is the harness' own CPU (mostly the sink).
	HarnessCPUSeconds float64 `json:"harness_cpu_seconds"`
	// OtherCores is the CPU that processes other than premetrics, the
	// generator and the harness used during the scenario, in cores: the
	// machine is not dedicated to the benchmark when it is not ~0.
	OtherCores float64 `json:"other_cores"`
	// Responses429 and RequestsByCode are premetrics' own count of answers
	// (premetrics_ingest_requests_total).
	Responses429   float64            `json:"responses_429"`
	RequestsByCode map[string]float64 `json:"requests_by_code"`

	// Memory. ActiveSeries is the number of input series the generator
	// keeps active. RSS idle after start, at the end of the load, and at
	// its peak (VmHWM after the last windows were flushed and delivered);
	// Go heap in use at the end of the load.
	ActiveSeries         int     `json:"active_series"`
	RSSIdleBytes         int64   `json:"rss_idle_bytes"`
	RSSEndBytes          int64   `json:"rss_end_of_load_bytes"`
	RSSPeakBytes         int64   `json:"rss_peak_bytes"`
	HeapInuseBytes       float64 `json:"heap_inuse_bytes"`
	RSSPeakPerSeries     float64 `json:"rss_peak_bytes_per_series"`
	RSSEndPerSeries      float64 `json:"rss_end_bytes_per_series"`
	RSSNetPeakPerSeries  float64 `json:"rss_peak_minus_idle_bytes_per_series"`
	HeapInusePerSeries   float64 `json:"heap_inuse_bytes_per_series"`
	AggregateStateSeries float64 `json:"aggregate_state_series"` // sum of premetrics_aggregate_series
	// RSSGrowth compares the RSS peaks of the last two window intervals
	// of the load (RSSPrevPeakBytes → RSSLastPeakBytes; each interval
	// holds one flush): near 0 when memory is bounded.
	RSSGrowth        float64 `json:"rss_growth_last_interval"`
	RSSPrevPeakBytes int64   `json:"rss_previous_interval_peak_bytes"`
	RSSLastPeakBytes int64   `json:"rss_last_interval_peak_bytes"`

	Flush   []Flush `json:"flush"`
	Latency Latency `json:"latency"`
	// Output: samples premetrics sent (staleness markers included) and
	// the sink received (decoded; window outputs, then the markers of
	// series that ended, which may still arrive after the final scrape),
	// of which in overflow groups.
	OutputSamplesSent     float64 `json:"output_samples_sent"`
	OutputSamplesReceived int64   `json:"output_samples_received"`
	StaleMarkersReceived  int64   `json:"stale_markers_received"`
	OverflowSamples       int64   `json:"overflow_samples_received"`
	SinkBadRequests       int64   `json:"sink_bad_requests"`

	// Drops by metric and labels: every non-zero series of the dropped,
	// late and rejected counters.
	Drops        []Drop  `json:"drops"`
	DroppedTotal float64 `json:"dropped_total"` // premetrics_dropped_samples_total, all reasons
	// LimitedSamples counts samples the cardinality budget turned away
	// (premetrics_aggregate_rejected_samples_total with a reason ending
	// in "_limit": overflowed or not tracked).
	LimitedSamples float64 `json:"limited_samples"`

	// Survived is false when premetrics exited or was killed during the
	// scenario; KilledForRSS when the harness' memory guard killed it.
	Survived     bool     `json:"survived"`
	KilledForRSS bool     `json:"killed_for_rss"`
	ExitCode     int      `json:"exit_code"`
	Timeline     []Point  `json:"timeline"`
	Profiles     []string `json:"profiles,omitempty"`
	// CPUProfileTop is `go tool pprof -top` of the CPU profile taken in
	// the middle of the load (when premetrics serves /debug/pprof).
	CPUProfileTop string   `json:"cpu_profile_top,omitempty"`
	Errors        []string `json:"errors,omitempty"`
}

// Flush is what the flush-duration histogram and the per-second scrapes
// tell about one aggregation's flushes.
type Flush struct {
	Aggregation string  `json:"aggregation"`
	Flushes     float64 `json:"flushes"`
	// OutputPerFlush is premetrics_aggregate_output_samples_total / flushes.
	OutputPerFlush float64 `json:"output_samples_per_flush"`
	MeanSeconds    float64 `json:"mean_seconds"`
	// MaxSeconds is the longest flush, exact when MaxExact (one flush in a
	// scrape interval), else the mean of the flushes of that interval.
	MaxSeconds float64 `json:"max_seconds"`
	MaxExact   bool    `json:"max_exact"`
	// MaxBucket is the upper bound of the highest histogram bucket used
	// (MaxBucketInf: beyond the last bound).
	MaxBucket    float64 `json:"max_bucket_seconds"`
	MaxBucketInf bool    `json:"max_bucket_inf"`
}

// Drop is one non-zero drop or rejection counter series.
type Drop struct {
	Metric string  `json:"metric"`
	Labels string  `json:"labels"`
	Value  float64 `json:"value"`
}

// dropMetrics are the counters of samples premetrics did not deliver.
var dropMetrics = []string{metricDropped, metricRWDropped, metricAggLate, metricAggRejected, metricIngestRejected}

func collectDrops(s scrape) []Drop {
	var out []Drop
	for _, name := range dropMetrics {
		for _, l := range s.series(name) {
			out = append(out, Drop{Metric: name, Labels: l.Labels, Value: l.Value})
		}
	}
	return out
}

func collectFlushes(s scrape, obs map[string][]flushObs) []Flush {
	hs := s.histograms(metricFlushDuration, "aggregation")
	var out []Flush
	for agg, h := range hs {
		f := Flush{Aggregation: agg, Flushes: h.count}
		if h.count > 0 {
			f.MeanSeconds = h.sum / h.count
			f.OutputPerFlush = s.sum(metricAggOutput, map[string]string{"aggregation": agg}) / h.count
		}
		f.MaxSeconds, f.MaxExact = maxFlush(obs[agg])
		f.MaxBucket, f.MaxBucketInf = h.maxBucket()
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Flush) int {
		// The largest flushes first.
		switch {
		case a.OutputPerFlush > b.OutputPerFlush:
			return -1
		case a.OutputPerFlush < b.OutputPerFlush:
			return 1
		}
		return 0
	})
	return out
}

// largestFlush returns the flush stats of the aggregation emitting the
// most samples per flush.
func (r *Result) largestFlush() (Flush, bool) {
	if len(r.Flush) == 0 {
		return Flush{}, false
	}
	return r.Flush[0], true
}

// limited sums the rejected-sample series whose reason ends in "_limit".
func limited(s scrape) float64 {
	total := 0.0
	for _, m := range s[metricAggRejected].GetMetric() {
		if strings.HasSuffix(labelsOf(m)["reason"], "_limit") {
			total += value(m)
		}
	}
	return total
}
