package rules

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/relabel"
)

// TestMatcherAgreesWithRegexp: the first-byte filter and FastRegexMatcher
// never change what the anchored regex matches.
func TestMatcherAgreesWithRegexp(t *testing.T) {
	exprs := []string{
		"", "(.*)", "(.+)", ".", "build_.*", "meta_.*|engine", "UK|US|Japan", "(?i)uk|de", "(?i)k.*", "[a-c]x", "[^a]x",
		"x*y", "x?y|z", "(a|)b", `\bfoo`, "^a", "a$", "(ab){0,2}c", "(ab){2}", "é.*", "[é-ü]", `\d+`, `\w+_total`,
		"[[:upper:]].*", `\p{Greek}`, ".*_count", "(?s:.)", "a|b*", "(?:x|y)?z", `\x{212A}`,
		"(.*)_total", "(app_.*)|(node_(.*))", "(?i)build_.*", `\x{FFFD}`, `\x{FFFD}.*`, "x(.+)", "(.+)", "build_", "a|ab|abc",
		"(?U).*a", "^.*$", "vehicle_.+", "label_.+|x", ".+_total", "(.+)x", "x(.*)", "é|ü.*", "(?-s:.*)x", `[\x{FFFD}a]`, `(?i)\x{FFFD}`, ".*a.*b.*", "(?i)foo|bar", "a.c", "[^x]*",
	}
	inputs := []string{
		"", "a", "b", "ab", "abc", "abab", "ababc", "c", "x", "ax", "bx", "y", "xy", "xxy", "z", "zz", "foo", " foo",
		"UK", "uk", "Uk", "US", "Japan", "de", "DE", "k", "K", "\u212a", "kelvin", "build_id", "buildid", "meta_x",
		"engine", "é", "éa", "ü", "\xff", "\xc3", "\x80x", "42", "a_total", "Zone", "αβ", "\n", "a\nb", "x_count",
		"app_x", "node_", "node", "vehicle_", "vehicle_rpm", "vehicle_\xff", "label_", "label_0", "_total", "a_total", "x_total", "\ufffd", "\ufffdx", "\xffx", "BUILD_ID", "ab\n", "\nx", "üü",
	}
	// Random strings from pieces that exercise case folding, multi-byte
	// runes, invalid bytes and U+FFFD itself.
	pieces := []string{"a", "b", "c", "x", "é", "\xff", "\xc3", "\x80", "k", "K", "\u212a", "ß", "SS", "\n", "_", "foo", "bar", "\ufffd", "z", "build_", "node_"}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var sb strings.Builder
		for range rng.IntN(5) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		inputs = append(inputs, sb.String())
	}
	for _, e := range exprs {
		re, err := relabel.NewRegexp(e)
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		m := newMatcher(re)
		for _, in := range inputs {
			if got, want := m.match(in), re.MatchString(in); got != want {
				t.Errorf("regex %q on %q: matcher says %v, regexp %v", e, in, got, want)
			}
		}
	}
}

// FuzzMatcher compares the matcher with the regex engine on any valid
// regex and any input.
func FuzzMatcher(f *testing.F) {
	for _, seed := range [][2]string{{"build_.*", "build_id"}, {"(?i)uk|de", "UK"}, {`\x{FFFD}.*`, "\xff"}, {"a.c|x+", "a\xffc"}, {"[^a]x", "\u212ax"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, expr, in string) {
		re, err := relabel.NewRegexp(expr)
		if err != nil {
			return
		}
		if got, want := newMatcher(re).match(in), re.MatchString(in); got != want {
			t.Fatalf("regex %q on %q: matcher says %v, regexp %v", expr, in, got, want)
		}
	})
}
