package rules

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// matcher tests whole strings against a relabel regex. Before running the
// regex it rejects non-empty strings whose first byte no match can start
// with: labeldrop of `build_.*` then costs one table lookup for every
// label name not starting with "b".
type matcher struct {
	first byteSet // bytes a non-empty match may start with
	fn    func(string) bool
}

func (m *matcher) match(s string) bool {
	if len(s) > 0 && !m.first.has(s[0]) {
		return false
	}
	return m.fn(s)
}

// newMatcher returns a matcher equivalent to re.MatchString: Prometheus'
// FastRegexMatcher when re is anchored as relabel.NewRegexp makes it
// (literals, alternations, prefixes and suffixes become string
// comparisons), behind the first-byte filter.
func newMatcher(re relabel.Regexp) *matcher {
	m := &matcher{fn: re.MatchString}
	m.first.addRange(0, 0xff)
	full := re.Regexp.String()
	if !strings.HasPrefix(full, "^(?s:") || !strings.HasSuffix(full, ")$") {
		return m
	}
	expr := re.String()
	// The same flags as regexp.Compile with the (?s) of the anchoring.
	parsed, err := syntax.Parse(expr, syntax.Perl|syntax.DotNL)
	if err != nil {
		return m
	}
	parsed = parsed.Simplify()
	if set, _, ok := firstBytes(parsed); ok {
		m.first = set
	}
	// FastRegexMatcher compares literals bytewise, while the regex engine
	// reads every invalid byte as U+FFFD: a regex that can match U+FFFD
	// stays with the engine.
	if !matchesReplacementChar(parsed) {
		if fm, err := labels.NewFastRegexMatcher(expr); err == nil {
			m.fn = fm.MatchString
		}
	}
	if fn := simpleMatch(parsed); fn != nil {
		m.fn = fn
	}
	return m
}

// simpleMatch returns a direct test for the shapes relabel regexes mostly
// have, a literal, a literal prefix or suffix with .* or .+, .* or .+, or
// an alternation of those; nil for anything else.
func simpleMatch(re *syntax.Regexp) func(string) bool {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	lit, isLit := literal(re)
	switch {
	case isLit:
		return func(s string) bool { return s == lit }
	case anyString(re):
		return func(string) bool { return true }
	case anyNonEmpty(re):
		return func(s string) bool { return s != "" }
	case re.Op == syntax.OpConcat && len(re.Sub) == 2:
		if prefix, ok := literal(re.Sub[0]); ok {
			switch {
			case anyString(re.Sub[1]):
				return func(s string) bool { return strings.HasPrefix(s, prefix) }
			case anyNonEmpty(re.Sub[1]):
				return func(s string) bool { return len(s) > len(prefix) && strings.HasPrefix(s, prefix) }
			}
		}
		if suffix, ok := literal(re.Sub[1]); ok {
			switch {
			case anyString(re.Sub[0]):
				return func(s string) bool { return strings.HasSuffix(s, suffix) }
			case anyNonEmpty(re.Sub[0]):
				return func(s string) bool { return len(s) > len(suffix) && strings.HasSuffix(s, suffix) }
			}
		}
	case re.Op == syntax.OpAlternate:
		var fns []func(string) bool
		for _, sub := range re.Sub {
			fn := simpleMatch(sub)
			if fn == nil {
				return nil
			}
			fns = append(fns, fn)
		}
		return func(s string) bool {
			for _, fn := range fns {
				if fn(s) {
					return true
				}
			}
			return false
		}
	}
	return nil
}

// literal returns the string a case-sensitive literal matches. Literals
// holding U+FFFD are left to the regex engine, which matches that rune
// against every invalid byte.
func literal(re *syntax.Regexp) (string, bool) {
	if re.Op != syntax.OpLiteral || re.Flags&syntax.FoldCase != 0 || slices.Contains(re.Rune, utf8.RuneError) {
		return "", false
	}
	return string(re.Rune), true
}

// anyString reports whether re is .* with . matching every rune.
func anyString(re *syntax.Regexp) bool {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	return re.Op == syntax.OpStar && re.Sub[0].Op == syntax.OpAnyChar
}

// anyNonEmpty reports whether re is .+ with . matching every rune: any
// string of at least one byte (an invalid byte is a rune too).
func anyNonEmpty(re *syntax.Regexp) bool {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	return re.Op == syntax.OpPlus && re.Sub[0].Op == syntax.OpAnyChar
}

// matchesReplacementChar reports whether a literal or character class of
// re contains U+FFFD. (Any-character matches it too, but FastRegexMatcher
// treats . as the engine does.)
func matchesReplacementChar(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		if slices.Contains(re.Rune, utf8.RuneError) {
			return true
		}
		if re.Flags&syntax.FoldCase != 0 {
			for _, r := range re.Rune {
				for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
					if f == utf8.RuneError {
						return true
					}
				}
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= utf8.RuneError && utf8.RuneError <= re.Rune[i+1] {
				return true
			}
		}
	}
	for _, sub := range re.Sub {
		if matchesReplacementChar(sub) {
			return true
		}
	}
	return false
}

// byteSet is a set of bytes: a table, as one load is the fastest test.
type byteSet [256]bool

func (s *byteSet) has(c byte) bool { return s[c] }

func (s *byteSet) addRange(lo, hi int) {
	for c := lo; c <= hi; c++ {
		s[c] = true
	}
}

func (s *byteSet) union(o *byteSet) {
	for i := range s {
		s[i] = s[i] || o[i]
	}
}

// addRune adds the first bytes rune r can appear as. Runes beyond ASCII
// add every byte from 0x80: their UTF-8 lead bytes, and the invalid bytes
// Go's regexp reads as U+FFFD.
func (s *byteSet) addRune(r rune) {
	if r < 0x80 {
		s.addRange(int(r), int(r))
		return
	}
	s.addRange(0x80, 0xff)
}

// firstBytes returns a superset of the bytes a non-empty match of re can
// start with, and whether re can match the empty string; ok is false when
// it cannot tell (then any byte may start a match).
func firstBytes(re *syntax.Regexp) (set byteSet, nullable, ok bool) {
	switch re.Op {
	case syntax.OpNoMatch:
		return set, false, true
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return set, true, true // zero-width: the next part decides
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return set, true, true
		}
		r := re.Rune[0]
		set.addRune(r)
		if re.Flags&syntax.FoldCase != 0 {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				set.addRune(f)
			}
		}
		return set, false, true
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo < 0x80 {
				set.addRange(int(lo), int(min(hi, 0x7f)))
			}
			if hi >= 0x80 {
				set.addRange(0x80, 0xff)
			}
		}
		return set, false, true
	case syntax.OpCapture:
		return firstBytes(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		set, _, ok = firstBytes(re.Sub[0])
		return set, true, ok
	case syntax.OpPlus:
		return firstBytes(re.Sub[0])
	case syntax.OpRepeat:
		set, nullable, ok = firstBytes(re.Sub[0])
		return set, nullable || re.Min == 0, ok
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			s, n, subOK := firstBytes(sub)
			if !subOK {
				return set, false, false
			}
			set.union(&s)
			if !n {
				return set, false, true
			}
		}
		return set, true, true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			s, n, subOK := firstBytes(sub)
			if !subOK {
				return set, false, false
			}
			set.union(&s)
			nullable = nullable || n
		}
		return set, nullable, true
	}
	return set, false, false // OpAnyChar, OpAnyCharNotNL and anything new
}
