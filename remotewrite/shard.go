package remotewrite

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// keepFreeBlocks is how many emptied blocks a shard keeps for reuse; the
// rest are left to the garbage collector, so an idle queue shrinks back
// after a burst.
const keepFreeBlocks = 8

// block is one future request: encoded WriteRequest.timeseries fields
// (records), at most max_samples_per_send samples in all. Records are
// appended by Enqueue until the block is full or its sender takes it.
type block struct {
	pb       []byte  // the records, concatenated: a WriteRequest body as is
	ends     []int32 // ends[i]: end of record i in pb
	cum      []int32 // cum[i]: samples in records [0, i]
	samples  int
	enqueued int64 // Queue.now() when the first record was added
}

// record returns the bytes and sample count of records [lo, hi).
func (b *block) records(lo, hi int) ([]byte, int) {
	start, before := int32(0), int32(0)
	if lo > 0 {
		start, before = b.ends[lo-1], b.cum[lo-1]
	}
	return b.pb[start:b.ends[hi-1]], int(b.cum[hi-1] - before)
}

func (b *block) reset() {
	b.pb, b.ends, b.cum = b.pb[:0], b.ends[:0], b.cum[:0]
	b.samples, b.enqueued = 0, 0
}

// shard buffers, already encoded, the samples of the series that hash to
// it in a FIFO of blocks, and has one sender goroutine (Queue.runShard)
// that sends them in order.
type shard struct {
	capacity int // immutable

	mu        sync.Mutex
	blocks    []*block      // FIFO; the last one may still be filled
	count     int           // buffered samples, including those being sent
	free      []*block      // emptied blocks for reuse, at most keepFreeBlocks
	space     chan struct{} // closed when samples leave; nil while nobody waits
	aboveHigh bool          // count >= high watermark; Queue.fullShards counts these

	pending atomic.Int64  // count, readable without the lock
	wake    chan struct{} // capacity 1: a sender should look at the shard again

	// Owned by the sender goroutine.
	sending *block // taken out of blocks; its samples still count
	enc     encoder
	timer   *time.Timer

	_ [64]byte // keep the next shard's hot fields off this cache line
}

func newShard(q *Queue) *shard {
	return &shard{capacity: q.capacity, wake: make(chan struct{}, 1)}
}

// put encodes and buffers samples of the series ls, blocking while the
// shard is full. now is the caller's Queue.now(); *now is refreshed after
// a wait. It returns how many samples it buffered, and ErrStopped or the
// context's error when it could not buffer them all.
func (s *shard) put(ctx context.Context, q *Queue, now *int64, ls []batch.Label, samples []batch.Sample) (int, error) {
	done := 0
	s.mu.Lock()
	for {
		if q.stopping.Load() {
			s.mu.Unlock()
			return done, ErrStopped
		}
		if free := q.capacity - s.count; free > 0 {
			before := s.count
			filled := false
			for free > 0 && done < len(samples) {
				b := s.tail(q, *now)
				k := min(free, len(samples)-done, q.maxPerSend-b.samples)
				s.append(b, ls, samples[done:done+k])
				done += k
				free -= k
				filled = filled || b.samples >= q.maxPerSend
			}
			s.updateHigh(q)
			s.mu.Unlock()
			if before == 0 || filled {
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

// tail returns the block to append to: the last one while it has room,
// else a new one. Called with mu held.
func (s *shard) tail(q *Queue, now int64) *block {
	if n := len(s.blocks); n > 0 && s.blocks[n-1].samples < q.maxPerSend {
		return s.blocks[n-1]
	}
	var b *block
	if n := len(s.free); n > 0 {
		b = s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
	} else {
		b = &block{}
	}
	b.enqueued = now
	s.blocks = append(s.blocks, b)
	return b
}

// append encodes one record of ls and samples into b. Called with mu held.
func (s *shard) append(b *block, ls []batch.Label, samples []batch.Sample) {
	b.pb = appendTimeSeries(b.pb, ls, samples)
	b.samples += len(samples)
	b.ends = append(b.ends, int32(len(b.pb)))
	b.cum = append(b.cum, int32(b.samples))
	s.count += len(samples)
	s.pending.Store(int64(s.count))
}

// signal wakes the sender without blocking.
func (s *shard) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
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

// take removes the oldest block from the FIFO for sending: from then on
// nothing is appended to it. Its samples stay counted until release.
// Called by the sender with mu held and at least one block buffered.
func (s *shard) take() *block {
	b := s.blocks[0]
	copy(s.blocks, s.blocks[1:])
	s.blocks[len(s.blocks)-1] = nil
	s.blocks = s.blocks[:len(s.blocks)-1]
	s.sending = b
	return b
}

// release forgets the block being sent (sent or dropped), keeps it for
// reuse when few are kept, and wakes blocked Enqueue callers.
func (s *shard) release(q *Queue) {
	b := s.sending
	s.sending = nil
	s.mu.Lock()
	s.count -= b.samples
	s.pending.Store(int64(s.count))
	s.updateHigh(q)
	if len(s.free) < keepFreeBlocks {
		b.reset()
		s.free = append(s.free, b)
	}
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
	clear(s.blocks)
	s.blocks = s.blocks[:0]
	s.count = 0
	s.pending.Store(0)
	s.updateHigh(q)
	if s.space != nil {
		close(s.space)
		s.space = nil
	}
	s.mu.Unlock()
	return n
}
