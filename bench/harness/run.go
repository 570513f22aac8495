package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/premetrics/premetrics/bench/load"
)

// Timeouts of a scenario's steps.
const (
	readyTimeout   = 30 * time.Second
	stopTimeout    = 60 * time.Second
	drainTimeout   = 60 * time.Second
	loadgenGrace   = 3 * time.Minute // preparation and the last answers, beyond the duration
	profileSeconds = 30
)

// Run runs the selected scenarios one after the other, each with a fresh
// premetrics and sink, and returns the report. A scenario that fails is
// recorded with its errors and the others still run; Run returns an error
// only for bad options, or when ctx is done.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	work := o.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "premetrics-bench-")
		if err != nil {
			return nil, fmt.Errorf("cannot create a work directory: %w", err)
		}
		defer os.RemoveAll(dir)
		work = dir
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create -work: %w", err)
	}
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create -profiles: %w", err)
		}
	}
	rep := newReport(o)
	for _, sc := range o.selected() {
		busy, err := waitQuiet(ctx, o.QuietWait)
		if err != nil {
			return rep, err
		}
		o.logf("scenario %s", sc)
		res := runScenario(ctx, o, sc, work)
		if busy > 0 {
			res.Errors = append(res.Errors, fmt.Sprintf("the machine was still busy after -quiet-wait %s: other processes used %.2f cores", o.QuietWait, busy))
		}
		rep.Results = append(rep.Results, res)
		for _, e := range res.Errors {
			o.logf("scenario %s: %s", sc.Name, e)
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	rep.evaluate()
	return rep, nil
}

// runScenario runs one scenario: sink, premetrics, generator, drain.
func runScenario(ctx context.Context, o Options, sc Scenario, work string) *Result {
	res := &Result{Scenario: sc, ActiveSeries: sc.Series}
	fail := func(format string, args ...any) *Result {
		res.Errors = append(res.Errors, fmt.Sprintf(format, args...))
		return res
	}
	sk, err := startSink(o.Lateness)
	if err != nil {
		return fail("%v", err)
	}
	defer sk.close()
	addr, err := freeAddr()
	if err != nil {
		return fail("%v", err)
	}
	base := "http://" + addr
	env := []string{
		"PREMETRICS_LISTEN=" + addr,
		"BENCH_SINK_URL=" + sk.URL(),
		"BENCH_INTERVAL=" + o.Interval.String(),
		"BENCH_LATENESS=" + o.Lateness.String(),
	}
	args := []string{"run", "--config.file=" + o.Config, "--storage.path=" + filepath.Join(work, "data-"+sc.Name)}
	if o.ProfileDir != "" && supportsFlag(o.Premetrics, "web.enable-pprof") {
		args = append(args, "--web.enable-pprof")
	}
	pm, err := startProcess("premetrics", o.Premetrics, args, env, filepath.Join(work, "premetrics-"+sc.Name+".log"))
	if err != nil {
		return fail("%v", err)
	}
	defer pm.kill()
	if err := waitReady(ctx, base+"/-/ready", pm); err != nil {
		return fail("%v", err)
	}
	pid := pm.pid()
	if mem, err := readMemory(pid); err == nil {
		res.RSSIdleBytes = mem.rss
	}
	mon := startMonitor(pid, base+"/metrics", o.MaxRSS, pm.kill)
	defer mon.stop()
	cpu0, err := cpuSeconds(pid)
	if err != nil {
		return fail("%v", err)
	}
	selfCPU0 := selfCPU()
	machine0, _ := machineCPUSeconds()
	cpuStart := time.Now()

	summaryPath := filepath.Join(work, "loadgen-"+sc.Name+".json")
	lg, err := startProcess("loadgen", o.Loadgen, sc.loadgenArgs(base+"/api/v1/write", summaryPath), nil,
		filepath.Join(work, "loadgen-"+sc.Name+".log"))
	if err != nil {
		return fail("%v", err)
	}
	profiles := o.startProfiles(base, sc)
	lgErr := lg.wait(sc.Duration + loadgenGrace)
	loadEnd := time.Now()
	if mem, err := readMemory(pid); err == nil {
		// The kernel's RSS counters are approximate (per-CPU batches):
		// VmHWM can read a little below a VmRSS read before it.
		res.RSSEndBytes, res.RSSPeakBytes = mem.rss, max(mem.peak, mem.rss)
	}
	if s, err := scrapeMetrics(base + "/metrics"); err == nil {
		res.HeapInuseBytes = s.sum(metricHeapInuse, nil)
		res.AggregateStateSeries = s.sum(metricAggSeries, nil)
	}
	profiles.heap(base, sc)
	if lgErr != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("loadgen: %v; log:\n%s", lgErr, lg.tail()))
	}
	if sum, err := readSummary(summaryPath); err == nil {
		res.Load = sum
		res.ActiveSeries = sum.Series
	} else {
		res.Errors = append(res.Errors, err.Error())
	}

	o.logf("scenario %s: load done; waiting for the last windows (interval %s, lateness %s)", sc.Name, o.Interval, o.Lateness)
	if err := drain(ctx, base, loadEnd, o.Interval, o.Lateness, pm); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	cpu1, cpuErr := cpuSeconds(pid)
	if mem, err := readMemory(pid); err == nil {
		res.RSSPeakBytes = max(res.RSSPeakBytes, mem.peak, mem.rss) // the last flush included
	}
	machine1, _ := machineCPUSeconds()
	cpuEnd := time.Now()
	final, scrapeErr := scrapeMetrics(base + "/metrics")
	mon.stop()
	profiles.wait()
	res.Profiles, res.Errors = profiles.saved(), append(res.Errors, profiles.errors()...)
	for _, prof := range res.Profiles {
		if strings.HasSuffix(prof, "-cpu.pprof") {
			top, err := pprofTop(o.Premetrics, prof, 25)
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
				continue
			}
			res.CPUProfileTop = top
		}
	}
	mr := mon.result()
	res.Timeline, res.KilledForRSS = mr.points, mr.killed
	res.Survived = !pm.exited()
	res.ExitCode = pm.stop(stopTimeout)
	if res.Survived && res.ExitCode != 0 {
		res.Errors = append(res.Errors, fmt.Sprintf("premetrics exited with %d on SIGTERM; log:\n%s", res.ExitCode, pm.tail()))
	}
	if !res.Survived {
		res.Errors = append(res.Errors, "premetrics died during the scenario; log:\n"+pm.tail())
	}
	if res.KilledForRSS {
		res.Errors = append(res.Errors, fmt.Sprintf("premetrics was killed: RSS over -max-rss %d MiB", o.MaxRSS>>20))
	}
	res.HarnessCPUSeconds = selfCPU() - selfCPU0

	if cpuErr == nil {
		wall := cpuEnd.Sub(cpuStart).Seconds()
		res.CPUSeconds = cpu1 - cpu0
		res.Cores = res.CPUSeconds / wall
		other := machine1 - machine0 - res.CPUSeconds - res.HarnessCPUSeconds
		if res.Load != nil {
			other -= res.Load.GeneratorCPUSeconds
		}
		res.OtherCores = max(other, 0) / wall
	}
	if scrapeErr != nil {
		return fail("final scrape: %v", scrapeErr)
	}
	// The load phase in the monitor's time, for the RSS growth.
	loadTo := loadEnd.Sub(mon.began).Seconds()
	loadFrom := loadTo
	if res.Load != nil {
		loadFrom -= res.Load.ElapsedSeconds
	}
	res.measure(final, mr, sk.stats(), loadFrom, loadTo, o.Interval.Seconds())
	return res
}

// measure derives the result's figures from the final scrape, the
// monitor, and the sink; the load ran from loadFrom to loadTo seconds of
// the monitor's time, with windows of interval seconds.
func (res *Result) measure(final scrape, mr monitorResult, st sinkStats, loadFrom, loadTo, interval float64) {
	res.InputSamples = final.sum(metricIngestSamples, nil)
	if res.CPUSeconds > 0 {
		res.SamplesPerCPUSecond = res.InputSamples / res.CPUSeconds
	}
	if res.InputSamples > 0 {
		res.CPUSecondsPerMillion = res.CPUSeconds / res.InputSamples * 1e6
	}
	res.RequestsByCode = map[string]float64{}
	for _, m := range final[metricIngestRequests].GetMetric() {
		res.RequestsByCode[labelsOf(m)["code"]] += value(m)
	}
	res.Responses429 = res.RequestsByCode["429"]
	if n := float64(res.ActiveSeries); n > 0 {
		res.RSSPeakPerSeries = float64(res.RSSPeakBytes) / n
		res.RSSEndPerSeries = float64(res.RSSEndBytes) / n
		res.RSSNetPeakPerSeries = float64(res.RSSPeakBytes-res.RSSIdleBytes) / n
		res.HeapInusePerSeries = res.HeapInuseBytes / n
	}
	res.RSSGrowth, res.RSSPrevPeakBytes, res.RSSLastPeakBytes = rssGrowth(mr.points, loadFrom, loadTo, interval)
	res.Flush = collectFlushes(final, mr.flushes)
	res.Drops = collectDrops(final)
	res.DroppedTotal = final.sum(metricDropped, nil)
	res.LimitedSamples = limited(final)
	res.OutputSamplesSent = final.sum(metricRWSent, nil)
	res.OutputSamplesReceived = st.Samples
	res.StaleMarkersReceived = st.StaleMarkers
	res.OverflowSamples = st.Overflow
	res.SinkBadRequests = st.Bad
	res.Latency = st.Latency
	if st.Bad > 0 {
		res.Errors = append(res.Errors, "the sink could not decode a request: "+st.FirstError)
	}
}

// drain waits until every window that can hold load samples has closed
// (the window containing loadEnd, plus lateness) and premetrics' queues
// are empty.
func drain(ctx context.Context, base string, loadEnd time.Time, interval, lateness time.Duration, pm *process) error {
	closeAt := loadEnd.Truncate(interval).Add(interval + lateness + time.Second)
	if err := sleepUntil(ctx, closeAt, pm); err != nil {
		return err
	}
	deadline := time.Now().Add(drainTimeout)
	for {
		s, err := scrapeMetrics(base + "/metrics")
		if err == nil && s.sum(metricRWPending, nil) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("premetrics' remote write queue did not drain within %s (last scrape: %v)", drainTimeout, err)
		}
		if err := sleepUntil(ctx, time.Now().Add(200*time.Millisecond), pm); err != nil {
			return err
		}
	}
}

func sleepUntil(ctx context.Context, t time.Time, pm *process) error {
	select {
	case <-time.After(time.Until(t)):
		return nil
	case <-pm.done:
		return fmt.Errorf("premetrics exited")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func waitReady(ctx context.Context, url string, p *process) error {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		resp, err := scrapeClient.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond), p); err != nil {
			return fmt.Errorf("%s is not ready: %w; log:\n%s", p.name, err, p.tail())
		}
	}
	return fmt.Errorf("%s not ready after %s; log:\n%s", p.name, readyTimeout, p.tail())
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cannot find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func readSummary(path string) (*load.Summary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the generator's summary: %w", err)
	}
	var s load.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("cannot parse the generator's summary: %w", err)
	}
	return &s, nil
}

// selfCPU returns the harness' own user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// profiler fetches premetrics' pprof profiles during a scenario, when
// premetrics serves /debug/pprof and Options.ProfileDir is set.
type profiler struct {
	dir   string
	wg    sync.WaitGroup
	mu    sync.Mutex
	files []string
	errs  []string
}

func (o *Options) startProfiles(base string, sc Scenario) *profiler {
	p := &profiler{}
	if o.ProfileDir == "" || !servesPprof(base) {
		return p
	}
	p.dir = o.ProfileDir
	// A CPU profile of the middle of the load.
	secs := min(profileSeconds, max(1, int(sc.Duration.Seconds()/2)))
	delay := max(sc.Duration/4, time.Second)
	p.wg.Go(func() {
		time.Sleep(delay)
		p.fetch(base+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), sc.Name+"-cpu.pprof", time.Duration(secs+30)*time.Second)
	})
	return p
}

// heap saves a heap profile (at the end of the load).
func (p *profiler) heap(base string, sc Scenario) {
	if p.dir != "" {
		p.fetch(base+"/debug/pprof/heap", sc.Name+"-heap.pprof", 30*time.Second)
	}
}

func (p *profiler) fetch(url, name string, timeout time.Duration) {
	err := func() error {
		c := &http.Client{Timeout: timeout}
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		path := filepath.Join(p.dir, name)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		p.mu.Lock()
		p.files = append(p.files, path)
		p.mu.Unlock()
		return nil
	}()
	if err != nil {
		p.mu.Lock()
		p.errs = append(p.errs, fmt.Sprintf("cannot save profile %s: %v", name, err))
		p.mu.Unlock()
	}
}

func (p *profiler) wait() { p.wg.Wait() }

func (p *profiler) saved() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.files...)
}

func (p *profiler) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

func servesPprof(base string) bool {
	resp, err := scrapeClient.Get(base + "/debug/pprof/")
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// supportsFlag reports whether `bin run -h` lists --flag.
func supportsFlag(bin, flag string) bool {
	out, _ := exec.Command(bin, "run", "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+flag+" ") || strings.Contains(string(out), "-"+flag+"\n")
}

// pprofTop returns the top of `go tool pprof -top` for a CPU profile of
// bin: the table from its header line on.
func pprofTop(bin, profile string, nodes int) (string, error) {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount="+strconv.Itoa(nodes), bin, profile).Output()
	if err != nil {
		return "", fmt.Errorf("cannot summarise %s: %w", profile, err)
	}
	text := string(out)
	if i := strings.Index(text, "Showing nodes"); i >= 0 {
		text = text[i:]
	}
	return strings.TrimSpace(text), nil
}

// Quiet machine: other processes below quietCores over quietSample.
const (
	quietCores  = 0.25
	quietSample = 3 * time.Second
)

// waitQuiet waits up to d until the machine's CPU use over quietSample is
// below quietCores, and returns the last use when it never was (0: quiet,
// or d is 0).
func waitQuiet(ctx context.Context, d time.Duration) (float64, error) {
	if d <= 0 {
		return 0, nil
	}
	deadline := time.Now().Add(d)
	for {
		c0, err := machineCPUSeconds()
		if err != nil {
			return 0, nil // cannot tell: do not wait
		}
		select {
		case <-time.After(quietSample):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		c1, _ := machineCPUSeconds()
		used := (c1 - c0) / quietSample.Seconds()
		if used < quietCores {
			return 0, nil
		}
		if time.Now().After(deadline) {
			return used, nil
		}
	}
}
