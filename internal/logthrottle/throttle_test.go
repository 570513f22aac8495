package logthrottle

import (
	"sync"
	"testing"
	"time"

	"github.com/premetrics/premetrics/internal/race"
)

func TestThrottle(t *testing.T) {
	th := New(2, 10*time.Second)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		kind       int
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, 0, true, 0},
		{0, 9 * time.Second, false, 0},
		{1, 9 * time.Second, true, 0},
		{0, 9*time.Second + 999*time.Millisecond, false, 0},
		{0, 10 * time.Second, true, 2},
		{0, 20 * time.Second, true, 0},
	}
	for i, s := range steps {
		ok, n := th.Allow(s.kind, t0.Add(s.at))
		if ok != s.ok || n != s.suppressed {
			t.Errorf("step %d: got %v %d, want %v %d", i, ok, n, s.ok, s.suppressed)
		}
	}
}

// Concurrent callers of one kind: one line, every other call counted.
func TestThrottleConcurrent(t *testing.T) {
	th := New(1, Every)
	t0 := time.Unix(1000, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := th.Allow(0, t0); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if ok, n := th.Allow(0, t0.Add(Every)); allowed != 1 || !ok || n != 799 {
		t.Errorf("allowed %d; after the interval: %v, %d suppressed; want 1, true, 799", allowed, ok, n)
	}
}

func TestAllowZeroAlloc(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	th := New(3, Every)
	now := time.Unix(1000, 0)
	allocs := testing.AllocsPerRun(100, func() {
		th.Allow(2, now)
	})
	if allocs != 0 {
		t.Errorf("%v allocs, want 0", allocs)
	}
}
