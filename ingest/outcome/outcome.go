package outcome

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/premetrics/premetrics/batch"
)

// Reason says why an item (or some of its samples) was rejected. Its
// String form is the snake_case word used as the "reason" metric label.
type Reason uint8

// Reasons. ReasonNone is the zero value; the others are 1..NumReasons-1.
const (
	ReasonNone Reason = iota
	// Label problems, checked by Limits.CheckLabel and CheckSeries.
	ReasonTooManyLabels
	ReasonLabelNameTooLong
	ReasonLabelValueTooLong
	ReasonInvalidLabelName
	ReasonInvalidLabelValue
	ReasonMissingMetricName
	ReasonDuplicateLabel
	// ReasonNativeHistogramUnsupported: native histogram samples that
	// premetrics cannot aggregate yet.
	ReasonNativeHistogramUnsupported
	// ReasonMalformed: an item that does not parse (an Influx or text
	// line, a JSON event that is not an object).
	ReasonMalformed
	// ReasonLineTooLong: a line over Limits.MaxLineBytes.
	ReasonLineTooLong
	// ReasonMissingField: a field the mapping needs is absent.
	ReasonMissingField
	// ReasonWrongType: a field has the wrong type (a string where a
	// number is needed, an object where a label value is needed).
	ReasonWrongType
	// ReasonBadTimestamp: a timestamp that does not parse or is out of
	// range.
	ReasonBadTimestamp
	// ReasonBadValue: a sample value that does not parse.
	ReasonBadValue
	// ReasonUnmapped: a JSON event that no metric mapping's `when`
	// selects.
	ReasonUnmapped
	// ReasonUnsupported: a well-formed item of a kind premetrics does not
	// take (for example an OTLP exponential histogram).
	ReasonUnsupported
	NumReasons
)

var reasonNames = [NumReasons]string{
	ReasonNone:                       "none",
	ReasonTooManyLabels:              "too_many_labels",
	ReasonLabelNameTooLong:           "label_name_too_long",
	ReasonLabelValueTooLong:          "label_value_too_long",
	ReasonInvalidLabelName:           "invalid_label_name",
	ReasonInvalidLabelValue:          "invalid_label_value",
	ReasonMissingMetricName:          "missing_metric_name",
	ReasonDuplicateLabel:             "duplicate_label",
	ReasonNativeHistogramUnsupported: "native_histogram_unsupported",
	ReasonMalformed:                  "malformed",
	ReasonLineTooLong:                "line_too_long",
	ReasonMissingField:               "missing_field",
	ReasonWrongType:                  "wrong_type",
	ReasonBadTimestamp:               "bad_timestamp",
	ReasonBadValue:                   "bad_value",
	ReasonUnmapped:                   "unmapped",
	ReasonUnsupported:                "unsupported",
}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "reason_" + strconv.Itoa(int(r))
}

// MaxRejectionDetails is how many rejections a Result keeps in detail; the
// others are only counted.
const MaxRejectionDetails = 10

// Rejection describes one rejected item. Its strings are copies: they stay
// valid after the batch is reset.
type Rejection struct {
	// Item locates the item in the request; its meaning is the decoder's
	// (see the package doc), and ItemKind names it ("line", "event").
	Item     int
	ItemKind string
	// Series renders the labels of the series concerned, when known, like
	// batch.String (truncated when long).
	Series string
	Reason Reason
	// Samples is how many samples were rejected with the item.
	Samples int
	// Detail says precisely what is wrong, e.g. "70 labels, limit 64" or
	// `field "speed": want a number, got a string`.
	Detail string
}

// Result reports what one Decode did. Reuse it across calls; the decoder
// resets it first.
type Result struct {
	Items    int // items seen: series, lines, events or data points
	Series   int // series appended to the batch
	Samples  int // samples appended to the batch
	Metadata int // metadata entries seen (they are not kept)

	// Rejected holds the first MaxRejectionDetails rejections in request
	// order; RejectedItems counts them all.
	Rejected        []Rejection
	RejectedItems   int
	RejectedSamples int
	// RejectedByReason counts rejected samples per Reason (index 0
	// unused). An item rejected before its samples could be counted (a
	// line that does not parse) counts as one sample, so that every
	// rejection shows in the metrics.
	RejectedByReason [NumReasons]int
}

// Reset empties r, keeping the capacity of r.Rejected.
func (r *Result) Reset() {
	clear(r.Rejected)
	*r = Result{Rejected: r.Rejected[:0]}
}

// WantDetail reports whether the next rejection is kept in detail, so a
// decoder builds the Series and Detail strings only when they are kept.
func (r *Result) WantDetail() bool { return len(r.Rejected) < MaxRejectionDetails }

// Reject counts a rejected item with its samples (at least 1 is counted
// per reason, see Result) and keeps rej in detail while WantDetail. Call
// it once per rejected item.
func (r *Result) Reject(rej Rejection) {
	r.RejectedItems++
	r.count(rej.Reason, rej.Samples)
	if r.WantDetail() {
		r.Rejected = append(r.Rejected, rej)
	}
}

func (r *Result) count(reason Reason, samples int) {
	r.RejectedSamples += samples
	r.RejectedByReason[reason] += max(samples, 1)
}

// Message is the body of a 400 answer to a partly accepted request: a
// summary line first (senders log the start of the body), then the first
// rejections, one per line.
func (r *Result) Message(protocol string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s: accepted %d samples of %d series; rejected %d items (%d samples)",
		protocol, r.Samples, r.Series, r.RejectedItems, r.RejectedSamples)
	for _, rej := range r.Rejected {
		sb.WriteByte('\n')
		if rej.ItemKind != "" {
			fmt.Fprintf(&sb, "%s %d: ", rej.ItemKind, rej.Item)
		}
		if rej.Series != "" {
			sb.WriteString(rej.Series)
			sb.WriteString(": ")
		}
		sb.WriteString(rej.Reason.String())
		if rej.Detail != "" {
			sb.WriteString(": ")
			sb.WriteString(rej.Detail)
		}
	}
	if more := r.RejectedItems - len(r.Rejected); more > 0 {
		fmt.Fprintf(&sb, "\n... and %d more rejected items", more)
	}
	return sb.String()
}

// Limits bound what one series (and one line) may carry. A value <= 0
// disables that limit.
type Limits struct {
	MaxLabelsPerSeries  int // labels with non-empty values
	MaxLabelNameLength  int // bytes
	MaxLabelValueLength int // bytes
	MaxDecodedBytes     int // decompressed body size
	MaxLineBytes        int // one line of a line protocol
}

// CheckLabel validates one label with a non-empty value.
func (l Limits) CheckLabel(name, value string) Reason {
	switch {
	case name == "" || !utf8.ValidString(name):
		return ReasonInvalidLabelName
	case l.MaxLabelNameLength > 0 && len(name) > l.MaxLabelNameLength:
		return ReasonLabelNameTooLong
	case l.MaxLabelValueLength > 0 && len(value) > l.MaxLabelValueLength:
		return ReasonLabelValueTooLong
	case !utf8.ValidString(value):
		return ReasonInvalidLabelValue
	}
	return ReasonNone
}

// CheckSeries validates a finished series' labels (sorted, so duplicates
// are adjacent; empty values already dropped): every label, the count
// and the metric name. It returns the first problem and a detail saying
// what and where, built only when the problem is not ReasonNone.
func (l Limits) CheckSeries(ls []batch.Label) (Reason, string) {
	reason, at := l.Check(ls)
	if reason == ReasonNone {
		return ReasonNone, ""
	}
	return reason, l.SeriesDetail(reason, ls, at)
}

// Check is CheckSeries without the detail, which costs an allocation: it
// returns the first problem and the index of the label at fault (-1 when
// the problem is the series as a whole). A decoder that keeps no more
// details (Result.WantDetail is false) calls this alone.
func (l Limits) Check(ls []batch.Label) (Reason, int) {
	if l.MaxLabelsPerSeries > 0 && len(ls) > l.MaxLabelsPerSeries {
		return ReasonTooManyLabels, -1
	}
	hasName := false
	for i := range ls {
		if reason := l.CheckLabel(ls[i].Name, ls[i].Value); reason != ReasonNone {
			return reason, i
		}
		if i > 0 && ls[i].Name == ls[i-1].Name {
			return ReasonDuplicateLabel, i
		}
		hasName = hasName || ls[i].Name == batch.MetricName
	}
	if !hasName {
		return ReasonMissingMetricName, -1
	}
	return ReasonNone, -1
}

// SeriesDetail explains a problem Check found at label index at of ls.
func (l Limits) SeriesDetail(reason Reason, ls []batch.Label, at int) string {
	switch reason {
	case ReasonTooManyLabels:
		return fmt.Sprintf("%d labels, limit %d", len(ls), l.MaxLabelsPerSeries)
	case ReasonMissingMetricName:
		return "no " + batch.MetricName + " label"
	case ReasonDuplicateLabel:
		return "label " + Quote(ls[at].Name) + " appears more than once"
	}
	if at >= 0 && at < len(ls) {
		return l.LabelDetail(reason, ls[at].Name, ls[at].Value)
	}
	return reason.String()
}

// LabelDetail explains a Reason returned by CheckLabel for name=value.
func (l Limits) LabelDetail(reason Reason, name, value string) string {
	switch reason {
	case ReasonInvalidLabelName:
		if name == "" {
			return "empty label name"
		}
		return "label name " + Quote(name) + " is not valid UTF-8"
	case ReasonLabelNameTooLong:
		return fmt.Sprintf("label name %s is %d bytes, limit %d", Quote(name), len(name), l.MaxLabelNameLength)
	case ReasonLabelValueTooLong:
		return fmt.Sprintf("value of label %s is %d bytes, limit %d", Quote(name), len(value), l.MaxLabelValueLength)
	case ReasonInvalidLabelValue:
		return "value of label " + Quote(name) + " is not valid UTF-8"
	}
	return reason.String()
}

// maxQuote bounds strings quoted into messages.
const maxQuote = 64

// Quote quotes s for a message, truncated to 64 bytes at a rune boundary.
func Quote(s string) string {
	if len(s) <= maxQuote {
		return strconv.Quote(s)
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// maxRender bounds a rendered series.
const maxRender = 256

// RenderSeries renders ls for a Rejection, like batch.String but
// truncated to about 256 bytes.
func RenderSeries(ls []batch.Label) string {
	s := batch.String(ls)
	if len(s) <= maxRender {
		return s
	}
	cut := maxRender
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…}"
}

// Sentinels matched (errors.Is) by an *Error of the same Kind.
var (
	ErrMalformed   = errors.New("malformed")
	ErrTooLarge    = errors.New("too large")
	ErrUnsupported = errors.New("unsupported")
)

// Kind classifies an Error: 400 for KindMalformed, 413 for KindTooLarge,
// 415 for KindUnsupported.
type Kind uint8

const (
	KindMalformed Kind = iota
	KindTooLarge
	KindUnsupported
)

// Error is a request that cannot be decoded at all; nothing of it was kept.
type Error struct {
	Kind Kind
	// Where locates the problem ("byte 1234", "line 7", "event 3"), or "".
	Where string
	Msg   string
}

func (e *Error) Error() string {
	if e.Where == "" {
		return e.Msg
	}
	return e.Where + ": " + e.Msg
}

// Is makes errors.Is(err, ErrTooLarge) true for KindTooLarge, and so on.
func (e *Error) Is(target error) bool {
	switch e.Kind {
	case KindMalformed:
		return target == ErrMalformed
	case KindTooLarge:
		return target == ErrTooLarge
	case KindUnsupported:
		return target == ErrUnsupported
	}
	return false
}

// Errorf returns an *Error of kind at where.
func Errorf(kind Kind, where, format string, args ...any) *Error {
	return &Error{Kind: kind, Where: where, Msg: fmt.Sprintf(format, args...)}
}
