package jsonevent

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// probCode says which detail message a problem gets.
type probCode uint8

const (
	probSyntax       probCode = iota + 1 // NDJSON line that is not JSON
	probParser                           // fastjson refused what the scanner accepted
	probNotObject                        // an event that is not an object
	probTooLong                          // over MaxLineBytes
	probUnmapped                         // no metric matched
	probTsType                           // timestamp of the wrong type
	probTsRFC3339                        // timestamp string that is not RFC 3339
	probTsRange                          // timestamp out of range
	probMissingValue                     // value field absent
	probValueType                        // value field of the wrong type
	probValueRange                       // value number out of float64 range
	probMissingLabel                     // label field absent
	probLabelType                        // label field of the wrong type
	probLimits                           // the series breaks a limit (CheckSeries)
)

// problem is what the decoder remembers about a rejected event, without
// allocating; detail turns it into a message only when it is kept. raw,
// labels and event alias parser or scratch memory: they are read before
// the next event and never stored.
type problem struct {
	reason outcome.Reason
	code   probCode
	slot   int
	metric string
	label  string
	got    fastjson.Type
	raw    []byte
	ms     int64
	tc     tsCode
	syn    synErr
	line   int // NDJSON line, 0 otherwise
	n      int
	text   string
	labels []batch.Label
	event  *fastjson.Value
}

// reject records the event idx with its samples as rejected for d.p.
func (d *decoder) reject(idx, samples int) {
	rej := outcome.Rejection{Item: idx, ItemKind: ItemKind, Reason: d.p.reason, Samples: samples}
	if d.res.WantDetail() {
		rej.Detail = d.detail(&d.p)
		if d.p.code == probLimits {
			rej.Series = outcome.RenderSeries(d.p.labels)
		}
	}
	d.res.Reject(rej)
}

// detail explains p. Every string it returns is a copy.
func (d *decoder) detail(p *problem) string {
	field := func() string { return "field " + outcome.Quote(d.m.pathNames[p.slot]) }
	linePrefix := ""
	if p.line > 0 {
		linePrefix = "line " + strconv.Itoa(p.line) + ": "
	}
	switch p.code {
	case probSyntax:
		if p.syn.code == synTail {
			return fmt.Sprintf("line %d, column %d: unexpected data after the event (NDJSON takes one event per line)", p.line, p.syn.off+1)
		}
		return fmt.Sprintf("line %d, column %d: invalid JSON: %s", p.line, p.syn.off+1, p.syn.message(p.raw))
	case probParser:
		return linePrefix + "cannot parse the event: " + p.text
	case probNotObject:
		return linePrefix + "want a JSON object, got " + typeName(p.got)
	case probTooLong:
		return fmt.Sprintf("%sevent is %d bytes, limit %d", linePrefix, p.n, d.lim.MaxLineBytes)
	case probUnmapped:
		return d.unmappedDetail(p.event)
	case probTsType:
		want := "want a number (unit " + d.m.tsUnit + ")"
		if d.m.tsRFC3339 {
			want = "want an RFC 3339 string"
		}
		if p.raw != nil {
			return fmt.Sprintf("%s: %s, got the string %s", field(), want, outcome.Quote(string(p.raw)))
		}
		return fmt.Sprintf("%s: %s, got %s", field(), want, typeName(p.got))
	case probTsRFC3339:
		return fmt.Sprintf("%s: %s is not an RFC 3339 time like 2024-11-03T08:15:49.123Z", field(), outcome.Quote(string(p.raw)))
	case probTsRange:
		shown := rawText(p.raw)
		if d.m.tsRFC3339 {
			shown = outcome.Quote(string(p.raw))
		} else {
			shown += " " + d.m.tsUnit
		}
		switch p.tc {
		case tsNegative:
			return fmt.Sprintf("%s: negative timestamp %s", field(), shown)
		case tsTooLarge:
			return fmt.Sprintf("%s: %s is after %s", field(), shown, maxTimeText)
		}
		return fmt.Sprintf("%s: %s is %s, outside %s..%s", field(), shown, formatMs(p.ms), minTimeText, maxTimeText)
	case probMissingValue:
		return fmt.Sprintf("%s is missing (the value of %s)", field(), p.metric)
	case probValueType:
		return fmt.Sprintf("%s: want a number, got %s", field(), typeName(p.got))
	case probValueRange:
		return fmt.Sprintf("%s: number %s is out of range", field(), rawText(p.raw))
	case probMissingLabel:
		return fmt.Sprintf("%s is missing (label %s of %s)", field(), p.label, p.metric)
	case probLabelType:
		return fmt.Sprintf("%s: want a string, number or bool for label %s, got %s", field(), p.label, typeName(p.got))
	case probLimits:
		return d.lim.SeriesDetail(p.reason, p.labels, p.n)
	}
	return p.reason.String()
}

// maxUnmappedFields bounds the fields an unmapped detail shows.
const maxUnmappedFields = 4

// unmappedDetail shows what the `when` fields of an unmapped event hold.
func (d *decoder) unmappedDetail(v *fastjson.Value) string {
	var sb strings.Builder
	sb.WriteString("no metric matches the event")
	for k, si := range d.m.whenSlots {
		if k == maxUnmappedFields {
			sb.WriteString(", …")
			break
		}
		if k == 0 {
			sb.WriteString(" (")
		} else {
			sb.WriteString(", ")
		}
		sb.WriteString(outcome.Quote(d.m.pathNames[si]))
		sb.WriteString(": ")
		fv := v.Get(d.m.paths[si]...)
		switch {
		case fv == nil:
			sb.WriteString("absent")
		case fv.Type() == fastjson.TypeString:
			bs, _ := fv.StringBytes()
			sb.WriteString(outcome.Quote(string(bs)))
		default:
			sb.WriteString(rawText(fv.MarshalTo(nil)))
		}
	}
	if len(d.m.whenSlots) > 0 {
		sb.WriteByte(')')
	}
	return sb.String()
}

// rawText copies JSON text for a message, truncated to 64 bytes.
func rawText(b []byte) string {
	const limit = 64
	if len(b) <= limit {
		return string(b)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return string(b[:cut]) + "…"
}

func typeName(t fastjson.Type) string {
	switch t {
	case fastjson.TypeString:
		return "a string"
	case fastjson.TypeNumber:
		return "a number"
	case fastjson.TypeObject:
		return "an object"
	case fastjson.TypeArray:
		return "an array"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "a bool"
	case fastjson.TypeNull:
		return "null"
	}
	return "an unknown type"
}
