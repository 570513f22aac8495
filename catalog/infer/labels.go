package infer

import (
	"slices"
	"strings"
)

// metricName is the label that holds the metric name. Labels never
// contains it: the name of a series is not one of its labels here.
const metricName = "__name__"

// Labels is what is known of the label names the series of a family (or
// of an expression's result) can carry, the metric name aside: either a
// closed set (no series has a label outside it) or an open one (a series
// may have any label but a few known to be absent). A label in the set
// may be missing from some series; one outside it is on none. The zero
// value is the closed empty set: series with no labels but their name.
type Labels struct {
	open bool
	// names is sorted and unique: closed, the labels series may have;
	// open, the labels no series has.
	names []string
}

// Closed returns the closed set of names.
func Closed(names ...string) Labels {
	return Labels{names: normalize(names)}
}

// Open returns the open set: any label but the except ones.
func Open(except ...string) Labels {
	return Labels{open: true, names: normalize(except)}
}

// normalize returns names sorted and unique, without the metric name and
// without empty names, in a new slice.
func normalize(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" && n != metricName {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// IsOpen reports whether the series may have labels not known in advance.
func (l Labels) IsOpen() bool { return l.open }

// Has reports whether a series may carry label name. The metric name is
// always there.
func (l Labels) Has(name string) bool {
	if name == metricName {
		return true
	}
	_, found := slices.BinarySearch(l.names, name)
	return found != l.open
}

// Names returns, for a closed set, the labels series may have; for an
// open one, the labels known to be absent. The caller owns the slice.
func (l Labels) Names() []string { return slices.Clone(l.names) }

// Add returns l with names possible too.
func (l Labels) Add(names ...string) Labels {
	names = normalize(names)
	if l.open {
		return Labels{open: true, names: minus(l.names, names)}
	}
	return Labels{names: union(l.names, names)}
}

// Drop returns l without names.
func (l Labels) Drop(names ...string) Labels {
	names = normalize(names)
	if l.open {
		return Labels{open: true, names: union(l.names, names)}
	}
	return Labels{names: minus(l.names, names)}
}

// Keep returns the closed set of the names that l has.
func (l Labels) Keep(names ...string) Labels {
	var out []string
	for _, n := range normalize(names) {
		if l.Has(n) {
			out = append(out, n)
		}
	}
	return Labels{names: out}
}

// DropMatching returns l without the labels for which match is true. An
// open set stays as it is: which of its unknown labels match cannot be
// told, so it may still have any of them.
func (l Labels) DropMatching(match func(string) bool) Labels {
	if l.open {
		return l
	}
	return Labels{names: slices.DeleteFunc(slices.Clone(l.names), match)}
}

// KeepMatching returns l with only the labels for which match is true
// (an open set stays open, see DropMatching).
func (l Labels) KeepMatching(match func(string) bool) Labels {
	if l.open {
		return l
	}
	return l.DropMatching(func(n string) bool { return !match(n) })
}

// Union returns the labels a series of a or of b may have.
func Union(a, b Labels) Labels {
	switch {
	case a.open && b.open:
		return Labels{open: true, names: intersect(a.names, b.names)}
	case a.open:
		return Labels{open: true, names: minus(a.names, b.names)}
	case b.open:
		return Labels{open: true, names: minus(b.names, a.names)}
	}
	return Labels{names: union(a.names, b.names)}
}

// Equal reports whether l and o are the same set.
func (l Labels) Equal(o Labels) bool {
	return l.open == o.open && slices.Equal(l.names, o.names)
}

// String formats l for messages: "{model, region}", "{}", "any label",
// "any label but vehicle_id".
func (l Labels) String() string {
	switch {
	case l.open && len(l.names) == 0:
		return "any label"
	case l.open:
		return "any label but " + strings.Join(l.names, ", ")
	}
	return "{" + strings.Join(l.names, ", ") + "}"
}

// why explains, for a message about a label that l lacks, what l is:
// "keeps only model, region", "keeps no labels", "removes vehicle_id".
func (l Labels) why() string {
	switch {
	case l.open:
		return "removes " + strings.Join(l.names, ", ")
	case len(l.names) == 0:
		return "keeps no labels"
	}
	return "keeps only " + strings.Join(l.names, ", ")
}

// union, minus and intersect work on sorted, unique slices and return new
// ones.
func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

func minus(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, n := range a {
		if _, found := slices.BinarySearch(b, n); !found {
			out = append(out, n)
		}
	}
	return out
}

func intersect(a, b []string) []string {
	out := make([]string, 0, min(len(a), len(b)))
	for _, n := range a {
		if _, found := slices.BinarySearch(b, n); found {
			out = append(out, n)
		}
	}
	return out
}
