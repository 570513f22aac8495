package catalog

import (
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/premetrics/premetrics/catalog/infer"
)

// relabelFamily applies relabel configs to what is known of a family's
// names and labels, the way Prometheus applies them to a series, and
// reports whether any series of the family can survive them. What the
// configs do is computed where the values they read are known (the
// metric name of an exact family; labels the family never has, which are
// empty); where it depends on values that are not known, the result is
// widened rather than guessed: a name that may change becomes any name,
// a label that may be set is possible, an open set stays open.
func relabelFamily(name nameSpec, ls infer.Labels, cfgs []*relabel.Config) (nameSpec, infer.Labels, bool) {
	for _, c := range cfgs {
		if c == nil {
			continue
		}
		re := c.Regex
		if re.Regexp == nil {
			re = relabel.DefaultRelabelConfig.Regex
		}
		val, known := sourceValue(c, name, ls)
		switch c.Action {
		case relabel.Replace:
			name, ls = relabelReplace(c, re, name, ls, val, known)
		case relabel.Lowercase, relabel.Uppercase:
			switch {
			case c.TargetLabel != labels.MetricName:
				ls = ls.Add(c.TargetLabel)
			case known && val != "":
				if c.Action == relabel.Lowercase {
					name = exactName(strings.ToLower(val))
				} else {
					name = exactName(strings.ToUpper(val))
				}
			default:
				name = anyName
			}
		case relabel.HashMod:
			if c.TargetLabel == labels.MetricName {
				name = anyName
			} else {
				ls = ls.Add(c.TargetLabel)
			}
		case relabel.LabelMap:
			if ls.IsOpen() {
				ls = infer.Open()
				if c.Replacement == labels.MetricName {
					name = anyName
				}
				continue
			}
			for _, l := range append(ls.Names(), labels.MetricName) {
				if !re.MatchString(l) {
					continue
				}
				res := re.ReplaceAllString(l, c.Replacement)
				if res == labels.MetricName {
					if l != labels.MetricName {
						name = anyName
					}
					continue
				}
				ls = ls.Add(res)
			}
		case relabel.LabelDrop:
			if names, ok := literalNames(re); ok && ls.IsOpen() {
				ls = ls.Drop(names...)
			} else {
				ls = ls.DropMatching(re.MatchString)
			}
		case relabel.LabelKeep:
			if names, ok := literalNames(re); ok && ls.IsOpen() {
				ls = ls.Keep(names...)
			} else {
				ls = ls.KeepMatching(re.MatchString)
			}
		case relabel.Keep, relabel.Drop:
			keep := c.Action == relabel.Keep
			if known {
				if re.MatchString(val) != keep {
					return name, ls, false
				}
				continue
			}
			// keep/drop on the metric name alone narrows a name pattern.
			if len(c.SourceLabels) == 1 && c.SourceLabels[0] == labels.MetricName && !name.isExact() && name.suffix == "" {
				t := labels.MatchRegexp
				if !keep {
					t = labels.MatchNotRegexp
				}
				if m, err := labels.NewMatcher(t, labels.MetricName, re.String()); err == nil {
					name.base = append(name.base[:len(name.base):len(name.base)], m)
				}
			}
		}
		// keepequal and dropequal only filter series.
	}
	return name, ls, true
}

// relabelReplace applies one replace action.
func relabelReplace(c *relabel.Config, re relabel.Regexp, name nameSpec, ls infer.Labels, val string, known bool) (nameSpec, infer.Labels) {
	dynTarget := strings.Contains(c.TargetLabel, "$")
	if known {
		idx := re.FindStringSubmatchIndex(val)
		if idx == nil {
			return name, ls // no match: nothing changes
		}
		target := c.TargetLabel
		if dynTarget {
			target = string(re.ExpandString(nil, c.TargetLabel, val, idx))
		}
		res := string(re.ExpandString(nil, c.Replacement, val, idx))
		switch {
		case target == labels.MetricName && res == "":
			return anyName, ls
		case target == labels.MetricName:
			return exactName(res), ls
		case res == "":
			return name, ls.Drop(target)
		}
		return name, ls.Add(target)
	}
	fixed := !strings.Contains(c.Replacement, "$") && alwaysMatches(re)
	switch {
	case dynTarget:
		return anyName, infer.Open()
	case c.TargetLabel == labels.MetricName && fixed && c.Replacement != "":
		return exactName(c.Replacement), ls
	case c.TargetLabel == labels.MetricName:
		return anyName, ls
	case fixed && c.Replacement == "":
		return name, ls.Drop(c.TargetLabel)
	}
	return name, ls.Add(c.TargetLabel)
}

// sourceValue returns the joined values of c's source labels when they
// are known: the metric name of an exact family, or empty for a label the
// family never has.
func sourceValue(c *relabel.Config, name nameSpec, ls infer.Labels) (string, bool) {
	vals := make([]string, len(c.SourceLabels))
	for i, l := range c.SourceLabels {
		switch {
		case string(l) == labels.MetricName && name.isExact():
			vals[i] = name.exact
		case string(l) != labels.MetricName && !ls.Has(string(l)):
			vals[i] = ""
		default:
			return "", false
		}
	}
	return strings.Join(vals, c.Separator), true
}

// alwaysMatches reports whether re matches every string.
func alwaysMatches(re relabel.Regexp) bool {
	s := re.String()
	return s == "(.*)" || s == ".*"
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// literalNames returns the label names re matches when it is a plain
// alternation of names ("engine", "a|b", "(a|b)").
func literalNames(re relabel.Regexp) ([]string, bool) {
	s := re.String()
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		s = s[1 : len(s)-1]
	}
	parts := strings.Split(s, "|")
	for _, p := range parts {
		if !labelNameRE.MatchString(p) {
			return nil, false
		}
	}
	return parts, true
}
