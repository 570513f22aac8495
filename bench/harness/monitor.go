package harness

import (
	"sort"
	"sync"
	"time"
)

// Self metrics the harness reads (DESIGN.md "Self metrics", Go collector).
const (
	metricIngestSamples  = "premetrics_ingest_samples_total"
	metricIngestRequests = "premetrics_ingest_requests_total"
	metricIngestRejected = "premetrics_ingest_rejected_samples_total"
	metricDropped        = "premetrics_dropped_samples_total"
	metricAggLate        = "premetrics_aggregate_late_samples_total"
	metricAggRejected    = "premetrics_aggregate_rejected_samples_total"
	metricAggOutput      = "premetrics_aggregate_output_samples_total"
	metricAggSeries      = "premetrics_aggregate_series"
	metricFlushDuration  = "premetrics_aggregate_flush_duration_seconds"
	metricRWSent         = "premetrics_remotewrite_samples_sent_total"
	metricRWDropped      = "premetrics_remotewrite_samples_dropped_total"
	metricRWPending      = "premetrics_remotewrite_pending_samples"
	metricHeapInuse      = "go_memstats_heap_inuse_bytes"
)

// Point is one reading of the monitor, once a second.
type Point struct {
	Seconds   float64 `json:"seconds"` // since the monitor started
	RSSBytes  int64   `json:"rss_bytes"`
	HeapBytes float64 `json:"heap_inuse_bytes"`
	CPU       float64 `json:"cpu_seconds"`
	Ingested  float64 `json:"ingested_samples"`
}

// flushObs is what one scrape interval saw of an aggregation's flushes:
// count flushes that took seconds on average (exact when count is 1).
type flushObs struct {
	count   float64
	seconds float64
}

// monitor reads premetrics' memory, CPU and metrics every second, derives
// the duration of single flushes from the histogram's sum and count
// between two scrapes, and kills premetrics above maxRSS.
type monitor struct {
	pid        int
	metricsURL string
	maxRSS     int64
	kill       func()
	began      time.Time

	stopOnce sync.Once
	done     chan struct{}
	wg       sync.WaitGroup

	mu       sync.Mutex
	points   []Point
	last     map[string]histogram
	flushes  map[string][]flushObs
	killed   bool
	errCount int
}

func startMonitor(pid int, metricsURL string, maxRSS int64, kill func()) *monitor {
	m := &monitor{pid: pid, metricsURL: metricsURL, maxRSS: maxRSS, kill: kill, began: time.Now(),
		done: make(chan struct{}), last: map[string]histogram{}, flushes: map[string][]flushObs{}}
	m.wg.Go(m.loop)
	return m
}

func (m *monitor) loop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	m.read()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.read()
		}
	}
}

func (m *monitor) read() {
	p := Point{Seconds: time.Since(m.began).Seconds()}
	mem, err := readMemory(m.pid)
	if err != nil {
		m.mu.Lock()
		m.errCount++
		m.mu.Unlock()
		return
	}
	p.RSSBytes = mem.rss
	if m.maxRSS > 0 && mem.rss > m.maxRSS {
		m.mu.Lock()
		m.killed = true
		m.mu.Unlock()
		m.kill()
		return
	}
	p.CPU, _ = cpuSeconds(m.pid)
	s, err := scrapeMetrics(m.metricsURL)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.errCount++
		m.points = append(m.points, p)
		return
	}
	p.HeapBytes = s.sum(metricHeapInuse, nil)
	p.Ingested = s.sum(metricIngestSamples, nil)
	m.points = append(m.points, p)
	for agg, h := range s.histograms(metricFlushDuration, "aggregation") {
		prev := m.last[agg]
		if dc := h.count - prev.count; dc > 0 {
			m.flushes[agg] = append(m.flushes[agg], flushObs{count: dc, seconds: (h.sum - prev.sum) / dc})
		}
		m.last[agg] = h
	}
}

// stop ends the monitor after one last reading.
func (m *monitor) stop() {
	m.stopOnce.Do(func() {
		close(m.done)
		m.wg.Wait()
		m.read()
	})
}

// monitorResult is what the monitor saw.
type monitorResult struct {
	points  []Point
	flushes map[string][]flushObs
	killed  bool
	errors  int
}

func (m *monitor) result() monitorResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := monitorResult{points: append([]Point(nil), m.points...), flushes: map[string][]flushObs{}, killed: m.killed, errors: m.errCount}
	for k, v := range m.flushes {
		out.flushes[k] = append([]flushObs(nil), v...)
	}
	return out
}

// maxFlush returns the longest flush: the largest single-flush duration,
// or, when two flushes fell into one scrape interval, their mean (exact
// false).
func maxFlush(obs []flushObs) (seconds float64, exact bool) {
	exact = true
	for _, o := range obs {
		if o.seconds > seconds {
			seconds, exact = o.seconds, o.count == 1
		}
	}
	return seconds, exact
}

// rssGrowth compares the RSS peaks of the last two spans of span
// seconds that end at to (each window interval holds exactly one flush,
// the largest allocation): growth is (last − previous) / previous, near 0
// when memory is bounded. When [from, to] is shorter than two spans, it
// compares the RSS at the middle of [from, to] with the RSS at to.
func rssGrowth(points []Point, from, to, span float64) (growth float64, prev, last int64) {
	if span > 0 && to-2*span >= from {
		for _, p := range points {
			switch {
			case p.Seconds > to-2*span && p.Seconds <= to-span:
				prev = max(prev, p.RSSBytes)
			case p.Seconds > to-span && p.Seconds <= to:
				last = max(last, p.RSSBytes)
			}
		}
	} else {
		var in []Point
		for _, p := range points {
			if p.Seconds >= from && p.Seconds <= to && p.RSSBytes > 0 {
				in = append(in, p)
			}
		}
		if len(in) >= 2 {
			sort.Slice(in, func(i, j int) bool { return in[i].Seconds < in[j].Seconds })
			prev, last = in[(len(in)-1)/2].RSSBytes, in[len(in)-1].RSSBytes
		}
	}
	if prev <= 0 || last <= 0 {
		return 0, prev, last
	}
	return float64(last-prev) / float64(prev), prev, last
}
