package logthrottle

import (
	"sync"
	"time"
)

// Every is the interval premetrics keeps between two warnings of one
// kind.
const Every = 10 * time.Second

// Throttle rate-limits log lines per kind: at most one per interval, with
// the number suppressed since the last one.
type Throttle struct {
	every time.Duration

	mu         sync.Mutex
	last       []time.Time
	suppressed []int
}

// New returns a Throttle of kinds 0 to kinds-1 that allows one line of a
// kind per every.
func New(kinds int, every time.Duration) *Throttle {
	return &Throttle{every: every, last: make([]time.Time, kinds), suppressed: make([]int, kinds)}
}

// Allow reports whether a line of kind may be logged at now and, if so,
// how many were suppressed since the previous one.
func (t *Throttle) Allow(kind int, now time.Time) (ok bool, suppressed int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last[kind].IsZero() && now.Sub(t.last[kind]) < t.every {
		t.suppressed[kind]++
		return false, 0
	}
	t.last[kind] = now
	suppressed = t.suppressed[kind]
	t.suppressed[kind] = 0
	return true, suppressed
}
