package aggregate

import (
	"slices"
	"strconv"
	"testing"

	"github.com/premetrics/premetrics/batch"
)

func testOutNames(metric string) []string { return []string{metric + ":out"} }

// Packed labels decode to what was packed, whether their strings are
// interned or inline, and equal compares them exactly.
func TestPackRoundTrip(t *testing.T) {
	sy := newSymbols()
	sets := [][]batch.Label{
		{{Name: "__name__", Value: "m"}},
		{{Name: "__name__", Value: ""}},
		{{Name: "A", Value: "upper"}, {Name: "__name__", Value: "m"}, {Name: "region", Value: "eu"}},
		{{Name: "__name__", Value: "m"}, {Name: "id", Value: string(make([]byte, 300))}},
	}
	for i := range 2 * maxValuesPerName { // the id label stops interning values
		sets = append(sets, []batch.Label{{Name: "__name__", Value: "m"}, {Name: "id", Value: "v" + strconv.Itoa(i)}})
	}
	var ar labelArena
	packed := make([]string, len(sets))
	for i, ls := range sets {
		ref, ok := sy.pack(ls, testOutNames, &ar)
		if !ok {
			t.Fatalf("set %d: the arena is full", i)
		}
		packed[i] = ar.get(ref)
	}
	for i, ls := range sets {
		got, nameIdx, sym := sy.unpack(packed[i], nil)
		if !slices.Equal(got, ls) {
			t.Errorf("set %d: unpack = %v, want %v", i, got, ls)
		}
		if got[nameIdx].Name != batch.MetricName || sym == nil || sym.out[0] != got[nameIdx].Value+":out" {
			t.Errorf("set %d: nameIdx %d, symbol %v", i, nameIdx, sym)
		}
		for j := range sets {
			if j != i && packed[j] == packed[i] {
				t.Errorf("sets %d and %d pack alike", i, j)
			}
		}
	}
	if n := sy.perName[sy.values.ids["id"]]; n != maxValuesPerName {
		t.Errorf("interned %d id values, want %d", n, maxValuesPerName)
	}
	if _, ok := sy.values.ids["v"+strconv.Itoa(2*maxValuesPerName-1)]; ok {
		t.Errorf("an id value beyond the per-name budget was interned")
	}
}

// A full metric table keeps working: new names are stored inline and
// their output names computed at emission.
func TestPackFullSymbolTable(t *testing.T) {
	sy := newSymbols()
	var ar labelArena
	for i := range symMax {
		sy.pack([]batch.Label{{Name: "__name__", Value: "m" + strconv.Itoa(i)}}, testOutNames, &ar)
	}
	ls := []batch.Label{{Name: "__name__", Value: "new"}, {Name: "x", Value: "y"}}
	ref, _ := sy.pack(ls, testOutNames, &ar)
	got, _, sym := sy.unpack(ar.get(ref), nil)
	if sym != nil || !slices.Equal(got, ls) {
		t.Errorf("unpack = %v, %v; want %v inline", got, sym, ls)
	}
}
