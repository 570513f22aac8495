package harness

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Targets of the issue "1M events per second on two cores".
const (
	targetSamplesPerCPUSecond = 1_000_000
	targetSustainedFraction   = 0.99 // of the offered rate, over every 5 s
	targetRSSPerSeries        = 300  // bytes per active input series
	targetFlushSeconds        = 1.0  // flush of a window with ~1M output series
	targetP99Seconds          = 1.0  // window close → 2xx
	targetRSSGrowth           = 0.10 // RSS peak of the last window interval of the explosion over the one before
)

// Report is the outcome of a harness run.
type Report struct {
	Machine  Machine   `json:"machine"`
	Date     time.Time `json:"date"`
	Commit   string    `json:"commit"`
	Config   string    `json:"config"`
	Interval string    `json:"interval"`
	Lateness string    `json:"lateness"`
	Results  []*Result `json:"results"`
	Checks   []Check   `json:"checks"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs        int    `json:"cpus"`
	Model       string `json:"model"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	Arch        string `json:"arch"`
}

// Check is one target of the issue with what was measured.
type Check struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Pass     bool   `json:"pass"`
}

func newReport(o Options) *Report {
	return &Report{
		Machine:  machine(),
		Date:     time.Now().UTC(),
		Commit:   gitCommit(),
		Config:   o.Config,
		Interval: o.Interval.String(),
		Lateness: o.Lateness.String(),
	}
}

// Passed reports whether every check passed.
func (r *Report) Passed() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return len(r.Checks) > 0
}

func (r *Report) result(name string) *Result {
	for _, res := range r.Results {
		if res.Scenario.Name == name {
			return res
		}
	}
	return nil
}

// evaluate compares the results with the targets.
func (r *Report) evaluate() {
	add := func(scenario, target, measured string, pass bool) {
		r.Checks = append(r.Checks, Check{Scenario: scenario, Target: target, Measured: measured, Pass: pass})
	}
	if a := r.result("a"); a != nil {
		add("a", "≥ 1,000,000 input samples per CPU-second of premetrics",
			fmt.Sprintf("%s samples/CPU-s (%.3f CPU-s per million)", si(a.SamplesPerCPUSecond), a.CPUSecondsPerMillion),
			a.SamplesPerCPUSecond >= targetSamplesPerCPUSecond)
		if l := a.Load; l != nil {
			add("a", fmt.Sprintf("sustains %s samples/s offered for %s (every 5 s ≥ %.0f%% accepted)", si(l.TargetRate), a.Scenario.Duration, 100*targetSustainedFraction),
				fmt.Sprintf("sustained %s/s, achieved %s/s, behind schedule max %s final %s",
					si(l.SustainedRate), si(l.AchievedRate), secs(l.BehindMaxSeconds), secs(l.BehindFinalSeconds)),
				l.SustainedRate >= targetSustainedFraction*l.TargetRate && l.AchievedRate >= targetSustainedFraction*l.TargetRate)
			add("a", "no 429", fmt.Sprintf("%d answered 429 (premetrics counted %.0f)", l.Responses429, a.Responses429),
				l.Responses429 == 0 && a.Responses429 == 0)
		}
		var drops float64
		for _, d := range a.Drops {
			drops += d.Value
		}
		add("a", "no drops (dropped, late, rejected: every reason)", fmt.Sprintf("%.0f", drops), drops == 0 && a.InputSamples > 0)
	}
	if b := r.result("b"); b != nil {
		add("b", fmt.Sprintf("≤ %d bytes of RSS per active input series", targetRSSPerSeries),
			fmt.Sprintf("%.0f B at the peak (%s RSS, %s series); %.0f B net of the idle %s",
				b.RSSPeakPerSeries, mib(b.RSSPeakBytes), si(float64(b.ActiveSeries)), b.RSSNetPeakPerSeries, mib(b.RSSIdleBytes)),
			b.RSSPeakBytes > 0 && b.RSSPeakPerSeries <= targetRSSPerSeries)
		if f, ok := b.largestFlush(); ok {
			exact := ""
			if !f.MaxExact {
				exact = " (mean of two flushes in one scrape)"
			}
			add("b", "flush of a window with ~1M output series ≤ 1 s",
				fmt.Sprintf("%s: %s output series per window, max %s%s, mean %s", f.Aggregation, si(f.OutputPerFlush), secs(f.MaxSeconds), exact, secs(f.MeanSeconds)),
				f.Flushes > 0 && f.MaxSeconds <= targetFlushSeconds)
		} else {
			add("b", "flush of a window with ~1M output series ≤ 1 s", "no flush observed", false)
		}
		add("b", "p99 window close → 2xx from the receiver ≤ 1 s",
			fmt.Sprintf("p99 %s, p50 %s, max %s over %s output samples", secs(b.Latency.P99Seconds), secs(b.Latency.P50Seconds), secs(b.Latency.MaxSeconds), si(float64(b.Latency.Samples))),
			b.Latency.Samples > 0 && b.Latency.P99Seconds <= targetP99Seconds)
	}
	if c := r.result("c"); c != nil {
		shed := c.DroppedTotal + c.Responses429 + c.LimitedSamples
		distinct := int64(0)
		if c.Load != nil {
			distinct = c.Load.DistinctSeries
		}
		add("c", "memory bounded under a cardinality explosion: load shed with counted drops, overflow or 429, never OOM",
			fmt.Sprintf("%s distinct series offered; RSS peak of the last window interval %s, %+.0f%% over the one before (%s); overall peak %s; %s samples over the series budget, %s dropped, %.0f answered 429; survived: %v",
				si(float64(distinct)), mib(c.RSSLastPeakBytes), 100*c.RSSGrowth, mib(c.RSSPrevPeakBytes), mib(c.RSSPeakBytes),
				si(c.LimitedSamples), si(c.DroppedTotal), c.Responses429, c.Survived && !c.KilledForRSS),
			c.Survived && !c.KilledForRSS && c.RSSLastPeakBytes > 0 && c.RSSGrowth <= targetRSSGrowth && shed > 0)
	}
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Arch: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemoryBytes = kb << 10
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	return m
}

// gitCommit returns the short commit of the working tree, "+dirty" when
// it has changes, or "unknown".
func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += "+dirty"
	}
	return commit
}

// si formats n with a k/M/G suffix.
func si(n float64) string {
	switch a := max(n, -n); {
	case a >= 1e9:
		return strconv.FormatFloat(n/1e9, 'f', 2, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(n/1e6, 'f', 2, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(n/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(n, 'f', 0, 64)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// secs formats seconds with about three significant digits.
func secs(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s < 0.001:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 0.1:
		return fmt.Sprintf("%.1f ms", s*1000)
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}
