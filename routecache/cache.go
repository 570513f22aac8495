package routecache

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/internal/prefetch"
)

// Columns is how many aggregations' routes a line holds; aggregations
// beyond it are not cached.
const Columns = 4

// IdleAfter is how long (seconds) a line must have gone unread before a
// new key may take it from its key.
const IdleAfter = 60

// Key identifies one series (see the package doc, "Keys"). The zero Key
// is not cached.
type Key struct{ Hash, Check uint64 }

// Routes are one series' routes, by column.
type Routes [Columns]aggregate.Route

// line is one cache line: seq, the key, when it was last read, the
// routes.
type line struct {
	seq         atomic.Uint64 // odd while a writer is changing the line
	hash, check atomic.Uint64 // the key; both 0: empty
	used        atomic.Uint64 // the clock (seconds) at the last Get or Put of the key
	routes      [Columns]atomic.Uint64
}

var _ = [1]struct{}{}[unsafe.Sizeof(line{})-64] // one line per cache line

// Cache maps series keys to their routes. See the package doc.
type Cache struct {
	lines  []line
	mask   uint64
	mem    *region      // the memory of lines
	filled atomic.Int64 // lines that have held a key since New or Drop
	// tickets numbers the writes: a write makes its line's seq 2t-1,
	// then 2t, values no other write (and no Drop, which makes it 0)
	// gives a line, so a reader can tell that a line changed under it.
	tickets atomic.Uint64
}

// displaceBelow is the share of filled lines (in 1/16) under which Put
// tries to move a key to make room: in a fuller cache the other line is
// rarely empty, and looking costs a cache miss.
const displaceBelow = 14

// MinLines is the smallest Cache New makes.
const MinLines = 1024

// New returns an empty Cache of at least lines lines (rounded up to a
// power of two, at least MinLines): 64 bytes each, outside the Go heap.
// Release returns the memory.
func New(lines int) *Cache {
	n := uint64(MinLines)
	if lines > MinLines {
		n = 1 << bits.Len64(uint64(lines-1))
	}
	mem := regions.get(int(n) * int(unsafe.Sizeof(line{})))
	return &Cache{lines: unsafe.Slice((*line)(mem.ptr()), n), mask: n - 1, mem: mem}
}

// Drop empties c and returns the memory of its lines to the OS, which
// hands back zeroed pages as lines are written again. It is safe while
// Gets and Puts run: they may then miss or lose a write, but never take
// the routes of one key for another.
func (c *Cache) Drop() {
	c.mem.drop()
	c.filled.Store(0)
}

// Release returns the memory of c's lines to the OS, like Drop, and hands
// their address range to the next New of the same size. It is safe while
// Prefetches, Gets and Puts run, also ones that go on after it: they see
// zeros or the lines of that next Cache (whose keys, if they match, are
// of the same series; a caller that must not take another cache's routes
// uses c no more), never unmapped memory. The address ranges are kept
// for the life of the process: one per size, as long as each Cache is
// released before the next of its size is made.
func (c *Cache) Release() {
	c.Drop()
	regions.put(c.mem)
}

// regions keeps the address ranges of released caches, by size.
var regions regionPool

type regionPool struct {
	mu   sync.Mutex
	free map[int][]*region
}

func (p *regionPool) get(n int) *region {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rs := p.free[n]; len(rs) > 0 {
		r := rs[len(rs)-1]
		p.free[n] = rs[:len(rs)-1]
		return r
	}
	return allocate(n)
}

func (p *regionPool) put(r *region) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.free = map[int][]*region{}
	}
	p.free[r.size()] = append(p.free[r.size()], r)
}

// Lines returns the number of lines of c.
func (c *Cache) Lines() int { return len(c.lines) }

// Bytes returns the memory c reserves: 64 bytes a line.
func (c *Cache) Bytes() int { return len(c.lines) * int(unsafe.Sizeof(line{})) }

// lineFor returns k's two candidate lines.
func (c *Cache) lineFor(k Key) (*line, *line) {
	return &c.lines[k.Hash&c.mask], &c.lines[k.Check&c.mask]
}

// other returns the line of k that is not l.
func (c *Cache) other(k Key, l *line) *line {
	a, b := c.lineFor(k)
	if a != l {
		return a
	}
	return b
}

// Prefetch asks the CPU for the lines Get(k) will read.
func (c *Cache) Prefetch(k Key) {
	a, b := c.lineFor(k)
	prefetch.Line(unsafe.Pointer(a))
	prefetch.Line(unsafe.Pointer(b))
}

// Get copies k's routes into rs and reports whether k is cached; on a
// miss rs is all zero (unknown). now is the clock in seconds, which marks
// the line as in use.
func (c *Cache) Get(k Key, rs *Routes, now uint32) bool {
	a, b := c.lineFor(k)
	if k != (Key{}) && (a.get(k, rs, now) || b.get(k, rs, now)) {
		return true
	}
	*rs = Routes{}
	return false
}

// Peek is Get without marking the line as in use: a look that does not
// count as a use (a decoder asking ahead of the pipeline's Get).
func (c *Cache) Peek(k Key, rs *Routes) bool { return c.Get(k, rs, unmarked) }

// unmarked is the clock of Peek: a Get at it does not mark the line.
const unmarked = 0

func (l *line) get(k Key, rs *Routes, now uint32) bool {
	s := l.seq.Load()
	if s&1 != 0 || l.hash.Load() != k.Hash || l.check.Load() != k.Check {
		return false
	}
	for i := range rs {
		rs[i] = aggregate.Route(l.routes[i].Load())
	}
	if l.seq.Load() != s {
		return false
	}
	if now != unmarked && l.used.Load() != uint64(now) { // once a second at most: the line stays clean
		l.used.Store(uint64(now))
	}
	return true
}

// Put stores rs as k's routes, at clock now (seconds): in the line that
// holds k already, else in an empty one of its two lines, else in one
// whose key can move to its other line, else in one that has gone unread
// for IdleAfter. Otherwise both lines are in use by other keys, which
// keep them: a working set larger than the cache does not evict itself
// at every push. Put skips the write when another writer is changing that
// line (the next Put of k retries), and does nothing for the zero Key.
func (c *Cache) Put(k Key, rs *Routes, now uint32) {
	if k == (Key{}) {
		return
	}
	a, b := c.lineFor(k)
	var l *line
	switch {
	case a.holds(k):
		l = a
	case b.holds(k):
		l = b
	case a.empty():
		l = a
	case b.empty():
		l = b
	case c.roomy() && c.displace(a):
		l = a
	case c.roomy() && c.displace(b):
		l = b
	case a.idle(now) && (!b.idle(now) || a.used.Load() <= b.used.Load()):
		l = a
	case b.idle(now):
		l = b
	default:
		return
	}
	c.write(l, k, rs, now)
}

// roomy reports whether few enough lines are filled for displace to find
// empty ones.
func (c *Cache) roomy() bool { return c.filled.Load()*16 < int64(len(c.lines))*displaceBelow }

// displace moves the key of l to its other line if that is empty, and
// reports whether it did.
func (c *Cache) displace(l *line) bool {
	var rs Routes
	s := l.seq.Load()
	k := Key{Hash: l.hash.Load(), Check: l.check.Load()}
	used := l.used.Load()
	for i := range rs {
		rs[i] = aggregate.Route(l.routes[i].Load())
	}
	if s&1 != 0 || l.seq.Load() != s || k == (Key{}) {
		return false
	}
	alt := c.other(k, l)
	if alt == l || !alt.empty() {
		return false
	}
	return c.write(alt, k, &rs, uint32(used))
}

// write stores k and rs in l and reports whether it did: not when another
// writer holds l.
func (c *Cache) write(l *line, k Key, rs *Routes, now uint32) bool {
	s := l.seq.Load()
	t := c.tickets.Add(1)
	if s&1 != 0 || !l.seq.CompareAndSwap(s, 2*t-1) {
		return false
	}
	if l.empty() {
		c.filled.Add(1)
	}
	l.hash.Store(k.Hash)
	l.check.Store(k.Check)
	l.used.Store(uint64(now))
	for i := range rs {
		l.routes[i].Store(uint64(rs[i]))
	}
	l.seq.Store(2 * t)
	return true
}

func (l *line) holds(k Key) bool { return l.hash.Load() == k.Hash && l.check.Load() == k.Check }
func (l *line) empty() bool      { return l.hash.Load() == 0 && l.check.Load() == 0 }
func (l *line) idle(now uint32) bool {
	return uint64(now) >= IdleAfter && l.used.Load() <= uint64(now)-IdleAfter
}

// seed keys the Check half of every Key. One per process: a Key never
// leaves it.
var seed = maphash.MakeSeed()

// KeyOf returns the Key of a series with labels ls (sorted, as in a
// batch), using buf as scratch space; it returns buf for reuse. Key.Hash
// is batch.Hash(ls). The top bit of its Check is 0: the two kinds of key
// (IdentKey) never meet. (Not the lowest bit: that one picks lines.)
func KeyOf(ls []batch.Label, buf []byte) (Key, []byte) {
	buf = batch.AppendHashInput(buf[:0], ls)
	return Key{Hash: xxhash.Sum64(buf), Check: maphash.Bytes(seed, buf) &^ identBit}, buf
}

// IdentKey returns the Key of a series by its labels as decoded
// (batch.Ident; the zero Key for none). The top bit of its Check is 1.
func IdentKey(id batch.Ident) Key {
	if id == (batch.Ident{}) {
		return Key{}
	}
	return Key{Hash: id.Hash, Check: id.Check | identBit}
}

// identBit tells the keys of IdentKey from those of KeyOf.
const identBit = 1 << 63
