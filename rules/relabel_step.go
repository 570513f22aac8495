package rules

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/grafana/regexp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// replaceKind is how a replace step computes its result.
type replaceKind uint8

const (
	// replaceLiteral: neither target_label nor replacement refers to a
	// group, so only whether the regex matches matters.
	replaceLiteral replaceKind = iota
	// replaceValue: regex (.*) or (.+), replacement $1: the value itself.
	replaceValue
	// replaceTemplate: anything else, through the regex engine.
	replaceTemplate
)

// modStrings is how many hashmod results are formatted in advance.
const modStrings = 4096

// step is one compiled relabel config.
type step struct {
	action relabel.Action
	src    []string
	sep    string
	target string
	repl   string
	scheme model.ValidationScheme

	match *matcher       // whole-string matches of regex
	re    *regexp.Regexp // the anchored regex, for replacements

	kind        replaceKind
	nonEmpty    bool // replaceValue with (.+): the empty value does not match
	validTarget bool // target_label (without $) is a valid label name

	modulus uint64
	mods    []string // hashmod results 0..min(modulus, modStrings)-1

	memo *memo // replaceTemplate: value -> result; labelmap: name -> name
}

func (s *step) setsLabels() bool {
	switch s.action {
	case relabel.Replace, relabel.Lowercase, relabel.Uppercase, relabel.HashMod, relabel.LabelMap:
		return true
	}
	return false
}

// needsScratch reports whether the step needs the pooled scratch space of
// a labelSet (join, snap).
func (s *step) needsScratch() bool {
	return len(s.src) > 1 || s.action == relabel.HashMod || s.action == relabel.LabelMap
}

// compileStep compiles a validated config.
func compileStep(c *relabel.Config) (step, error) {
	s := step{
		action:  c.Action,
		sep:     c.Separator,
		target:  c.TargetLabel,
		repl:    c.Replacement,
		scheme:  c.NameValidationScheme,
		modulus: c.Modulus,
	}
	for _, n := range c.SourceLabels {
		s.src = append(s.src, string(n))
	}
	switch c.Action {
	case relabel.Keep, relabel.Drop, relabel.Replace, relabel.LabelMap, relabel.LabelDrop, relabel.LabelKeep:
		if c.Regex.Regexp == nil {
			return step{}, errors.New("regex: missing")
		}
		s.re = c.Regex.Regexp
		s.match = newMatcher(c.Regex)
	case relabel.KeepEqual, relabel.DropEqual, relabel.Lowercase, relabel.Uppercase:
	case relabel.HashMod:
		for i := range min(c.Modulus, modStrings) {
			s.mods = append(s.mods, strconv.FormatUint(i, 10))
		}
	default:
		return step{}, fmt.Errorf("unknown relabel action %q", c.Action)
	}
	switch c.Action {
	case relabel.Replace:
		targetTmpl, replTmpl := strings.Contains(s.target, "$"), strings.Contains(s.repl, "$")
		expr := c.Regex.String()
		switch {
		case !targetTmpl && !replTmpl:
			s.kind = replaceLiteral
		case !targetTmpl && (s.repl == "$1" || s.repl == "${1}") && (expr == "(.*)" || expr == "(.+)"):
			s.kind = replaceValue
			s.nonEmpty = expr == "(.+)"
		default:
			s.kind = replaceTemplate
			s.memo = newMemo()
		}
		s.validTarget = targetTmpl || s.scheme.IsValidLabelName(s.target)
	case relabel.LabelMap:
		s.memo = newMemo()
	}
	return s, nil
}

// apply runs the step over set; false drops the series. It mirrors
// relabel.relabel in Prometheus.
func (s *step) apply(set *labelSet) bool {
	switch s.action {
	case relabel.LabelDrop:
		set.keepNames(s.match, false)
		return true
	case relabel.LabelKeep:
		set.keepNames(s.match, true)
		return true
	case relabel.LabelMap:
		s.labelMap(set)
		return true
	}
	val, stable := s.value(set)
	switch s.action {
	case relabel.Drop:
		return !s.match.match(val)
	case relabel.Keep:
		return s.match.match(val)
	case relabel.DropEqual:
		return set.get(s.target) != val
	case relabel.KeepEqual:
		return set.get(s.target) == val
	case relabel.Replace:
		s.replace(set, val, stable)
	case relabel.Lowercase:
		set.set(s.target, keepable(strings.ToLower(val), val, stable))
	case relabel.Uppercase:
		set.set(s.target, keepable(strings.ToUpper(val), val, stable))
	case relabel.HashMod:
		set.join = append(set.join[:0], val...)
		sum := md5.Sum(set.join)
		// The last 8 bytes, as Prometheus does.
		mod := binary.BigEndian.Uint64(sum[8:]) % s.modulus
		if mod < uint64(len(s.mods)) {
			set.set(s.target, s.mods[mod])
		} else {
			set.set(s.target, strconv.FormatUint(mod, 10))
		}
	}
	return true
}

// value returns the source label values joined by the separator. stable
// is false when the result aliases set.join: it must be copied before it
// becomes a label value.
func (s *step) value(set *labelSet) (val string, stable bool) {
	switch len(s.src) {
	case 0:
		return "", true
	case 1:
		return set.get(s.src[0]), true
	}
	set.join = set.join[:0]
	for i, n := range s.src {
		if i > 0 {
			set.join = append(set.join, s.sep...)
		}
		set.join = append(set.join, set.get(n)...)
	}
	if len(set.join) == 0 {
		return "", true
	}
	return unsafe.String(&set.join[0], len(set.join)), false
}

// keepable returns res, copied when it is (or shares memory with) an
// unstable val.
func keepable(res, val string, stable bool) string {
	if !stable && len(res) > 0 && unsafe.StringData(res) == unsafe.StringData(val) {
		return strings.Clone(res)
	}
	return res
}

func (s *step) replace(set *labelSet, val string, stable bool) {
	switch s.kind {
	case replaceLiteral:
		if s.validTarget && s.match.match(val) {
			set.set(s.target, s.repl) // "" deletes
		}
	case replaceValue:
		if s.validTarget && (!s.nonEmpty || val != "") {
			set.set(s.target, keepable(val, val, stable))
		}
	default:
		r, ok := s.memo.get(val)
		if !ok {
			r = s.expand(val)
			s.memo.put(val, r)
		}
		if r.matched && s.scheme.IsValidLabelName(r.name) {
			set.set(r.name, r.value) // "" deletes
		}
	}
}

// expand computes a templated replacement as Prometheus does.
func (s *step) expand(val string) memoResult {
	idx := s.re.FindStringSubmatchIndex(val)
	if idx == nil {
		return memoResult{}
	}
	target := s.target
	if strings.Contains(target, "$") {
		target = string(s.re.ExpandString(nil, target, val, idx))
	}
	return memoResult{matched: true, name: target, value: string(s.re.ExpandString(nil, s.repl, val, idx))}
}

// labelMap copies every label whose name matches to the name the
// replacement makes of it, iterating like labels.Builder.Range.
func (s *step) labelMap(set *labelSet) {
	for _, l := range set.snapshot() {
		if !s.match.match(l.Name) {
			continue
		}
		r, ok := s.memo.get(l.Name)
		if !ok {
			r = memoResult{matched: true, name: s.re.ReplaceAllString(l.Name, s.repl)}
			s.memo.put(l.Name, r)
		}
		set.set(r.name, l.Value)
	}
}
