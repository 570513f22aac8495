package promrw

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reason says why a series (or some of its samples) was rejected. Its
// String form is the snake_case word used as the "reason" metric label.
type Reason uint8

// Reasons. ReasonNone is the zero value; the others are 1..NumReasons-1.
const (
	ReasonNone Reason = iota
	ReasonTooManyLabels
	ReasonLabelNameTooLong
	ReasonLabelValueTooLong
	ReasonInvalidLabelName
	ReasonInvalidLabelValue
	ReasonMissingMetricName
	ReasonDuplicateLabel
	ReasonNativeHistogramUnsupported
	NumReasons
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonTooManyLabels:
		return "too_many_labels"
	case ReasonLabelNameTooLong:
		return "label_name_too_long"
	case ReasonLabelValueTooLong:
		return "label_value_too_long"
	case ReasonInvalidLabelName:
		return "invalid_label_name"
	case ReasonInvalidLabelValue:
		return "invalid_label_value"
	case ReasonMissingMetricName:
		return "missing_metric_name"
	case ReasonDuplicateLabel:
		return "duplicate_label"
	case ReasonNativeHistogramUnsupported:
		return "native_histogram_unsupported"
	}
	return "reason_" + strconv.Itoa(int(r))
}

// MaxRejectionDetails is how many rejections a Result keeps in detail; the
// others are only counted.
const MaxRejectionDetails = 10

// Rejection describes one rejected series. Its strings are copies: they
// stay valid after the batch is reset.
type Rejection struct {
	// Series renders the series' labels as sent, like batch.String, with
	// long names and values and long label sets truncated.
	Series string
	Reason Reason
	// Samples is how many samples of the series were rejected (float and
	// histogram samples, or only histogram samples for
	// ReasonNativeHistogramUnsupported).
	Samples int
	// Detail says precisely what is wrong, e.g. "70 labels, limit 64".
	Detail string
}

// Result reports what Decode did with a request. Reuse it across calls to
// keep Decode allocation-free; Decode resets it first.
type Result struct {
	Series   int // series appended to the batch
	Samples  int // float samples appended to the batch
	Metadata int // metadata entries seen (they are not kept)

	// Rejected holds the first MaxRejectionDetails rejections in request
	// order; RejectedSeries counts them all.
	Rejected        []Rejection
	RejectedSeries  int
	RejectedSamples int
	// RejectedByReason counts rejected samples per Reason (index 0 unused).
	RejectedByReason [NumReasons]int
}

// Reset empties r, keeping the capacity of r.Rejected.
func (r *Result) Reset() {
	clear(r.Rejected)
	*r = Result{Rejected: r.Rejected[:0]}
}

// problem is what the parser remembers about a rejected series without
// allocating: the reason, the offending label name (aliasing the decoded
// body) and a number (a count or a length).
type problem struct {
	reason Reason
	name   string
	n      int
}

// reject records a rejection; detail and rendering happen only for the
// first MaxRejectionDetails.
func (r *Result) reject(pr problem, samples, floats int, raw []byte, lim Limits) {
	r.RejectedSeries++
	r.RejectedSamples += samples
	r.RejectedByReason[pr.reason] += samples
	if len(r.Rejected) >= MaxRejectionDetails {
		return
	}
	r.Rejected = append(r.Rejected, Rejection{
		Series:  renderSeries(raw),
		Reason:  pr.reason,
		Samples: samples,
		Detail:  detail(pr, floats, raw, lim),
	})
}

func detail(pr problem, floats int, raw []byte, lim Limits) string {
	switch pr.reason {
	case ReasonTooManyLabels:
		return fmt.Sprintf("%d labels, limit %d", pr.n, lim.MaxLabelsPerSeries)
	case ReasonLabelNameTooLong:
		return fmt.Sprintf("label name %s is %d bytes, limit %d", quote(pr.name), pr.n, lim.MaxLabelNameLength)
	case ReasonLabelValueTooLong:
		return fmt.Sprintf("value of label %s is %d bytes, limit %d", quote(pr.name), pr.n, lim.MaxLabelValueLength)
	case ReasonInvalidLabelName:
		if pr.name == "" {
			return "empty label name"
		}
		return fmt.Sprintf("label name %s is not valid UTF-8", quote(pr.name))
	case ReasonInvalidLabelValue:
		return fmt.Sprintf("value of label %s is not valid UTF-8", quote(pr.name))
	case ReasonMissingMetricName:
		return "no " + metricNameLabel + " label"
	case ReasonDuplicateLabel:
		return fmt.Sprintf("label %s appears more than once", quote(duplicateName(raw)))
	case ReasonNativeHistogramUnsupported:
		if floats == 0 {
			return fmt.Sprintf("%d native histogram samples dropped; the series has no float samples", pr.n)
		}
		return fmt.Sprintf("%d native histogram samples dropped; %d float samples kept", pr.n, floats)
	}
	return ""
}

// Rendering bounds: each name or value, and the whole series string.
const (
	maxRenderString = 64
	maxRenderSeries = 256
)

// forEachLabel calls f for the labels of a TimeSeries message that has
// already been parsed successfully.
func forEachLabel(raw []byte, f func(name, value string) bool) {
	for i := 0; i < len(raw); {
		num, wt, next, err := tag(raw, i)
		if err != nil {
			return
		}
		if num != 1 || wt != wireBytes {
			if i, err = skip(raw, next, wt); err != nil {
				return
			}
			continue
		}
		start, end, err := bytesField(raw, next)
		if err != nil {
			return
		}
		name, value, err := parseLabel(raw[start:end], start)
		if err != nil || !f(name, value) {
			return
		}
		i = end
	}
}

// renderSeries formats the labels of a TimeSeries message as sent:
// name{a="b", c="d"}, truncated to about maxRenderSeries bytes.
func renderSeries(raw []byte) string {
	var sb strings.Builder
	name := ""
	forEachLabel(raw, func(n, v string) bool {
		if n == metricNameLabel {
			name = v
			return false
		}
		return true
	})
	first := true
	if isLegacyName(name) {
		sb.WriteString(name)
		sb.WriteByte('{')
	} else {
		sb.WriteByte('{')
		if name != "" {
			sb.WriteString(quote(name))
			first = false
		}
	}
	forEachLabel(raw, func(n, v string) bool {
		if n == metricNameLabel {
			return true
		}
		if sb.Len() >= maxRenderSeries {
			sb.WriteString(", …")
			return false
		}
		if !first {
			sb.WriteString(", ")
		}
		first = false
		if isLegacyName(n) {
			sb.WriteString(n)
		} else {
			sb.WriteString(quote(n))
		}
		sb.WriteByte('=')
		sb.WriteString(quote(v))
		return true
	})
	sb.WriteByte('}')
	return sb.String()
}

// duplicateName returns a label name that appears twice (with non-empty
// values) in a TimeSeries message.
func duplicateName(raw []byte) string {
	var names []string
	forEachLabel(raw, func(n, v string) bool {
		if v != "" {
			names = append(names, n)
		}
		return true
	})
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return names[i]
		}
	}
	return ""
}

// quote quotes s for messages, truncated to maxRenderString bytes at a
// rune boundary.
func quote(s string) string {
	if len(s) <= maxRenderString {
		return strconv.Quote(s)
	}
	cut := maxRenderString
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
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
