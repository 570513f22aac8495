// Package rules compiles the user's filtering and relabeling rules into
// immutable objects that are safe for concurrent use.
//
// Selector is a PromQL series selector, optionally compared with a number:
//
//	vehicle_rpm                       every series named vehicle_rpm
//	{__name__=~"cpu_.*", env!="dev"}  any PromQL matchers
//	vehicle_rpm != 0                  the same series; only samples != 0 count
//
// The selector part decides which series match; the comparison filters
// samples, as a PromQL comparison without "bool" filters vector elements.
// A metric name equality is tested first, so a series of another metric
// costs one string comparison.
//
// # Relabeling
//
// Relabeler applies Prometheus relabel_configs (validated by Prometheus'
// own model/relabel, with every action: replace, keep, drop, keepequal,
// dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase,
// uppercase) with the semantics of relabel.ProcessBuilder over the sorted
// label set, including the order in which labelmap visits labels. It does
// not build a labels.Builder: each config is compiled into a step that
// edits a sorted []batch.Label in place. The tests compare every action
// and thousands of random chains with Prometheus.
//
// Regular expressions keep Prometheus' anchoring (^(?s:regex)$). A regex
// that only has to match (keep, drop, labeldrop, labelkeep, and replace
// without $ references) is tested, in this order, by the set of bytes a
// match can start with (labeldrop of `build_.*` costs one table lookup
// for a label not starting with "b"), by a direct string test for
// literals, literal prefixes and suffixes with .*, and alternations of
// those, or by Prometheus' FastRegexMatcher, falling back to the regex
// engine for anything that may match U+FFFD (the engine reads every
// invalid UTF-8 byte as U+FFFD; a byte comparison would not).
//
// Allocation. Apply and ApplyInPlace allocate nothing for keep, drop,
// keepequal, dropequal, labeldrop, labelkeep, hashmod (results below 4096
// are preformatted), replace with a literal replacement or $1 of (.*),
// and lowercase/uppercase of an ASCII value already in that case. A new
// string is allocated only for a new value: replace with a template,
// lowercase/uppercase that change the value, a source_labels join that
// becomes a value. Template replacements and labelmap names are memoised
// per rule (up to 4096 distinct inputs, published copy-on-write), so
// steady-state relabeling of recurring values does not allocate either.
//
// Memory ownership. Result label strings alias the input labels, the
// compiled rules, or new memory; a caller that keeps them beyond the
// lifetime of its input must clone them (see package batch).
// ApplyInPlace edits its input slice: removals and value replacements
// happen in place, and only a label added beyond the slice's capacity
// moves the set into the caller's buffer.
package rules
