package influx

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/lines"
	"github.com/premetrics/premetrics/ingest/internal/promname"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// ItemKind names the items of this protocol in rejections.
const ItemKind = "line"

// Options are the per-request parameters of Decode.
type Options struct {
	// Precision is the unit of the line timestamps (the precision query
	// parameter, see ParsePrecision).
	Precision Precision
	// Now is the receive time in Unix milliseconds: the timestamp of the
	// lines that have none.
	Now int64
}

// Decode parses body, Influx line protocol, and appends one series per
// numeric field of every valid line to b (see the package doc for the
// mapping and ownership). res is reset and then counts the lines (Items),
// the series and samples appended, and every rejected line with its
// 1-based number.
//
// Lines are independent: a bad line is rejected on its own and the others
// are kept. Decode returns an *outcome.Error only for a request it cannot
// use at all: a body over lim.MaxDecodedBytes (ErrTooLarge) or an invalid
// opts.Precision (ErrMalformed); then b has the same series as before.
func Decode(body []byte, b *batch.Batch, lim outcome.Limits, opts Options, res *outcome.Result) error {
	res.Reset()
	if opts.Precision >= numPrecisions {
		return outcome.Errorf(outcome.KindMalformed, "", "invalid precision %d", opts.Precision)
	}
	if lim.MaxDecodedBytes > 0 && len(body) > lim.MaxDecodedBytes {
		return outcome.Errorf(outcome.KindTooLarge, "", "body is %d bytes, limit %d", len(body), lim.MaxDecodedBytes)
	}
	if len(body) == 0 {
		return nil
	}
	// The label strings alias this copy: body is the caller's to reuse.
	data := b.Bytes(len(body))
	copy(data, body)
	p := parser{b: b, lim: lim, opts: opts, res: res}
	for sc := lines.New(data); ; {
		text, n, ok := sc.Next()
		if !ok {
			break
		}
		p.line(text, n)
	}
	return nil
}

// The metric names of the previous lines are remembered per measurement
// (nameGroups of them, chosen by a hash of the measurement) and field
// position (the first groupFields fields): the lines of one measurement
// (Telegraf's cpu0, cpu1, ...) share their names instead of building
// them again in the arena.
const (
	nameGroups  = 8
	groupFields = 16
)

type nameGroup struct {
	meas  string
	keys  [groupFields]string
	names [groupFields]string
}

type parser struct {
	b     *batch.Batch
	lim   outcome.Limits
	opts  Options
	res   *outcome.Result
	cache [nameGroups]nameGroup
}

// line is one line cut into its sections, as offsets into s.
type line struct {
	s    []byte // the line after its leading blanks
	col0 int    // the number of leading blanks

	measEnd            int
	tagsStart, tagsEnd int // tagsStart == tagsEnd: no tags
	fieldsStart        int
	fieldsEnd          int
	tsStart, tsEnd     int // tsStart == tsEnd: no timestamp
	numeric            int // fields that are not strings
}

// problem is a rejected line; its detail is rendered only when kept.
type problem struct {
	reason  outcome.Reason
	col     int    // 1-based column in the line, or 0
	field   []byte // raw key of the field concerned, or nil
	msg     string
	tok     []byte // quoted after msg when hasTok
	hasTok  bool
	tail    string // after tok
	series  string
	samples int
}

func (pr *problem) detail() string {
	var sb strings.Builder
	if pr.col > 0 {
		fmt.Fprintf(&sb, "column %d: ", pr.col)
	}
	if pr.field != nil {
		sb.WriteString("field ")
		sb.WriteString(outcome.Quote(unescapeString(pr.field)))
		sb.WriteString(": ")
	}
	sb.WriteString(pr.msg)
	if pr.hasTok {
		sb.WriteByte(' ')
		sb.WriteString(outcome.Quote(string(pr.tok)))
	}
	sb.WriteString(pr.tail)
	return sb.String()
}

func (p *parser) reject(n int, pr *problem) {
	rej := outcome.Rejection{Item: n, ItemKind: ItemKind, Reason: pr.reason, Samples: pr.samples}
	if p.res.WantDetail() {
		rej.Detail = pr.detail()
		rej.Series = pr.series
	}
	p.res.Reject(rej)
}

func (p *parser) line(text []byte, n int) {
	i := 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	if i == len(text) || text[i] == '#' {
		return // blank line or comment
	}
	p.res.Items++
	if p.lim.MaxLineBytes > 0 && len(text) > p.lim.MaxLineBytes {
		pr := problem{reason: outcome.ReasonLineTooLong}
		if p.res.WantDetail() {
			pr.msg = fmt.Sprintf("line is %d bytes, limit %d", len(text), p.lim.MaxLineBytes)
		}
		p.reject(n, &pr)
		return
	}
	l := line{s: text[i:], col0: i}
	if pr := l.split(); pr.reason != outcome.ReasonNone {
		p.reject(n, &pr)
		return
	}
	if l.numeric == 0 {
		return // only string fields: nothing to keep, nothing lost
	}
	ts, pr := p.timestamp(&l)
	if pr.reason != outcome.ReasonNone {
		p.reject(n, &pr)
		return
	}
	if pr := p.emit(&l, ts); pr.reason != outcome.ReasonNone {
		p.reject(n, &pr)
	}
}

// split finds the sections of l.s and checks their syntax; the field
// values are parsed later, by emit.
//
//	measurement[,tag=value...] field=value[,field=value...] [timestamp]
func (l *line) split() problem {
	s := l.s
	malformed := func(at int, msg string) problem {
		return problem{reason: outcome.ReasonMalformed, col: l.col0 + at + 1, msg: msg}
	}
	i := scanMeasurement(s, 0)
	if i == 0 {
		return malformed(0, "missing measurement")
	}
	l.measEnd = i
	l.tagsStart, l.tagsEnd = i, i
	if i < len(s) && s[i] == ',' {
		i++
		l.tagsStart = i
		for {
			k := scanKey(s, i)
			if k == i {
				return malformed(i, "missing tag key")
			}
			if k == len(s) || s[k] != '=' {
				pr := malformed(k, `missing "=" after tag key`)
				pr.tok, pr.hasTok = s[i:k], true
				return pr
			}
			v := scanKey(s, k+1)
			if v < len(s) && s[v] == '=' {
				return malformed(v, `unescaped "=" in tag value`)
			}
			i = v
			if i < len(s) && s[i] == ',' {
				i++
				continue
			}
			break
		}
		l.tagsEnd = i
	}
	// s[i] is a space or the end.
	f := skipSpaces(s, i)
	if f == len(s) {
		return malformed(i, "missing fields")
	}
	l.fieldsStart = f
	for i = f; ; {
		k := scanKey(s, i)
		if k == i {
			return malformed(i, "missing field key")
		}
		if k == len(s) || s[k] != '=' {
			pr := malformed(k, `missing "=" after field key`)
			pr.tok, pr.hasTok = s[i:k], true
			return pr
		}
		key := s[i:k]
		j := k + 1
		if j < len(s) && s[j] == '"' {
			e, ok := scanString(s, j)
			if !ok {
				pr := malformed(j, "unterminated string")
				pr.field = key
				return pr
			}
			if e < len(s) && s[e] != ',' && s[e] != ' ' {
				pr := malformed(e, "unexpected text after string")
				pr.field = key
				return pr
			}
			j = e
		} else {
			e := scanBare(s, j)
			if e == j {
				pr := malformed(j, "missing value")
				pr.field = key
				return pr
			}
			l.numeric++
			j = e
		}
		i = j
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		break
	}
	l.fieldsEnd = i
	t := skipSpaces(s, i)
	e := t
	for e < len(s) && s[e] != ' ' {
		e++
	}
	l.tsStart, l.tsEnd = t, e
	if r := skipSpaces(s, e); r != len(s) {
		return malformed(r, "unexpected text after timestamp")
	}
	return problem{}
}

var rangeTail = func() (m [numPrecisions]string) {
	for p := range m {
		m[p] = " out of range at precision " + Precision(p).String()
	}
	return m
}()

// timestamp returns the line's timestamp in Unix milliseconds.
func (p *parser) timestamp(l *line) (int64, problem) {
	if l.tsStart == l.tsEnd {
		return p.opts.Now, problem{}
	}
	tok := l.s[l.tsStart:l.tsEnd]
	pr := problem{reason: outcome.ReasonBadTimestamp, col: l.col0 + l.tsStart + 1, tok: tok, hasTok: true, samples: l.numeric}
	raw, tp := parseTimestamp(tok)
	switch tp {
	case tsSyntax:
		pr.msg = "invalid timestamp"
		return 0, pr
	case tsNegative:
		pr.msg, pr.tail = "timestamp", " is negative (before 1970)"
		return 0, pr
	case tsRange:
		pr.msg, pr.tail = "timestamp", " out of range"
		return 0, pr
	}
	ms, ok := toMillis(raw, p.opts.Precision)
	if !ok {
		pr.msg, pr.tail = "timestamp", rangeTail[p.opts.Precision]
		return 0, pr
	}
	return ms, problem{}
}

// emit appends one series per numeric field of l, all with l's tags and
// the sample (ts, value). On a problem it removes what it appended.
func (p *parser) emit(l *line, ts int64) problem {
	b := p.b
	before := len(b.Series)
	fail := func(pr problem) problem {
		clear(b.Series[before:])
		b.Series = b.Series[:before]
		pr.samples = l.numeric
		return pr
	}
	s := l.s[:l.fieldsEnd]
	meas := s[:l.measEnd]
	g := p.nameGroup(meas)
	var first []batch.Label // labels of the line's first series
	nameIdx := 0
	j := 0 // numeric fields emitted
	for i := l.fieldsStart; i < len(s); {
		k := scanKey(s, i)
		key := s[i:k]
		v := k + 1
		if s[v] == '"' {
			e, _ := scanString(s, v)
			i = e + 1
			continue
		}
		e := scanBare(s, v)
		i = e + 1
		f, vp := parseValue(s[v:e])
		if vp != valueOK {
			return fail(problem{reason: outcome.ReasonBadValue, col: l.col0 + v + 1, field: key,
				msg: valueProblemText[vp].msg, tok: s[v:e], hasTok: true, tail: valueProblemText[vp].tail})
		}
		name := p.metricName(g, j, meas, key)
		j++
		if first == nil {
			b.StartSeries()
			b.AddLabel(batch.MetricName, name)
			p.addTags(l.s[l.tagsStart:l.tagsEnd])
			b.AddSample(ts, f)
			if !b.FinishSeries() {
				pr := problem{reason: outcome.ReasonDuplicateLabel}
				if p.res.WantDetail() {
					pr.msg = duplicateDetail(l.s[l.tagsStart:l.tagsEnd])
				}
				return fail(pr)
			}
			first = b.Series[len(b.Series)-1].Labels
			if reason, at := p.lim.Check(first); reason != outcome.ReasonNone {
				pr := problem{reason: reason}
				if p.res.WantDetail() {
					pr.series, pr.msg = outcome.RenderSeries(first), p.lim.SeriesDetail(reason, first, at)
				}
				return fail(pr)
			}
			for nameIdx = range first {
				if first[nameIdx].Name == batch.MetricName {
					break
				}
			}
			continue
		}
		// The name is sanitized ASCII: of CheckLabel, only its length
		// can fail.
		if p.lim.MaxLabelValueLength > 0 && len(name) > p.lim.MaxLabelValueLength {
			pr := problem{reason: outcome.ReasonLabelValueTooLong, field: key}
			if p.res.WantDetail() {
				pr.msg = p.lim.LabelDetail(pr.reason, batch.MetricName, name)
			}
			return fail(pr)
		}
		sample := [1]batch.Sample{{Timestamp: ts, Value: f}}
		b.AppendSeries(first, sample[:])
		b.Series[len(b.Series)-1].Labels[nameIdx].Value = name
	}
	p.res.Series += j
	p.res.Samples += j
	return problem{}
}

// addTags adds the tags with non-empty values as labels of the open
// series. tags has been checked by split.
func (p *parser) addTags(tags []byte) {
	for i := 0; i < len(tags); {
		k := scanKey(tags, i)
		v := scanKey(tags, k+1)
		if v > k+1 {
			p.b.AddLabel(p.labelName(tags[i:k]), p.labelValue(tags[k+1:v]))
		}
		i = v + 1
	}
}

// labelName returns the label name of the tag key tok: tok itself when it
// is a valid name, else unescaped and sanitized into the arena.
func (p *parser) labelName(tok []byte) string {
	if promname.IsValid(tok, false) {
		return aliasString(tok)
	}
	buf := p.b.Bytes(len(tok) + 1)
	return aliasString(promname.PrefixDigit(buf, sanitizeInto(buf[1:], tok, false)))
}

// labelValue returns the tag value tok unescaped: tok itself when it has
// no escapes, else a copy in the arena.
func (p *parser) labelValue(tok []byte) string {
	if bytes.IndexByte(tok, '\\') < 0 {
		return aliasString(tok)
	}
	buf := p.b.Bytes(len(tok))
	return aliasString(buf[:unescapeInto(buf, tok)])
}

// nameGroup returns the cached names of measurement meas, emptied when
// they were another measurement's.
func (p *parser) nameGroup(meas []byte) *nameGroup {
	h := uint(len(meas))
	for _, c := range meas[:min(len(meas), 8)] {
		h = h*31 + uint(c)
	}
	g := &p.cache[(h^h>>5)%nameGroups]
	if g.meas != string(meas) {
		g.meas = aliasString(meas)
		clear(g.keys[:])
	}
	return g
}

// metricName returns measurement_field for the j-th numeric field of a
// line, sanitized, from g or built in the arena (and kept in g).
func (p *parser) metricName(g *nameGroup, j int, meas, key []byte) string {
	if j < groupFields && g.keys[j] == string(key) {
		return g.names[j]
	}
	buf := p.b.Bytes(len(meas) + len(key) + 2)
	n := sanitizeInto(buf[1:], meas, true)
	buf[1+n] = '_'
	n++
	n += sanitizeInto(buf[1+n:], key, true)
	name := aliasString(promname.PrefixDigit(buf, n))
	if j < groupFields {
		g.keys[j], g.names[j] = aliasString(key), name
	}
	return name
}

// duplicateDetail explains which tags of a line made a duplicate label.
func duplicateDetail(tags []byte) string {
	type tag struct{ raw, name string }
	seen := []tag{{name: batch.MetricName}}
	for i := 0; i < len(tags); {
		k := scanKey(tags, i)
		v := scanKey(tags, k+1)
		if v > k+1 {
			t := tag{raw: unescapeString(tags[i:k]), name: labelNameString(tags[i:k])}
			for _, o := range seen {
				if o.name != t.name {
					continue
				}
				switch o.raw {
				case "":
					return "tag " + outcome.Quote(t.raw) + " clashes with the metric name label"
				case t.raw:
					return "tag " + outcome.Quote(t.raw) + " appears more than once"
				}
				return "tags " + outcome.Quote(o.raw) + " and " + outcome.Quote(t.raw) + " both become label " + outcome.Quote(t.name)
			}
			seen = append(seen, t)
		}
		i = v + 1
	}
	return "duplicate label"
}

// scanMeasurement returns the index of the first unescaped ',' or ' ' in
// s from i, or len(s).
func scanMeasurement(s []byte, i int) int {
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
			continue
		case ',', ' ':
			return i
		}
		i++
	}
	return len(s)
}

// keyStop marks the bytes scanKey stops at; escape marks the backslash.
var keyStop = [256]uint8{',': 1, '=': 1, ' ': 1, '\\': 2}

// scanKey returns the index of the first unescaped ',', '=' or ' ' in s
// from i, or len(s): the end of a tag key, tag value or field key.
func scanKey(s []byte, i int) int {
	for i < len(s) {
		switch keyStop[s[i]] {
		case 0:
			i++
		case 1:
			return i
		default:
			i += 2
		}
	}
	return len(s)
}

// scanString returns the index after the closing quote of the string
// field value that starts at s[i] == '"'.
func scanString(s []byte, i int) (int, bool) {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return len(s), false
}

// scanBare returns the end of an unquoted field value from i.
func scanBare(s []byte, i int) int {
	for i < len(s) && s[i] != ',' && s[i] != ' ' {
		i++
	}
	return i
}

func skipSpaces(s []byte, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}
