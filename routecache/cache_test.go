package routecache

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/batch"
)

// routesOf returns routes that encode k, so a reader can tell whether the
// routes it got belong to the key it asked for.
func routesOf(k Key, gen uint64) Routes {
	var rs Routes
	for i := range rs {
		rs[i] = aggregate.Route(k.Hash ^ k.Check*uint64(i+1) ^ gen<<56)
	}
	return rs
}

func TestGetPut(t *testing.T) {
	c := New(10)
	if c.Lines() != MinLines {
		t.Fatalf("New(10) has %d lines, want %d", c.Lines(), MinLines)
	}
	if n := New(5000).Lines(); n != 8192 {
		t.Fatalf("New(5000) has %d lines, want 8192", n)
	}
	k := Key{Hash: 1, Check: 2}
	var rs Routes
	rs[0] = 7
	if c.Get(k, &rs, 1) || rs != (Routes{}) {
		t.Fatalf("empty cache: hit, or routes not cleared: %v", rs)
	}
	want := routesOf(k, 0)
	c.Put(k, &want, 1)
	if !c.Get(k, &rs, 1) || rs != want {
		t.Fatalf("Get after Put: %v, want %v", rs, want)
	}
	want[2] = 99 // an update goes to the line that holds the key
	c.Put(k, &want, 1)
	if !c.Get(k, &rs, 1) || rs != want {
		t.Fatalf("Get after update: %v, want %v", rs, want)
	}
	if c.Get(Key{Hash: 1, Check: 3}, &rs, 1) {
		t.Fatal("a key that shares one half is a hit")
	}
	zero := routesOf(Key{}, 0)
	c.Put(Key{}, &zero, 1)
	if c.Get(Key{}, &rs, 1) {
		t.Fatal("the zero key was cached")
	}
}

// A key takes an empty one of its two lines; when both are taken, a key
// in one of them moves to its other line if that is empty; otherwise the
// new key stays out while both keys are in use, and takes the line of
// the one that has gone unread for IdleAfter.
func TestPlacement(t *testing.T) {
	c := New(MinLines)
	m := uint64(MinLines)
	has := func(k Key, want Routes, now uint32) bool {
		var rs Routes
		return c.Get(k, &rs, now) && rs == want
	}
	a := Key{Hash: 5, Check: 17}     // lines 5, 17
	b := Key{Hash: 5 + m, Check: 18} // lines 5, 18
	ra, rb := routesOf(a, 0), routesOf(b, 0)
	c.Put(a, &ra, 1)
	c.Put(b, &rb, 1)
	if !has(a, ra, 1) || !has(b, rb, 1) {
		t.Fatal("two keys sharing a first line are not both resident")
	}
	x := Key{Hash: 5 + 2*m, Check: 18 + m} // lines 5 and 18: a's and b's
	rx := routesOf(x, 0)
	c.Put(x, &rx, 1)
	if !has(x, rx, 1) || !has(a, ra, 1) || !has(b, rb, 1) {
		t.Fatal("a did not move to its other line to make room for x")
	}
	if c.lines[17].hash.Load() != a.Hash || c.lines[5].hash.Load() != x.Hash {
		t.Fatal("a is not in line 17 and x in line 5")
	}
	y := Key{Hash: 17 + 3*m, Check: 18 + 2*m} // lines 17 and 18: a's and b's, whose other lines are full
	ry := routesOf(y, 0)
	c.Put(y, &ry, 2)
	if has(y, ry, 2) {
		t.Fatal("y evicted a key in use")
	}
	if !has(a, ra, 2) || !has(b, rb, 2) {
		t.Fatal("a or b is gone")
	}
	later := uint32(2 + IdleAfter)
	if !has(b, rb, later) { // b is read again; a is not
		t.Fatal("b is gone")
	}
	c.Put(y, &ry, later)
	if !has(y, ry, later) || has(a, ra, later) || !has(b, rb, later) {
		t.Fatal("y did not take the line of a, idle, rather than b's")
	}
}

// Readers never get the routes of another key, nor routes torn between
// two writes, while writers replace lines under them and the cache is
// dropped now and then (routes may then read as zero: unknown). Run with
// -race.
func TestConcurrentReadersSeeWholeLines(t *testing.T) {
	c := New(MinLines)
	keys := make([]Key, 4*MinLines) // four keys per line on average: constant eviction
	r := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		keys[i] = Key{Hash: r.Uint64() | 1, Check: r.Uint64()}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				c.Drop()
			}
		}
	})
	for w := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for gen := uint64(0); ; gen++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[r.IntN(len(keys))]
				rs := routesOf(k, gen&0xff)
				c.Put(k, &rs, 1)
			}
		})
	}
	hits := 0
	for i := 0; hits < 50_000 && i < 100_000_000; i++ {
		k := keys[i%len(keys)]
		var rs Routes
		if !c.Get(k, &rs, 1) {
			continue
		}
		hits++
		var want Routes
		for i, r := range rs {
			if r != 0 {
				want = routesOf(k, uint64(r^aggregate.Route(k.Hash^k.Check*uint64(i+1)))>>56)
				break
			}
		}
		for i := range rs {
			if rs[i] != 0 && rs[i] != want[i] {
				t.Fatalf("key %x got routes %v: not written for it in one Put", k, rs)
			}
		}
	}
	close(stop)
	wg.Wait()
	if hits == 0 {
		t.Fatal("no hit: the test checked nothing")
	}
}

// KeyOf's Hash is batch.Hash, the series hash the aggregations use, and
// its Check distinguishes label sets whose Hash inputs differ.
func TestKeyOf(t *testing.T) {
	ls := []batch.Label{{Name: "__name__", Value: "m"}, {Name: "a", Value: "1"}}
	k, buf := KeyOf(ls, nil)
	if k.Hash != batch.Hash(ls) {
		t.Fatalf("Hash %x, want batch.Hash %x", k.Hash, batch.Hash(ls))
	}
	k2, _ := KeyOf([]batch.Label{{Name: "__name__", Value: "m"}, {Name: "a", Value: "2"}}, buf)
	if k2.Hash == k.Hash || k2.Check == k.Check {
		t.Fatalf("different labels, equal key halves: %x %x", k, k2)
	}
	if again, _ := KeyOf(ls, buf); again != k {
		t.Fatalf("KeyOf is not deterministic: %x then %x", k, again)
	}
}

// An Ident's key is never a key of labels, even for the same bits, and
// keeps the bits that pick lines; no Ident has no key.
func TestIdentKey(t *testing.T) {
	if IdentKey(batch.Ident{}) != (Key{}) {
		t.Fatal("the zero Ident has a key")
	}
	ls := []batch.Label{{Name: "__name__", Value: "m"}}
	lk, _ := KeyOf(ls, nil)
	ik := IdentKey(batch.Ident(lk))
	if ik == lk || ik.Hash != lk.Hash || ik.Check&(1<<62-1) != lk.Check&(1<<62-1) {
		t.Fatalf("label key %x, Ident key %x", lk, ik)
	}
	c := New(MinLines)
	rs := routesOf(lk, 0)
	c.Put(lk, &rs, 1)
	var got Routes
	if c.Get(ik, &got, 1) {
		t.Fatal("an Ident key found a label key's routes")
	}
	c.Release()
}

// Peek finds what Get finds but does not make the line look used: an
// idle key stays evictable.
func TestPeek(t *testing.T) {
	c := New(MinLines)
	defer c.Release()
	k := Key{Hash: 5, Check: 5}
	rs := routesOf(k, 0)
	c.Put(k, &rs, 1)
	var got Routes
	if !c.Peek(k, &got) || got != rs {
		t.Fatalf("Peek: %v", got)
	}
	if c.Peek(Key{Hash: 6, Check: 6}, &got) || got != (Routes{}) {
		t.Fatal("Peek found a key never put")
	}
	// Another key of both lines takes k's line once k is idle: Peek
	// did not mark it.
	other := Key{Hash: 5, Check: 5 + MinLines}
	ors := routesOf(other, 1)
	c.Put(other, &ors, 1+IdleAfter)
	if c.Peek(k, &got) {
		t.Error("a key only peeked at was kept")
	}
}

func BenchmarkGetHit(b *testing.B) {
	c := New(1 << 18)
	keys := make([]Key, 100_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		keys[i] = Key{Hash: r.Uint64(), Check: r.Uint64()}
		rs := routesOf(keys[i], 0)
		c.Put(keys[i], &rs, 1)
	}
	b.ReportAllocs()
	var rs Routes
	i := 0
	for b.Loop() {
		if i+8 < len(keys) {
			c.Prefetch(keys[i+8])
		}
		c.Get(keys[i], &rs, 1)
		if i++; i == len(keys) {
			i = 0
		}
	}
}

func BenchmarkKeyOf(b *testing.B) {
	ls := []batch.Label{{Name: "__name__", Value: "vehicle_rpm"}, {Name: "engine", Value: "ic"},
		{Name: "model", Value: "model-3"}, {Name: "region", Value: "region-07"}, {Name: "vehicle_id", Value: "V0000012345"}}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		_, buf = KeyOf(ls, buf)
	}
}

// Drop empties the cache; it takes keys again afterwards.
func TestDrop(t *testing.T) {
	c := New(MinLines)
	k := Key{Hash: 3, Check: 4}
	rs := routesOf(k, 0)
	c.Put(k, &rs, 1)
	c.Drop()
	var got Routes
	if c.Get(k, &got, 1) {
		t.Fatal("a key survived Drop")
	}
	c.Put(k, &rs, 1)
	if !c.Get(k, &got, 1) || got != rs {
		t.Fatal("no key after Drop")
	}
	c.Release()
}

// Readers of a released cache read mapped memory: zeros, or the lines of
// the next cache of its size, which takes the same address range.
func TestReadersOutliveRelease(t *testing.T) {
	old := New(MinLines)
	k := Key{Hash: 7, Check: 9}
	rs := routesOf(k, 0)
	old.Put(k, &rs, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var got Routes
		for {
			select {
			case <-stop:
				return
			default:
			}
			old.Prefetch(k)
			if old.Peek(k, &got) && got != rs {
				t.Errorf("routes %v of another key", got)
				return
			}
		}
	}()
	old.Release()
	next := New(MinLines)
	if next.first() != old.first() {
		t.Error("the next cache of the size did not take the released range")
	}
	other := routesOf(k, 0)
	next.Put(k, &other, 1)
	close(stop)
	<-done
	next.Release()
}

func (c *Cache) first() *line { return &c.lines[0] }
