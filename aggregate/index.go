package aggregate

// groupIndex maps group hashes to group ids within a shard. It is an
// open-addressing table like table, with 8-byte entries: the upper 32
// bits of the hash (which also place the entry) and id+1 (0: empty).
// Several groups may share a hash or its upper half; lookup compares the
// full hash and the labels in the group record.
type groupIndex struct {
	slots []uint64
	n     int
}

func indexEntry(h uint64, gid uint32) uint64 { return h&^0xffffffff | uint64(gid) + 1 }

func (x *groupIndex) home(e uint64) int {
	return int((e >> 32) * uint64(len(x.slots)) >> 32)
}

// find returns the position of the first entry whose hash has the upper
// half of h, or -1.
func (x *groupIndex) find(h uint64) int {
	if x.n == 0 {
		return -1
	}
	return x.scan(h, x.home(h))
}

// next returns the position of the next such entry after pos, or -1.
func (x *groupIndex) next(h uint64, pos int) int {
	pos++
	if pos == len(x.slots) {
		pos = 0
	}
	return x.scan(h, pos)
}

func (x *groupIndex) scan(h uint64, i int) int {
	tag := h >> 32
	for {
		e := x.slots[i]
		switch {
		case e == 0:
			return -1
		case e>>32 == tag:
			return i
		}
		if i++; i == len(x.slots) {
			i = 0
		}
	}
}

// gid returns the group id of the entry at pos.
func (x *groupIndex) gid(pos int) uint32 { return uint32(x.slots[pos]) - 1 }

func (x *groupIndex) insert(h uint64, gid uint32) {
	if float64(x.n+1) > tableMaxLoad*float64(len(x.slots)) {
		x.resize(max(tableMinCap, len(x.slots)*3/2, int(float64(x.n+1)/tableMaxLoad)+1))
	}
	e := indexEntry(h, gid)
	i := x.home(e)
	for x.slots[i] != 0 {
		if i++; i == len(x.slots) {
			i = 0
		}
	}
	x.slots[i] = e
	x.n++
}

// remove deletes the entry at pos with backward-shift deletion (see
// table.remove).
func (x *groupIndex) remove(pos int) {
	n := len(x.slots)
	i := pos
	for j := i + 1; ; j++ {
		if j == n {
			j = 0
		}
		e := x.slots[j]
		if e == 0 {
			break
		}
		h := x.home(e)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			x.slots[i] = e
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
	if len(x.slots) > tableMinCap && x.n < len(x.slots)/8 {
		x.resize(max(tableMinCap, int(float64(x.n)/tableMaxLoad*1.5)+1))
	}
}

func (x *groupIndex) resize(c int) {
	old := x.slots
	x.slots = make([]uint64, c)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := x.home(e)
		for x.slots[i] != 0 {
			if i++; i == c {
				i = 0
			}
		}
		x.slots[i] = e
	}
}

func (x *groupIndex) reset() {
	x.slots = nil
	x.n = 0
}
