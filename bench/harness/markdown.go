package harness

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// Markers of the section of bench/RESULTS.md the harness owns.
const (
	sectionBegin = "<!-- benchharness:begin: written by `make bench` (bench/cmd/benchharness); edits inside are overwritten -->"
	sectionEnd   = "<!-- benchharness:end -->"
)

// Markdown renders the report as the RESULTS.md section, markers included.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("%s\n## Benchmark harness (`make bench`)\n\n", sectionBegin)
	m := r.Machine
	p("Run %s, commit %s, on %d × %s, %.1f GiB, Linux %s, %s, %s.\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.Commit, m.CPUs, m.Model, float64(m.MemoryBytes)/(1<<30), m.Kernel, m.Arch, m.GoVersion)
	p("premetrics (`%s`, windows of %s, lateness %s), the load generator (`bin/loadgen`, vehicle fleet schema with the distance counter, 2 extra labels, 2,000 series per request, 8 connections) and the harness' remote-write sink run as three processes on this machine, sharing its cores. CPU time and memory of premetrics are read from `/proc/<pid>`; the rest from its `/metrics`, the sink (which decodes every request) and the generator's summary.\n\n",
		r.Config, r.Interval, r.Lateness)

	p("### Targets\n\n| scenario | target | measured | result |\n|---|---|---|---|\n")
	for _, c := range r.Checks {
		verdict := "**FAIL**"
		if c.Pass {
			verdict = "PASS"
		}
		p("| %s | %s | %s | %s |\n", c.Scenario, c.Target, c.Measured, verdict)
	}

	p("\n### Scenarios\n\n|  |")
	for _, res := range r.Results {
		p(" %s: %s |", res.Scenario.Name, res.Scenario.Title)
	}
	p("\n|---|")
	for range r.Results {
		p("---:|")
	}
	p("\n")
	row := func(label string, f func(res *Result) string) {
		p("| %s |", label)
		for _, res := range r.Results {
			p(" %s |", f(res))
		}
		p("\n")
	}
	withLoad := func(f func(res *Result) string) func(res *Result) string {
		return func(res *Result) string {
			if res.Load == nil {
				return "–"
			}
			return f(res)
		}
	}
	row("offered", func(res *Result) string {
		s := res.Scenario
		out := fmt.Sprintf("%s samples/s × %s, %s series", si(s.Rate), s.Duration, si(float64(s.Series)))
		if s.Churn > 0 {
			out += fmt.Sprintf(", %.0f%% replaced every %s", 100*s.Churn, s.ChurnInterval)
		}
		return out
	})
	row("distinct series offered", withLoad(func(res *Result) string { return si(float64(res.Load.DistinctSeries)) }))
	row("generator: achieved / accepted / sustained (5 s) rate", withLoad(func(res *Result) string {
		return fmt.Sprintf("%s / %s / %s", si(res.Load.AchievedRate), si(res.Load.AcceptedRate), si(res.Load.SustainedRate))
	}))
	row("generator: behind schedule max / final", withLoad(func(res *Result) string {
		return secs(res.Load.BehindMaxSeconds) + " / " + secs(res.Load.BehindFinalSeconds)
	}))
	row("generator: answers", withLoad(func(res *Result) string { return formatStatus(res.Load.StatusCounts) }))
	row("generator: own CPU", withLoad(func(res *Result) string {
		return fmt.Sprintf("%.3f s per million samples (%.2f cores)", res.Load.GeneratorCPUPerMillionSamples, res.Load.GeneratorCores)
	}))
	row("premetrics: input samples", func(res *Result) string { return si(res.InputSamples) })
	row("premetrics: CPU-s per million input samples", func(res *Result) string { return fmt.Sprintf("%.3f", res.CPUSecondsPerMillion) })
	row("premetrics: input samples per CPU-second", func(res *Result) string { return si(res.SamplesPerCPUSecond) })
	row("premetrics: cores used (load and drain)", func(res *Result) string { return fmt.Sprintf("%.2f", res.Cores) })
	row("other processes on the machine (cores)", func(res *Result) string { return fmt.Sprintf("%.2f", res.OtherCores) })
	row("premetrics: 429 answers", func(res *Result) string { return fmt.Sprintf("%.0f", res.Responses429) })
	row("RSS idle / end of load / peak", func(res *Result) string {
		return mib(res.RSSIdleBytes) + " / " + mib(res.RSSEndBytes) + " / " + mib(res.RSSPeakBytes)
	})
	row("RSS peak per active input series (net of idle)", func(res *Result) string {
		return fmt.Sprintf("%.0f B (%.0f B)", res.RSSPeakPerSeries, res.RSSNetPeakPerSeries)
	})
	row("Go heap in use at the end of the load (per series)", func(res *Result) string {
		return fmt.Sprintf("%s (%.0f B)", mib(int64(res.HeapInuseBytes)), res.HeapInusePerSeries)
	})
	row("RSS peak: last window interval of the load vs the one before", func(res *Result) string {
		return fmt.Sprintf("%s vs %s (%+.1f%%)", mib(res.RSSLastPeakBytes), mib(res.RSSPrevPeakBytes), 100*res.RSSGrowth)
	})
	row("aggregation state entries at the end of the load", func(res *Result) string { return si(res.AggregateStateSeries) })
	row("output samples sent / received by the sink (+ staleness markers)", func(res *Result) string {
		return si(res.OutputSamplesSent) + " / " + si(float64(res.OutputSamplesReceived)) + " (+ " + si(float64(res.StaleMarkersReceived)) + ")"
	})
	row("samples over the series budget (rejected *_series_limit)", func(res *Result) string { return si(res.LimitedSamples) })
	row("overflow-group samples received", func(res *Result) string { return si(float64(res.OverflowSamples)) })
	row("window close → 2xx p50 / p99 / max", func(res *Result) string {
		l := res.Latency
		return secs(l.P50Seconds) + " / " + secs(l.P99Seconds) + " / " + secs(l.MaxSeconds)
	})
	row("largest window: samples, first → last request, close → last", func(res *Result) string {
		l := res.Latency
		return fmt.Sprintf("%s, %s, %s", si(float64(l.LargestWindowSamples)), secs(l.LargestWindowSpanSeconds), secs(l.LargestWindowLastSeconds))
	})
	row("dropped samples (premetrics_dropped_samples_total)", func(res *Result) string { return si(res.DroppedTotal) })
	row("premetrics survived", func(res *Result) string {
		if res.KilledForRSS {
			return "killed: RSS over the guard"
		}
		return fmt.Sprint(res.Survived)
	})

	p("\n### Flush per window (`premetrics_aggregate_flush_duration_seconds`, scraped every second)\n\n")
	p("| scenario | aggregation | flushes | output series per window | mean | max | highest bucket |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, res := range r.Results {
		for _, f := range res.Flush {
			maxS := secs(f.MaxSeconds)
			if !f.MaxExact {
				maxS += " (mean of 2)"
			}
			bucket := "≤ " + secs(f.MaxBucket)
			if f.MaxBucketInf {
				bucket = "> " + secs(f.MaxBucket)
			}
			p("| %s | %s | %.0f | %s | %s | %s | %s |\n", res.Scenario.Name, f.Aggregation, f.Flushes, si(f.OutputPerFlush), secs(f.MeanSeconds), maxS, bucket)
		}
	}

	p("\n### Drops and rejections by reason\n\n")
	found := false
	for _, res := range r.Results {
		for _, d := range res.Drops {
			if !found {
				p("| scenario | metric | labels | samples |\n|---|---|---|---:|\n")
				found = true
			}
			p("| %s | `%s` | `%s` | %.0f |\n", res.Scenario.Name, d.Metric, d.Labels, d.Value)
		}
	}
	if !found {
		p("None in any scenario.\n")
	}

	for _, res := range r.Results {
		if res.CPUProfileTop == "" {
			continue
		}
		p("\n<details><summary>%s: premetrics CPU profile in the middle of the load (<code>go tool pprof -top</code>)</summary>\n\n```\n%s\n```\n</details>\n",
			res.Scenario.Name, res.CPUProfileTop)
	}

	var notes []string
	for _, res := range r.Results {
		for _, prof := range res.Profiles {
			notes = append(notes, fmt.Sprintf("%s: profile `%s`", res.Scenario.Name, prof))
		}
		for _, e := range res.Errors {
			first, _, _ := strings.Cut(e, "\n")
			notes = append(notes, fmt.Sprintf("%s: %s", res.Scenario.Name, first))
		}
	}
	if len(notes) > 0 {
		p("\n### Notes\n\n")
		for _, n := range notes {
			p("- %s\n", n)
		}
	}
	p("%s\n", sectionEnd)
	return b.String()
}

func formatStatus(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s × %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// UpdateResults replaces the harness' section of the markdown file at
// path with section (Markdown's output), or appends it when the file has
// none. The rest of the file is kept as it is.
func UpdateResults(path, section string) error {
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	text := string(data)
	begin := strings.Index(text, sectionBegin)
	end := strings.Index(text, sectionEnd)
	switch {
	case begin >= 0 && end > begin:
		text = text[:begin] + strings.TrimSuffix(section, "\n") + text[end+len(sectionEnd):]
	case begin >= 0 || end >= 0:
		return fmt.Errorf("cannot update %s: only one of the benchharness markers is present", path)
	default:
		if text != "" && !strings.HasSuffix(text, "\n\n") {
			text = strings.TrimRight(text, "\n") + "\n\n"
		}
		text += section
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
