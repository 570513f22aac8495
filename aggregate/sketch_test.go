package aggregate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var testPhis = []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1}

// exactQuantile is the element of rank floor(φ·(n−1)) of sorted.
func exactQuantile(sorted []float64, phi float64) float64 {
	return sorted[int(phi*float64(len(sorted)-1))]
}

func checkSketch(t *testing.T, name string, s *sketch, values []float64) {
	t.Helper()
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	for _, phi := range testPhis {
		want := exactQuantile(sorted, phi)
		got := s.quantile(phi)
		if want == 0 || math.IsInf(want, 0) {
			if got != want {
				t.Errorf("%s: quantile(%g) = %g, want exactly %g", name, phi, got, want)
			}
			continue
		}
		if rel := math.Abs(got-want) / math.Abs(want); rel > sketchRelAcc+1e-12 {
			t.Errorf("%s: quantile(%g) = %g, want %g ± 1%% (relative error %.4f)", name, phi, got, want, rel)
		}
	}
	if got := s.quantile(0); got != sorted[0] {
		t.Errorf("%s: quantile(0) = %g, want exact min %g", name, got, sorted[0])
	}
	if got := s.quantile(1); got != sorted[len(sorted)-1] {
		t.Errorf("%s: quantile(1) = %g, want exact max %g", name, got, sorted[len(sorted)-1])
	}
}

func TestSketchAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() float64{
		"uniform":     func() float64 { return rng.Float64() * 1000 },
		"exponential": func() float64 { return rng.ExpFloat64() * 50 },
		"lognormal":   func() float64 { return math.Exp(rng.NormFloat64() * 3) },
		"normal":      func() float64 { return rng.NormFloat64() * 100 }, // negative and positive
		"integers":    func() float64 { return float64(rng.IntN(10)) },   // many ties and zeros
		"tiny":        func() float64 { return rng.Float64() * 1e-6 },
		"huge":        func() float64 { return rng.Float64() * 1e300 },
	}
	for name, gen := range dists {
		for _, n := range []int{1, 2, 3, 10, 1000, 100000} {
			var s sketch
			values := make([]float64, n)
			for i := range values {
				values[i] = gen()
				s.add(values[i])
			}
			checkSketch(t, name, &s, values)
		}
	}
}

func TestSketchEdgeValues(t *testing.T) {
	var s sketch
	if !math.IsNaN(s.quantile(0.5)) {
		t.Errorf("empty sketch: quantile = %g, want NaN", s.quantile(0.5))
	}
	values := []float64{math.Inf(-1), -5e-324, 0, 5e-324, 3, math.Inf(1), math.Inf(1)} // subnormals count as zero
	for _, v := range append(slices.Clone(values), math.NaN()) {
		s.add(v)
	}
	if s.count != uint64(len(values)) {
		t.Fatalf("count = %d, want %d (NaN ignored)", s.count, len(values))
	}
	// Ranks: -Inf, -5e-324 (zero), 0, 5e-324 (zero), 3, +Inf, +Inf.
	for _, tc := range []struct{ phi, want float64 }{
		{0, math.Inf(-1)}, {1.0 / 6, 0}, {0.5, 0}, {5.0 / 6, math.Inf(1)}, {1, math.Inf(1)},
	} {
		if got := s.quantile(tc.phi); got != tc.want {
			t.Errorf("quantile(%g) = %g, want %g", tc.phi, got, tc.want)
		}
	}
	if got := s.quantile(4.0 / 6); math.Abs(got-3)/3 > sketchRelAcc {
		t.Errorf("quantile(4/6) = %g, want 3 ± 1%%", got)
	}
}

func TestSketchMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var a, b, all sketch
	var values []float64
	for i := range 20000 {
		v := math.Exp(rng.NormFloat64()*2) * float64(1-2*(i%3/2)) // a third negative
		values = append(values, v)
		all.add(v)
		if i%2 == 0 {
			a.add(v)
		} else {
			b.add(v)
		}
	}
	a.merge(&b)
	checkSketch(t, "merged", &a, values)
	for _, phi := range testPhis {
		if got, want := a.quantile(phi), all.quantile(phi); got != want {
			t.Errorf("merged quantile(%g) = %g, sketch of the union gives %g", phi, got, want)
		}
	}
	var empty sketch
	a.merge(&empty)
	empty.merge(&b)
	if empty.quantile(0.5) != b.quantile(0.5) || empty.count != b.count {
		t.Errorf("merge into empty: quantile(0.5) %g, want %g", empty.quantile(0.5), b.quantile(0.5))
	}
}

// The store keeps the highest sketchMaxBuckets buckets: values spanning
// more decades lose accuracy at the low end only, and stay counted.
func TestSketchCollapse(t *testing.T) {
	var s sketch
	var values []float64
	for e := -9; e <= 300; e++ { // 310 decades: far more than 2048 buckets
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, float64(e))
			values = append(values, v)
			s.add(v)
		}
	}
	if n := len(s.pos.counts); n > sketchMaxBuckets {
		t.Fatalf("store has %d buckets, want <= %d", n, sketchMaxBuckets)
	}
	var total uint64
	for _, c := range s.pos.counts {
		total += c
	}
	if total != uint64(len(values)) {
		t.Fatalf("store counts %d values, want %d", total, len(values))
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	for _, phi := range []float64{0.95, 0.99, 1} { // the top 19 decades are exact to 1%
		want := exactQuantile(sorted, phi)
		if got := s.quantile(phi); math.Abs(got-want)/want > sketchRelAcc+1e-12 {
			t.Errorf("quantile(%g) = %g, want %g ± 1%%", phi, got, want)
		}
	}
	// Adding ever smaller values after the window moved keeps counting them.
	s.add(1e-8)
	if got := s.quantile(0); got != 1e-9 {
		t.Errorf("quantile(0) = %g, want exact min 1e-9", got)
	}

	// Growing to the left within the limit keeps exact buckets.
	var l sketch
	l.add(1e6)
	l.add(1)
	l.add(1e-3)
	checkSketch(t, "grow left", &l, []float64{1e6, 1, 1e-3})
}

func TestSketchReset(t *testing.T) {
	var s sketch
	for i := range 100 {
		s.add(float64(i + 1))
		s.add(-float64(i + 1))
	}
	s.reset()
	if s.count != 0 || len(s.pos.counts) != 0 || len(s.neg.counts) != 0 || s.zero != 0 {
		t.Fatalf("reset left state: %+v", s)
	}
	s.add(42)
	if got := s.quantile(0.5); got != 42 {
		t.Errorf("after reset quantile(0.5) = %g, want 42", got)
	}
}
