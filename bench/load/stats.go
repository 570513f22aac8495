package load

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxErrorLen bounds the error messages kept per status.
const maxErrorLen = 300

// stats are the counters of a run, updated once per request.
type stats struct {
	mu              sync.Mutex
	requests        int64
	samplesSent     int64 // samples of requests that got an answer or an error
	samplesAccepted int64 // samples of 2xx requests (or PUBACKed messages) less those they rejected
	bytesSent       int64
	status          map[string]int64
	rejected        map[string]int64 // samples of non-2xx requests and rejected in 2xx ones, by status
	firstError      map[string]string
	// perSecond[s] counts the samples accepted (2xx) in second s of the
	// run, by time of the answer.
	perSecond []int64
	// Behind schedule: when a request started, how long after its due time.
	maxBehind, lastBehind, sumBehind time.Duration
	lastIndex                        int64
	maxChurned                       int64
}

func newStats(d time.Duration) *stats {
	return &stats{
		status:     map[string]int64{},
		rejected:   map[string]int64{},
		firstError: map[string]string{},
		perSecond:  make([]int64, int(d/time.Second)+1),
		lastIndex:  -1,
	}
}

func (s *stats) behind(i int64, d time.Duration) {
	d = max(d, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxBehind = max(s.maxBehind, d)
	s.sumBehind += d
	if i > s.lastIndex {
		s.lastIndex, s.lastBehind = i, d
	}
}

func (s *stats) churned(c int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxChurned = max(s.maxChurned, c)
}

func (s *stats) response(at time.Duration, samples, bytes int, a answer) {
	key := a.status()
	msg := a.msg
	if a.err != nil {
		msg = a.err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.samplesSent += int64(samples)
	s.bytesSent += int64(bytes)
	s.status[key]++
	rejected := samples
	if a.ok() {
		rejected = min(max(a.rejected, 0), samples)
		accepted := int64(samples - rejected)
		s.samplesAccepted += accepted
		sec := int(at / time.Second)
		for sec >= len(s.perSecond) {
			s.perSecond = append(s.perSecond, 0)
		}
		s.perSecond[sec] += accepted
		if rejected == 0 {
			return
		}
	}
	s.rejected[key] += int64(rejected)
	if _, ok := s.firstError[key]; !ok {
		if len(msg) > maxErrorLen {
			msg = msg[:maxErrorLen] + "…"
		}
		s.firstError[key] = msg
	}
}

// snapshot is a consistent copy of the counters.
type snapshot struct {
	requests, samplesSent, samplesAccepted, bytesSent int64
	status, rejected                                  map[string]int64
	firstError                                        map[string]string
	perSecond                                         []int64
	maxBehind, lastBehind, meanBehind                 time.Duration
	maxChurned                                        int64
}

func (s *stats) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := snapshot{
		requests: s.requests, samplesSent: s.samplesSent, samplesAccepted: s.samplesAccepted, bytesSent: s.bytesSent,
		status: maps.Clone(s.status), rejected: maps.Clone(s.rejected), firstError: maps.Clone(s.firstError),
		perSecond: slices.Clone(s.perSecond), maxBehind: s.maxBehind, lastBehind: s.lastBehind, maxChurned: s.maxChurned,
	}
	if n := s.lastIndex + 1; n > 0 {
		out.meanBehind = s.sumBehind / time.Duration(n)
	}
	return out
}

// sustained returns the lowest accepted rate over any window of `window`
// whole seconds within the first `seconds` seconds (the whole span when it
// is shorter than the window).
func sustained(perSecond []int64, seconds, window int) float64 {
	seconds = min(seconds, len(perSecond))
	if seconds <= 0 {
		return 0
	}
	window = min(window, seconds)
	var sum int64
	for _, v := range perSecond[:window] {
		sum += v
	}
	lowest := sum
	for i := window; i < seconds; i++ {
		sum += perSecond[i] - perSecond[i-window]
		lowest = min(lowest, sum)
	}
	return float64(lowest) / float64(window)
}

// formatCounts renders counts sorted by key: "204=10 429=2".
func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var sb strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%s=%d", k, m[k])
	}
	return sb.String()
}
