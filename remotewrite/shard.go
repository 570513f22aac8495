package remotewrite

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// entry is one buffered sample.
type entry struct {
	enqueued int64 // Queue.now() when buffered, for batch_send_deadline
	ts       int64
	value    float64
	ref      int32 // seriesTable entry
}

// shard buffers the samples of the series that hash to it in a ring, and
// has one sender goroutine (Queue.runShard) that sends them in order.
type shard struct {
	capacity int // immutable

	mu        sync.Mutex
	ring      []entry // grows up to capacity
	head      int
	count     int // buffered samples, including those being sent
	table     seriesTable
	space     chan struct{} // closed when samples leave; nil while nobody waits
	aboveHigh bool          // count >= high watermark; Queue.fullShards counts these

	pending atomic.Int64  // count, readable without the lock
	wake    chan struct{} // capacity 1: a sender should look at the shard again

	// Owned by the sender goroutine (collect fills it under mu).
	out   outBatch
	timer *time.Timer

	_ [64]byte // keep the next shard's hot fields off this cache line
}

// outBatch is the batch a sender is sending: the first n samples of the
// ring, grouped by series (series in first-seen order).
type outBatch struct {
	n       int
	series  [][]batch.Label // distinct label sets
	pos     []int32         // series position of each collected sample, in ring order
	raw     []batch.Sample  // collected samples, in ring order
	offsets []int32         // samples of series i: samples[offsets[i]:offsets[i+1]]
	samples []batch.Sample  // raw grouped by series, order within a series kept
	cursor  []int32         // scratch of group
	enc     encoder
}

func newShard(q *Queue) *shard {
	return &shard{
		capacity: q.capacity,
		table:    newSeriesTable(max(2*q.capacity, 1024)),
		wake:     make(chan struct{}, 1),
	}
}

// put buffers samples of the series ls (hash h), blocking while the shard
// is full. now is the caller's Queue.now(); *now is refreshed after a wait.
// It returns how many samples it buffered, and ErrStopped or the context's
// error when it could not buffer them all.
func (s *shard) put(ctx context.Context, q *Queue, now *int64, h uint64, ls []batch.Label, samples []batch.Sample) (int, error) {
	done := 0
	s.mu.Lock()
	for {
		if q.stopping.Load() {
			s.mu.Unlock()
			return done, ErrStopped
		}
		if free := q.capacity - s.count; free > 0 {
			k := min(free, len(samples)-done)
			before := s.count
			s.push(s.table.intern(h, ls), samples[done:done+k], *now)
			after := s.count
			done += k
			s.updateHigh(q)
			s.mu.Unlock()
			if before == 0 || (before < q.maxPerSend && after >= q.maxPerSend) {
				s.signal()
			}
			if done == len(samples) {
				return done, nil
			}
			s.mu.Lock()
			continue
		}
		ch := s.space
		if ch == nil {
			ch = make(chan struct{})
			s.space = ch
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return done, ctx.Err()
		case <-q.stopCh:
			return done, ErrStopped
		}
		*now = q.now()
		s.mu.Lock()
	}
}

// signal wakes the sender without blocking.
func (s *shard) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// push appends samples of series ref; the caller checked there is room.
func (s *shard) push(ref int32, samples []batch.Sample, now int64) {
	need := s.count + len(samples)
	if need > len(s.ring) {
		s.grow(need)
	}
	s.table.entries[ref].refs += int32(len(samples))
	tail := s.head + s.count
	if tail >= len(s.ring) {
		tail -= len(s.ring)
	}
	for _, smp := range samples {
		s.ring[tail] = entry{enqueued: now, ts: smp.Timestamp, value: smp.Value, ref: ref}
		tail++
		if tail == len(s.ring) {
			tail = 0
		}
	}
	s.count = need
	s.pending.Store(int64(need))
}

// grow reallocates the ring (unwrapped) to hold at least need samples.
func (s *shard) grow(need int) {
	ring := make([]entry, min(max(2*len(s.ring), need, 64), s.capacity))
	k := copy(ring, s.ring[s.head:])
	copy(ring[k:], s.ring[:s.head])
	s.ring, s.head = ring, 0
}

// updateHigh keeps aboveHigh and Queue.fullShards in step with count.
func (s *shard) updateHigh(q *Queue) {
	if above := s.count >= q.highWatermark; above != s.aboveHigh {
		s.aboveHigh = above
		if above {
			q.fullShards.Add(1)
		} else {
			q.fullShards.Add(-1)
		}
	}
}

// oldest returns when the oldest buffered sample was enqueued; count > 0.
func (s *shard) oldest() int64 { return s.ring[s.head].enqueued }

// collect copies the first n buffered samples into s.out, with the label
// sets of their series. The samples stay buffered (and their series
// referenced) until release. Called by the sender with mu held.
func (s *shard) collect(n int) {
	o := &s.out
	o.n = n
	gen := s.table.nextGen()
	i := s.head
	for range n {
		e := &s.ring[i]
		se := &s.table.entries[e.ref]
		if se.mark != gen {
			se.mark = gen
			se.pos = int32(len(o.series))
			o.series = append(o.series, se.labels)
		}
		o.pos = append(o.pos, se.pos)
		o.raw = append(o.raw, batch.Sample{Timestamp: e.ts, Value: e.value})
		if i++; i == len(s.ring) {
			i = 0
		}
	}
}

// group orders s.out's samples by series (a stable counting sort), so each
// series' samples are contiguous and keep their order. No lock needed.
func (o *outBatch) group() {
	ns := len(o.series)
	o.offsets = resize(o.offsets, ns+1)
	clear(o.offsets)
	for _, p := range o.pos {
		o.offsets[p+1]++
	}
	for i := 1; i <= ns; i++ {
		o.offsets[i] += o.offsets[i-1]
	}
	o.cursor = resize(o.cursor, ns)
	copy(o.cursor, o.offsets[:ns])
	o.samples = resize(o.samples, len(o.raw))
	for i, p := range o.pos {
		o.samples[o.cursor[p]] = o.raw[i]
		o.cursor[p]++
	}
}

// resize returns s with length n, reallocating only when it lacks capacity.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// reset forgets the sent batch, keeping buffers.
func (o *outBatch) reset() {
	clear(o.series) // do not pin label sets the table may free
	o.series = o.series[:0]
	o.pos = o.pos[:0]
	o.raw = o.raw[:0]
	o.n = 0
}

// release removes the first n samples (a batch that was sent or dropped)
// and wakes blocked Enqueue callers.
func (s *shard) release(q *Queue, n int) {
	s.mu.Lock()
	i := s.head
	for range n {
		s.table.entries[s.ring[i].ref].refs--
		if i++; i == len(s.ring) {
			i = 0
		}
	}
	s.head = i
	s.count -= n
	s.pending.Store(int64(s.count))
	s.updateHigh(q)
	if s.space != nil {
		close(s.space)
		s.space = nil
	}
	s.mu.Unlock()
}

// drain removes everything buffered and returns how many samples that was.
// Only called when no sender runs.
func (s *shard) drain(q *Queue) int {
	s.mu.Lock()
	n := s.count
	s.mu.Unlock()
	if n > 0 {
		s.release(q, n)
	}
	return n
}
