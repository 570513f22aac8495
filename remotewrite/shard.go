package remotewrite

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"

	"github.com/premetrics/premetrics/batch"
)

// keepFreeBlocks is how many emptied blocks a shard keeps for reuse; the
// rest are left to the garbage collector, so an idle queue shrinks back
// after a burst.
const keepFreeBlocks = 8

// block is one future request: encoded WriteRequest.timeseries fields
// (records), at most max_samples_per_send samples in all. Records are
// appended by Enqueue until the block is full or its sender takes it. A
// full block is compressed at once (sealed): it waits for its turn in
// about a quarter of the memory, and its uncompressed buffer goes to the
// next block.
type block struct {
	pb       []byte  // the records, concatenated: a WriteRequest body as is; nil once sealed
	z        []byte  // sealed: pb snappy-compressed (exactly sized)
	ends     []int32 // ends[i]: end of record i in pb
	cum      []int32 // cum[i]: samples in records [0, i]
	samples  int
	enqueued int64 // Queue.now() when the first record was added
}

// records returns the uncompressed bytes and the sample count of records
// [lo, hi); for a sealed block, pb is decompressed into *scratch first.
func (b *block) records(lo, hi int, scratch *[]byte) ([]byte, int) {
	pb := b.pb
	if b.z != nil {
		n, err := snappy.DecodedLen(b.z)
		if err != nil {
			panic("remotewrite: a sealed block does not decompress: " + err.Error())
		}
		*scratch = slices.Grow((*scratch)[:0], n)[:n]
		pb, err = snappy.Decode(*scratch, b.z)
		if err != nil {
			panic("remotewrite: a sealed block does not decompress: " + err.Error())
		}
	}
	start, before := int32(0), int32(0)
	if lo > 0 {
		start, before = b.ends[lo-1], b.cum[lo-1]
	}
	return pb[start:b.ends[hi-1]], int(b.cum[hi-1] - before)
}

func (b *block) reset() {
	b.pb, b.z, b.ends, b.cum = b.pb[:0], nil, b.ends[:0], b.cum[:0]
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
	// perSample is the encoded size per sample of the last block sealed
	// or sent: a new buffer is allocated at about a block's full size, not
	// grown by doubling (which leaves up to half of it unused).
	perSample int
	spare     []byte   // the buffer of the last sealed block, for the next one
	zbuf      []byte   // compression scratch of seal
	zfree     [][]byte // compressed buffers of sent blocks, at most keepFreeBlocks

	pending atomic.Int64  // count, readable without the lock
	wake    chan struct{} // capacity 1: a sender should look at the shard again

	// Owned by the sender goroutine.
	sending *block // taken out of blocks; its samples still count
	unz     []byte // a sealed block decompressed, to split it after a 400
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
func (s *shard) put(ctx context.Context, q *Queue, now *int64, ls []batch.Label, samples []batch.Sample, hists []batch.Histogram) (int, error) {
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
				var hs []batch.Histogram
				if hists != nil {
					hs = hists[done : done+k]
				}
				s.append(b, ls, samples[done:done+k], hs)
				done += k
				free -= k
				if b.samples >= q.maxPerSend {
					s.seal(b)
					filled = true
				}
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
	switch {
	case b.pb != nil:
	case s.spare != nil:
		b.pb, s.spare = s.spare, nil
	case s.perSample > 0:
		b.pb = make([]byte, 0, s.perSample*q.maxPerSend*9/8)
	}
	b.enqueued = now
	s.blocks = append(s.blocks, b)
	return b
}

// append encodes one record of ls and samples (or their histograms) into
// b. Called with mu held.
func (s *shard) append(b *block, ls []batch.Label, samples []batch.Sample, hists []batch.Histogram) {
	b.pb = appendTimeSeries(b.pb, ls, samples, hists)
	b.samples += len(samples)
	b.ends = append(b.ends, int32(len(b.pb)))
	b.cum = append(b.cum, int32(b.samples))
	s.count += len(samples)
	s.pending.Store(int64(s.count))
}

// seal compresses the full block b and hands its buffer to the next
// block. Called with mu held: compressing one block takes well under a
// millisecond.
func (s *shard) seal(b *block) {
	s.zbuf = snappy.Encode(s.zbuf[:cap(s.zbuf)], b.pb)
	var z []byte
	if n := len(s.zfree); n > 0 && cap(s.zfree[n-1]) >= len(s.zbuf) {
		z = s.zfree[n-1]
		s.zfree[n-1] = nil
		s.zfree = s.zfree[:n-1]
	} else {
		z = make([]byte, 0, len(s.zbuf)*9/8) // room for the next blocks' sizes
	}
	b.z = append(z[:0], s.zbuf...)
	s.perSample = (len(b.pb) + b.samples - 1) / b.samples
	if s.spare == nil {
		s.spare = b.pb[:0]
	}
	b.pb = nil
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
	if b.z == nil && b.samples > 0 {
		s.perSample = (len(b.pb) + b.samples - 1) / b.samples
	}
	s.pending.Store(int64(s.count))
	s.updateHigh(q)
	if b.z != nil && len(s.zfree) < keepFreeBlocks {
		s.zfree = append(s.zfree, b.z[:0])
	}
	if len(s.free) < keepFreeBlocks {
		if b.z != nil && s.spare != nil {
			b.pb = nil // the shard has a buffer already
		}
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
