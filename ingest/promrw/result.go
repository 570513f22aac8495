package promrw

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/premetrics/premetrics/ingest/outcome"
)

// itemKind names a Rejection's Item: the 0-based index of the TimeSeries
// in the request.
const itemKind = "series"

// problem is what the parser remembers about a rejected series without
// allocating: the reason, the offending label (aliasing the decoded body)
// and a number (a count, or the bad reference of a 2.0 series).
type problem struct {
	reason      outcome.Reason
	name, value string
	n           int
	// For ReasonMalformed (2.0 only): which structural fault, and the
	// bad reference and its index in labels_refs.
	fault faultKind
	ref   uint64
	index int
}

// faultKind says what is structurally wrong with a 2.0 series' labels.
type faultKind uint8

const (
	faultNone       faultKind = iota
	faultRefOutside           // a label reference past the symbol table
	faultOddRefs              // an odd number of label references; n is the count
)

// rejection builds the Rejection of series item, rendering labels (as
// sent) and the detail. Call it only when Result.WantDetail.
func rejection(pr problem, item, samples, floats int, labels iter.Seq2[string, string], lim outcome.Limits, symbols int) outcome.Rejection {
	return outcome.Rejection{
		Item:     item,
		ItemKind: itemKind,
		Series:   renderSeries(labels),
		Reason:   pr.reason,
		Samples:  samples,
		Detail:   detail(pr, floats, labels, lim, symbols),
	}
}

// detail explains pr; floats is the series' float sample count, symbols
// the size of a 2.0 request's symbol table.
func detail(pr problem, floats int, labels iter.Seq2[string, string], lim outcome.Limits, symbols int) string {
	switch pr.reason {
	case outcome.ReasonTooManyLabels:
		return fmt.Sprintf("%d labels, limit %d", pr.n, lim.MaxLabelsPerSeries)
	case outcome.ReasonLabelNameTooLong, outcome.ReasonLabelValueTooLong,
		outcome.ReasonInvalidLabelName, outcome.ReasonInvalidLabelValue:
		return lim.LabelDetail(pr.reason, pr.name, pr.value)
	case outcome.ReasonMissingMetricName:
		return "no " + metricNameLabel + " label"
	case outcome.ReasonDuplicateLabel:
		return "label " + outcome.Quote(duplicateName(labels)) + " appears more than once"
	case outcome.ReasonNativeHistogramUnsupported:
		if floats == 0 {
			return fmt.Sprintf("%d native histogram samples dropped; the series has no float samples", pr.n)
		}
		return fmt.Sprintf("%d native histogram samples dropped; %d float samples kept", pr.n, floats)
	case outcome.ReasonMalformed:
		switch pr.fault {
		case faultRefOutside:
			return fmt.Sprintf("labels_refs[%d] is %d, outside the symbol table of %d symbols", pr.index, pr.ref, symbols)
		case faultOddRefs:
			return fmt.Sprintf("%d labels_refs: want name/value pairs, an even number", pr.n)
		}
	}
	return pr.reason.String()
}

// Rendering bounds: each name or value (outcome.Quote's), and the whole
// series string.
const (
	maxRenderString = 64
	maxRenderSeries = 256
)

// renderSeries formats labels as sent: name{a="b", c="d"}, truncated to
// about maxRenderSeries bytes.
func renderSeries(labels iter.Seq2[string, string]) string {
	var sb strings.Builder
	name := ""
	for n, v := range labels {
		if n == metricNameLabel {
			name = v
			break
		}
	}
	first := true
	if isLegacyName(name) {
		sb.WriteString(name)
		sb.WriteByte('{')
	} else {
		sb.WriteByte('{')
		if name != "" {
			sb.WriteString(outcome.Quote(name))
			first = false
		}
	}
	for n, v := range labels {
		if n == metricNameLabel {
			continue
		}
		if sb.Len() >= maxRenderSeries {
			sb.WriteString(", …")
			break
		}
		if !first {
			sb.WriteString(", ")
		}
		first = false
		if isLegacyName(n) {
			sb.WriteString(n)
		} else {
			sb.WriteString(outcome.Quote(n))
		}
		sb.WriteByte('=')
		sb.WriteString(outcome.Quote(v))
	}
	sb.WriteByte('}')
	return sb.String()
}

// duplicateName returns a label name that appears twice (with non-empty
// values) in labels.
func duplicateName(labels iter.Seq2[string, string]) string {
	var names []string
	for n, v := range labels {
		if v != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return names[i]
		}
	}
	return ""
}

// isLegacyName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]* and
// can be printed unquoted.
func isLegacyName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}
