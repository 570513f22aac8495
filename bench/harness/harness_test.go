package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every scenario for two seconds at a low rate against the
// real binaries and checks that the report holds every metric. It asserts
// behaviour (what was measured and reported), never speed.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs premetrics and the load generator")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pm, lg, err := Build(ctx, root, dir)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	rep, err := Run(ctx, Options{
		Premetrics: pm, Loadgen: lg, Config: filepath.Join(root, "bench", "bench.yaml"),
		Duration: 2 * time.Second, Rate: 8000, Series: 2000,
		Interval: time.Second, Lateness: 500 * time.Millisecond,
		MaxRSS: 4 << 30, WorkDir: filepath.Join(dir, "work"), ProfileDir: filepath.Join(dir, "profiles"), Log: &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("%d results", len(rep.Results))
	}
	for _, res := range rep.Results {
		t.Run(res.Scenario.Name, func(t *testing.T) {
			if len(res.Errors) > 0 {
				t.Fatalf("errors: %q", res.Errors)
			}
			l := res.Load
			if l == nil || l.SamplesAccepted == 0 || l.SamplesAccepted != l.SamplesSent || l.Series != 2000 {
				t.Fatalf("load %+v", l)
			}
			// Every accepted sample was counted by premetrics and every
			// output it sent was decoded by the sink.
			if res.InputSamples != float64(l.SamplesAccepted) {
				t.Errorf("premetrics ingested %.0f samples, the generator had %d accepted", res.InputSamples, l.SamplesAccepted)
			}
			// The final scrape follows the last window's delivery; markers
			// of the series that ended may come after it.
			recv := float64(res.OutputSamplesReceived)
			if res.OutputSamplesSent < recv || res.OutputSamplesSent > recv+float64(res.StaleMarkersReceived) || recv == 0 ||
				res.Latency.Samples != res.OutputSamplesReceived {
				t.Errorf("output: sent %.0f, received %d and %d staleness markers, latency of %d",
					res.OutputSamplesSent, res.OutputSamplesReceived, res.StaleMarkersReceived, res.Latency.Samples)
			}
			if res.CPUSeconds <= 0 || res.SamplesPerCPUSecond <= 0 || res.CPUSecondsPerMillion <= 0 || res.Cores <= 0 {
				t.Errorf("cpu %v s, %v samples/CPU-s, %v CPU-s/M, %v cores", res.CPUSeconds, res.SamplesPerCPUSecond, res.CPUSecondsPerMillion, res.Cores)
			}
			if res.RSSIdleBytes <= 0 || res.RSSEndBytes <= 0 || res.RSSPeakBytes < res.RSSEndBytes || res.HeapInuseBytes <= 0 ||
				res.RSSPeakPerSeries <= 0 || res.HeapInusePerSeries <= 0 || res.AggregateStateSeries <= 0 {
				t.Errorf("memory: idle %d end %d peak %d heap %v per series %v/%v state %v", res.RSSIdleBytes, res.RSSEndBytes,
					res.RSSPeakBytes, res.HeapInuseBytes, res.RSSPeakPerSeries, res.HeapInusePerSeries, res.AggregateStateSeries)
			}
			if len(res.Flush) != 3 {
				t.Fatalf("flush stats of %d aggregations", len(res.Flush))
			}
			for _, f := range res.Flush {
				if f.Flushes < 1 || f.OutputPerFlush <= 0 || f.MeanSeconds <= 0 || f.MaxSeconds <= 0 || f.MaxBucket <= 0 {
					t.Errorf("flush %+v", f)
				}
			}
			if res.Flush[0].Aggregation != "latest" {
				t.Errorf("largest flush is %s, want latest (one group per input series)", res.Flush[0].Aggregation)
			}
			if la := res.Latency; la.P50Seconds > la.P99Seconds || la.P99Seconds > la.MaxSeconds || la.LargestWindowSamples <= 0 {
				t.Errorf("latency %+v", la)
			}
			if len(res.Profiles) != 2 || !strings.Contains(res.CPUProfileTop, "flat%") {
				t.Errorf("profiles %q, top %q", res.Profiles, res.CPUProfileTop)
			}
			if !res.Survived || res.ExitCode != 0 || len(res.Timeline) < 2 || res.RequestsByCode["204"] == 0 {
				t.Errorf("survived %v, exit %d, %d points, codes %v", res.Survived, res.ExitCode, len(res.Timeline), res.RequestsByCode)
			}
		})
	}
	if c := rep.result("c"); c.Load.DistinctSeries <= int64(c.Load.Series) {
		t.Errorf("scenario c offered %d distinct series of %d active: no churn", c.Load.DistinctSeries, c.Load.Series)
	}

	md := rep.Markdown()
	for _, want := range []string{
		sectionBegin, sectionEnd, "2 × ", "commit ", "### Targets",
		"input samples per CPU-second", "sustains 8000 samples/s offered", "no 429", "no drops",
		"bytes of RSS per active input series", "flush of a window with ~1M output series", "p99 window close → 2xx",
		"memory bounded under a cardinality explosion",
		"generator: achieved / accepted / sustained (5 s) rate", "generator: behind schedule max / final", "generator: own CPU",
		"premetrics: CPU-s per million input samples", "premetrics: 429 answers", "other processes on the machine", "RSS idle / end of load / peak",
		"RSS peak per active input series", "Go heap in use", "RSS peak: last window interval of the load vs the one before",
		"window close → 2xx p50 / p99 / max", "dropped samples", "samples over the series budget", "### Flush per window", "| a | latest |", "| b | rpm |", "| c | distance |",
		"### Drops and rejections by reason", "CPU profile in the middle of the load",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report has no %q:\n%s", want, md)
		}
	}
	if len(rep.Checks) != 8 {
		t.Errorf("%d checks, want 8: %+v", len(rep.Checks), rep.Checks)
	}
	for _, want := range []string{"scenario a (throughput)", "scenario c: load done"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log has no %q:\n%s", want, log.String())
		}
	}
}

func TestUpdateResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	if err := os.WriteFile(path, []byte("# Results\n\nhand-written\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	section := func(s string) string { return sectionBegin + "\n" + s + "\n" + sectionEnd + "\n" }
	if err := UpdateResults(path, section("first")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(must(os.ReadFile(path)), "\n## Later, hand-written\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateResults(path, section("second")); err != nil {
		t.Fatal(err)
	}
	want := "# Results\n\nhand-written\n\n" + section("second") + "\n## Later, hand-written\n"
	if got := string(must(os.ReadFile(path))); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if err := os.WriteFile(path, []byte(sectionEnd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateResults(path, section("x")); err == nil || !strings.Contains(err.Error(), "only one of the benchharness markers") {
		t.Errorf("got %v", err)
	}
	fresh := filepath.Join(t.TempDir(), "new.md")
	if err := UpdateResults(fresh, section("x")); err != nil || string(must(os.ReadFile(fresh))) != section("x") {
		t.Errorf("new file: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestOptionsValidate(t *testing.T) {
	o := Options{Premetrics: "/nonexistent/premetrics", Loadgen: "/nonexistent/loadgen", Config: "/nonexistent/bench.yaml",
		Scenarios: []string{"a", "z"}, Duration: -1, Rate: -1, Series: -1, Interval: 1500 * time.Microsecond, Lateness: -1, MaxRSS: -1, QuietWait: -1}
	err := o.Validate()
	for _, want := range []string{"-premetrics:", "-loadgen:", "-config:", `-scenarios: unknown scenario "z"`, "-duration: must be >= 0",
		"-rate: must be >= 0", "-series: must be >= 0", "-interval: must be a positive whole number of milliseconds, got 1.5ms",
		"-lateness: must be a whole number of milliseconds >= 0", "-max-rss: must be >= 0", "-quiet-wait: must be >= 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	o = Options{Scenarios: []string{"c"}, Duration: time.Second, Rate: 5, Series: 7}
	sel := o.selected()
	if len(sel) != 1 || sel[0].Name != "c" || sel[0].Duration != time.Second || sel[0].Rate != 5 || sel[0].Series != 7 || sel[0].Churn != 0.15 {
		t.Errorf("selected %+v", sel)
	}
	if all := (&Options{}).selected(); len(all) != 3 || all[0].Rate != 1e6 || all[1].Series != 1e6 {
		t.Errorf("defaults %+v", all)
	}
}
