package aggregate

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/checkpoint"
)

// Checkpoint data, one checkpoint section per aggregation (see package
// checkpoint for the framing). The first data frame is the header, then
// one frame per shard, written under that shard's lock:
//
//	header  = version:uv seed:8 savedAt:v numShards:uv layoutSize:uv
//	shard   = index:uv watermark:v clockBase:v
//	          groups:uv   { labels lastSeen:v meta:uv [total:f64] slots:uv { win:v words:f64×layoutSize [sketch] [uniq] [rates] } }
//	          counters:uv { key:u64 prevTs:v prevV:f64 lastSeen:v rateIdx:uv }
//	          counted:uv  { key:u64 win:v bits:u64 }
//	          spill:uv    { win:v n:uv { key:u64 } }
//	          dedup:uv    { key:u64 bucket:v lastSeen:v }
//	labels  = n:uv { name:str value:str }          str = len:uv bytes
//	sketch  = count:uv zero:uv posInf:uv negInf:uv min:f64 max:f64 store store
//	store   = offset:v n:uv { count:uv }
//	uniq    = n:uv { key:u64 }
//	rates   = n:uv { series:u64 delta:f64 baseTs:v lastTs:v }
//
// uv is an unsigned varint, v a zigzag varint, u64 and f64 8 bytes little
// endian. lastSeen values are seconds since the shard's clockBase (Unix
// ms), which the restoring process takes over, so staleness is judged to
// the same second as without the restart. Groups are stored by
// their labels; the seed makes their placing hash, and so their shard,
// the same after a restore, which keeps each group in the shard that
// holds its input series' baselines.
const checkpointVersion = 2 // 2: sketch buckets of native histogram schema 5

// Fingerprint identifies the aggregation's definition: a checkpoint is
// restored only into an aggregation with the same one.
func (a *Aggregator) Fingerprint() checkpoint.Fingerprint { return a.fingerprint }

func fingerprint(cfg *Config) checkpoint.Fingerprint {
	raw, err := yaml.Marshal(cfg)
	if err != nil { // a Config always marshals; never match anything if not
		raw = fmt.Appendf(nil, "unmarshalable %p", cfg)
	}
	return sha256.Sum256(raw)
}

// Watermark returns the watermark Flush(now, force) will raise every
// shard to: every window ending at or before it is closed.
func (a *Aggregator) Watermark(now time.Time, force bool) int64 {
	if force {
		return now.UnixMilli()
	}
	return now.UnixMilli() - a.latenessMs
}

// Checkpoint writes the aggregation's state as one section of w. It waits
// for a running Flush and blocks Push on one shard at a time, while that
// shard is encoded.
func (a *Aggregator) Checkpoint(w *checkpoint.Writer, now time.Time) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	if err := w.Section(a.name, a.fingerprint); err != nil {
		return err
	}
	var e enc
	e.uv(checkpointVersion)
	e.b = append(e.b, a.hashSeed[:]...)
	e.v(now.UnixMilli())
	e.uv(numShards)
	e.uv(uint64(a.layout.size))
	if err := w.Data(e.b); err != nil {
		return err
	}
	var lbuf []batch.Label
	for i := range a.shards {
		sh := &a.shards[i]
		e.b = e.b[:0]
		sh.mu.Lock()
		lbuf = a.encodeShard(&e, sh, i, lbuf)
		sh.mu.Unlock()
		if err := w.Data(e.b); err != nil {
			return err
		}
	}
	return nil
}

func (a *Aggregator) encodeShard(e *enc, sh *shard, idx int, lbuf []batch.Label) []batch.Label {
	l, k := &a.layout, a.slotsK
	e.uv(uint64(idx))
	e.v(sh.watermark)
	if !sh.clockSet { // nothing pushed yet
		sh.seconds(time.Now().UnixMilli())
	}
	e.v(sh.clockBase)
	e.uv(uint64(sh.nGroups))
	for gid := range sh.groups {
		g := &sh.groups[gid]
		if g.lref == 0 {
			continue
		}
		lbuf, _, _ = a.syms.unpack(sh.labels.get(g.lref), lbuf[:0])
		e.uv(uint64(len(lbuf)))
		for _, lb := range lbuf {
			e.str(lb.Name)
			e.str(lb.Value)
		}
		e.v(int64(g.lastSeen))
		e.uv(uint64(g.meta & (metaOverflow | metaRates)))
		if l.total {
			e.f(sh.totals[gid])
		}
		// The group's open slots: inline, then extra.
		n := 0
		for i := gid * k; i < gid*k+k; i++ {
			if sh.slots.win(i) != emptyWin {
				n++
			}
		}
		e.uv(uint64(n) + uint64(g.nExtra()))
		for i := gid * k; i < gid*k+k; i++ {
			if sh.slots.win(i) != emptyWin {
				encodeSlot(e, l, &sh.slots, i)
			}
		}
		if g.nExtra() > 0 {
			for key, i := range sh.extra {
				if key.gid == uint32(gid) {
					encodeSlot(e, l, &sh.extraSlots, int(i))
				}
			}
		}
	}
	e.uv(uint64(sh.counters.len()))
	sh.counters.each(func(key uint64, r *counterRec) {
		e.u64(key)
		e.v(r.prevTs)
		e.f(r.prevV)
		e.v(int64(r.lastSeen))
		e.uv(uint64(r.rateIdx))
	})
	e.uv(uint64(sh.counted.len()))
	sh.counted.each(func(key uint64, r *countRec) {
		e.u64(key)
		e.v(r.win)
		e.u64(r.bits)
	})
	e.uv(uint64(len(sh.countSpill)))
	for w, set := range sh.countSpill {
		e.v(w)
		e.uv(uint64(len(set)))
		for h := range set {
			e.u64(h)
		}
	}
	e.uv(uint64(sh.dedup.len()))
	sh.dedup.each(func(key uint64, r *dedupRec) {
		e.u64(key)
		e.v(r.bucket)
		e.v(int64(r.lastSeen))
	})
	return lbuf
}

func encodeSlot(e *enc, l *layout, st *slotStore, i int) {
	e.v(st.win(i))
	for _, x := range st.f(i) {
		e.f(x)
	}
	if l.sketch {
		sk := st.sk[i]
		if sk == nil {
			sk = &sketch{}
		}
		e.uv(sk.count)
		e.uv(sk.zero)
		e.uv(sk.posInf)
		e.uv(sk.negInf)
		e.f(sk.min)
		e.f(sk.max)
		for _, s := range []*sketchStore{&sk.pos, &sk.neg} {
			e.v(int64(s.offset))
			e.uv(uint64(len(s.counts)))
			for _, c := range s.counts {
				e.uv(c)
			}
		}
	}
	if l.uniq {
		e.uv(uint64(len(st.uniq[i])))
		for key := range st.uniq[i] {
			e.u64(key)
		}
	}
	if l.rates {
		e.uv(uint64(len(st.rates[i])))
		for _, r := range st.rates[i] {
			e.u64(r.series)
			e.f(r.delta)
			e.v(r.baseTs)
			e.v(r.lastTs)
		}
	}
}

// Restore loads the state of sec, written by Checkpoint of an aggregation
// with the same fingerprint, into a, which must be new (nothing pushed).
// emitted is the latest watermark known to have been announced before
// windows were emitted (checkpoint's emitted file; math.MinInt64 if
// none): windows ending at or before it are not restored, as they may
// have left already. now is the wall clock. On error a is left empty.
func (a *Aggregator) Restore(sec checkpoint.Section, emitted int64, now time.Time) (err error) {
	if sec.Fingerprint != a.fingerprint {
		return errors.New("the aggregation's definition changed since the checkpoint")
	}
	if len(sec.Data) != 1+numShards {
		return fmt.Errorf("checkpoint has %d data frames, want %d", len(sec.Data), 1+numShards)
	}
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	for i := range a.shards {
		if a.shards[i].nGroups > 0 || a.shards[i].counters.len() > 0 {
			return errors.New("cannot restore into an aggregation that has state")
		}
	}
	defer func() {
		if err != nil {
			a.resetState()
		}
	}()
	d := dec{b: sec.Data[0]}
	if v := d.uv(); v != checkpointVersion {
		return fmt.Errorf("unsupported aggregation checkpoint version %d", v)
	}
	var seed [8]byte
	copy(seed[:], d.bytes(8))
	d.v() // saved at
	if n := d.uv(); n != numShards {
		return fmt.Errorf("checkpoint has %d shards, want %d", n, numShards)
	}
	if n := d.uv(); n != uint64(a.layout.size) {
		return fmt.Errorf("checkpoint has %d accumulators per window, want %d", n, a.layout.size)
	}
	if d.err != nil {
		return d.err
	}
	a.hashSeed = seed
	nowMs := now.UnixMilli()
	for i := range a.shards {
		d = dec{b: sec.Data[1+i]}
		if err := a.decodeShard(&d, &a.shards[i], i, emitted, nowMs); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
	}
	return nil
}

// resetState empties every shard and the budget after a failed Restore.
func (a *Aggregator) resetState() {
	for i := range a.shards {
		sh := &a.shards[i]
		epoch := sh.epoch
		sh.shardState = shardState{}
		sh.epoch = epoch + 1 // routes to the groups of the failed restore are stale
		sh.init()
		sh.slots = newSlotStore(&a.layout)
		sh.extraSlots = newSlotStore(&a.layout)
	}
	a.nGroups.Store(0)
	a.nOverflow.Store(0)
	a.nCounters.Store(0)
	a.nCounted.Store(0)
	a.nDedup.Store(0)
	a.syms = newSymbols()
}

func (a *Aggregator) decodeShard(d *dec, sh *shard, idx int, emitted, nowMs int64) error {
	l, k := &a.layout, a.slotsK
	if got := d.uv(); got != uint64(idx) {
		return fmt.Errorf("frame is for shard %d", got)
	}
	sh.watermark = max(d.v(), emitted)
	sh.clockBase, sh.clockSet = d.v(), true
	lastSeen := func() int32 { return int32(max(math.MinInt32, min(math.MaxInt32, d.v()))) }
	var key []batch.Label
	var hashBuf []byte
	for n := d.uv(); n > 0 && d.err == nil; n-- {
		key = key[:0]
		for m := d.uv(); m > 0 && d.err == nil; m-- {
			key = append(key, batch.Label{Name: d.str(), Value: d.str()})
		}
		seen := lastSeen()
		meta := uint32(d.uv())
		total := 0.0
		if l.total {
			total = d.f()
		}
		var gh ghash
		gh, hashBuf = a.groupHash(key, hashBuf)
		if d.err == nil && gh.h%numShards != uint64(idx) {
			return errors.New("a group's hash does not place it in this shard")
		}
		overflow := meta&metaOverflow != 0
		if d.err != nil || !a.reserveGroup(overflow) {
			return errors.Join(d.err, errors.New("more groups than the aggregation's limit"))
		}
		if !sh.roomFor(key) {
			return errors.New("more group labels than a shard's label arena holds")
		}
		gid := uint32(a.newGroup(sh, gh, key, overflow))
		g := &sh.groups[gid]
		g.lastSeen = seen
		g.meta |= meta & metaRates
		if l.total {
			sh.totals[gid] = total
		}
		for s := d.uv(); s > 0 && d.err == nil; s-- {
			decodeSlot(d, sh, gid, k, l, a.intervalMs)
		}
	}
	for n := d.uv(); n > 0 && d.err == nil; n-- {
		h := d.u64()
		r := counterRec{prevTs: d.v(), prevV: d.f()}
		r.lastSeen = lastSeen()
		r.rateIdx = uint32(d.uv())
		if reserve(&a.nCounters, a.maxSeries) {
			sh.counters.insert(h, r)
		}
	}
	for n := d.uv(); n > 0 && d.err == nil; n-- {
		h := d.u64()
		r := countRec{win: d.v(), bits: d.u64()}
		if reserve(&a.nCounted, a.maxSeries) {
			sh.counted.insert(h, r)
		}
	}
	for n := d.uv(); n > 0 && d.err == nil; n-- {
		w := d.v()
		for m := d.uv(); m > 0 && d.err == nil; m-- {
			sh.spill(w, d.u64(), a.intervalMs) // drops closed windows
		}
	}
	for n := d.uv(); n > 0 && d.err == nil; n-- {
		h := d.u64()
		r := dedupRec{bucket: d.v()}
		r.lastSeen = lastSeen()
		if reserve(&a.nDedup, a.maxSeries) {
			sh.dedup.insert(h, r)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		return fmt.Errorf("%d bytes left over", len(d.b))
	}
	return d.err
}

// decodeSlot restores one window slot of group gid, unless the window is
// closed by now (emitted before the checkpoint's process stopped).
func decodeSlot(d *dec, sh *shard, gid uint32, k int, l *layout, intervalMs int64) {
	w := d.v()
	open := d.err == nil && (w+1)*intervalMs > sh.watermark
	var st *slotStore
	var f []float64
	si := -1
	if open {
		st, si = sh.slotFor(gid, w, k, l)
		f = st.f(si)
	}
	for j := range l.size {
		x := d.f()
		if open {
			f[j] = x
		}
	}
	if l.sketch {
		var sk *sketch
		if open {
			if sk = st.sk[si]; sk == nil {
				sk = &sketch{}
				st.sk[si] = sk
			}
			sk.reset()
		} else {
			sk = &sketch{}
		}
		sk.count, sk.zero, sk.posInf, sk.negInf = d.uv(), d.uv(), d.uv(), d.uv()
		sk.min, sk.max = d.f(), d.f()
		for _, s := range []*sketchStore{&sk.pos, &sk.neg} {
			s.offset = int(d.v())
			n := d.uv()
			if n > sketchMaxBuckets {
				d.fail()
				return
			}
			s.counts = s.counts[:0]
			for ; n > 0; n-- {
				s.counts = append(s.counts, d.uv())
			}
		}
	}
	if l.uniq {
		n := d.uv()
		var m map[uint64]struct{}
		if open && n > 0 {
			if m = st.uniq[si]; m == nil {
				m = make(map[uint64]struct{}, n)
				st.uniq[si] = m
			}
		}
		for ; n > 0 && d.err == nil; n-- {
			key := d.u64()
			if m != nil {
				m[key] = struct{}{}
			}
		}
	}
	if l.rates {
		n := d.uv()
		for ; n > 0 && d.err == nil; n-- {
			r := rateAcc{series: d.u64(), delta: d.f(), baseTs: d.v(), lastTs: d.v()}
			if open {
				st.rates[si] = append(st.rates[si], r)
			}
		}
	}
}

// enc appends checkpoint encodings to b.
type enc struct{ b []byte }

func (e *enc) uv(x uint64) {
	for x >= 0x80 {
		e.b = append(e.b, byte(x)|0x80)
		x >>= 7
	}
	e.b = append(e.b, byte(x))
}
func (e *enc) v(x int64) { e.uv(uint64(x<<1) ^ uint64(x>>63)) }
func (e *enc) u64(x uint64) {
	e.b = append(e.b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
}
func (e *enc) f(x float64) { e.u64(math.Float64bits(x)) }
func (e *enc) str(s string) {
	e.uv(uint64(len(s)))
	e.b = append(e.b, s...)
}

// dec reads what enc wrote; the first problem sticks in err and every
// read after it returns zero values.
type dec struct {
	b   []byte
	err error
}

var errCorrupt = errors.New("corrupt aggregation checkpoint")

func (d *dec) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *dec) uv() uint64 {
	var x uint64
	for s := uint(0); s < 64; s += 7 {
		if len(d.b) == 0 {
			d.fail()
			return 0
		}
		c := d.b[0]
		d.b = d.b[1:]
		x |= uint64(c&0x7f) << s
		if c < 0x80 {
			return x
		}
	}
	d.fail()
	return 0
}

func (d *dec) v() int64 {
	u := d.uv()
	return int64(u>>1) ^ -int64(u&1)
}

func (d *dec) bytes(n int) []byte {
	if len(d.b) < n {
		d.fail()
		return make([]byte, n)
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) u64() uint64 {
	p := d.bytes(8)
	return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
		uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
}

func (d *dec) f() float64 { return math.Float64frombits(d.u64()) }

func (d *dec) str() string {
	n := d.uv()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	return string(d.bytes(int(n)))
}
