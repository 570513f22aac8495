package aggregate

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind outputKind
		phis []string
	}{
		{"avg", outAvg, nil},
		{"  rate_sum ", outRateSum, nil},
		{"quantiles(0.5)", outQuantiles, []string{"0.5"}},
		{"quantiles( 0 , 0.50,1, 0.999 )", outQuantiles, []string{"0", "0.5", "1", "0.999"}},
		{"quantiles (1e-3)", outQuantiles, []string{"0.001"}},
	} {
		o, err := parseOutput(tc.in)
		if err != nil {
			t.Errorf("parseOutput(%q): %v", tc.in, err)
			continue
		}
		if o.kind != tc.kind || !slices.Equal(o.phiS, tc.phis) {
			t.Errorf("parseOutput(%q) = %s %q, want %s %q", tc.in, outputNames[o.kind], o.phiS, outputNames[tc.kind], tc.phis)
		}
	}
}

// FuzzParseOutput checks that any string either parses into a known
// output with φ in [0, 1] or yields an error, never a panic.
func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{"avg", "quantiles(0.5, 0.99)", "quantiles(", "quantiles()", "histogram", "quantiles(1,1)", "quantiles(NaN)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := parseOutput(s)
		if err != nil {
			return
		}
		if o.kind >= numOutputKinds {
			t.Fatalf("parseOutput(%q): kind %d", s, o.kind)
		}
		if (o.kind == outQuantiles) != strings.HasPrefix(strings.TrimSpace(s), "quantiles") || len(o.phis) != len(o.phiS) {
			t.Fatalf("parseOutput(%q) = %+v", s, o)
		}
		for _, phi := range o.phis {
			if math.IsNaN(phi) || phi < 0 || phi > 1 {
				t.Fatalf("parseOutput(%q): φ %g", s, phi)
			}
		}
	})
}
