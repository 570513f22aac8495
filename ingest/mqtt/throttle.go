package mqtt

import (
	"sync"
	"time"
)

// logEvery is the minimum interval between two warnings of one kind.
const logEvery = 10 * time.Second

// Kinds of throttled warnings.
const (
	warnMalformed = iota
	warnRejected
	warnUnmatched
	warnNotAdmitted
	warnBusy
	warnIngest
	warnConnect
	warnKinds
)

// throttle rate-limits log lines per kind: at most one per interval, with
// the number suppressed since the last one. (A copy of ingest's: it is
// not exported there, and two dozen lines do not warrant a package.)
type throttle struct {
	every time.Duration

	mu         sync.Mutex
	last       [warnKinds]time.Time
	suppressed [warnKinds]int
}

// allow reports whether a line of kind may be logged at now and, if so,
// how many were suppressed since the previous one.
func (t *throttle) allow(kind int, now time.Time) (ok bool, suppressed int) {
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
