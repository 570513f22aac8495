package aggregate

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTableAgainstMap runs random inserts, removals and sweeps on a table
// and on a map, with few distinct keys so probe runs are long and wrap
// around, and compares their contents after every operation.
func TestTableAgainstMap(t *testing.T) {
	for seed := range uint64(4) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var tb table[int]
		want := map[uint64]int{}
		// Keys with equal high bits share a home slot; 0 tests tableKey.
		key := func() uint64 {
			k := rng.Uint64N(300)
			if k == 0 {
				return 0
			}
			return k<<50 | k
		}
		for step := range 6_000 {
			k := key()
			switch op := rng.IntN(10); {
			case op < 5:
				if p := tb.find(k); p >= 0 {
					*tb.at(p) = step
				} else {
					tb.insert(k, step)
				}
				want[k] = step
			case op < 8:
				if p := tb.find(k); p >= 0 {
					tb.remove(p)
				}
				delete(want, k)
			default:
				limit := rng.IntN(step + 1)
				tb.sweep(func(_ uint64, v *int) bool { return *v < limit })
				for k, v := range want {
					if v < limit {
						delete(want, k)
					}
				}
			}
			if tb.len() != len(want) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, tb.len(), len(want))
			}
			for k, v := range want {
				p := tb.find(k)
				if p < 0 || *tb.at(p) != v {
					t.Fatalf("seed %d step %d: key %x missing or wrong", seed, step, k)
				}
				if tb.next(k, p) >= 0 {
					t.Fatalf("seed %d step %d: key %x twice", seed, step, k)
				}
			}
		}
	}
}

// TestGroupIndexDuplicates checks that entries sharing a hash, or only
// its upper half, are all found, and that removing one keeps the others.
func TestGroupIndexDuplicates(t *testing.T) {
	var x groupIndex
	hashes := []uint64{1 << 40, 1<<40 | 7, 1 << 40, 2 << 40, 1<<40 | 9}
	for gid, h := range hashes {
		x.insert(h, uint32(gid))
	}
	find := func(h uint64) []uint32 {
		var ids []uint32
		for p := x.find(h); p >= 0; p = x.next(h, p) {
			ids = append(ids, x.gid(p))
		}
		slices.Sort(ids)
		return ids
	}
	// find matches on the upper half only; lookup then compares the full hash.
	if got := find(1 << 40); !slices.Equal(got, []uint32{0, 1, 2, 4}) {
		t.Errorf("find(1<<40) = %v", got)
	}
	for p := x.find(1 << 40); p >= 0; p = x.next(1<<40, p) {
		if x.gid(p) == 2 {
			x.remove(p)
			break
		}
	}
	if got := find(1 << 40); !slices.Equal(got, []uint32{0, 1, 4}) {
		t.Errorf("after remove: find(1<<40) = %v", got)
	}
	if got := find(2 << 40); !slices.Equal(got, []uint32{3}) {
		t.Errorf("find(2<<40) = %v", got)
	}
}
