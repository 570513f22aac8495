package promtext

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
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
	// Now is the receive time in Unix milliseconds: the timestamp of the
	// samples that have none.
	Now int64
}

// Decode parses body, Prometheus text exposition format, and appends one
// series with one sample per valid sample line to b (see the package doc
// for the format, ownership and what is rejected). res is reset and then
// counts the items (sample, # HELP and # TYPE lines), the metadata lines,
// the series and samples appended, and every rejected line with its
// 1-based number.
//
// Lines are independent: a bad line is rejected on its own and the others
// are kept. Decode returns an *outcome.Error only for a body over
// lim.MaxDecodedBytes (ErrTooLarge); then b has the same series as before.
func Decode(body []byte, b *batch.Batch, lim outcome.Limits, opts Options, res *outcome.Result) error {
	res.Reset()
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

type parser struct {
	b    *batch.Batch
	lim  outcome.Limits
	opts Options
	res  *outcome.Result

	// collect makes addLabel record label names in names instead of
	// adding labels to b: the second parse that explains a duplicate.
	collect bool
	names   []string

	valueStart int // set by sampleLabels: where the value may start
}

// problem is a rejected line; its detail is rendered only when kept.
type problem struct {
	reason  outcome.Reason
	col     int // 1-based column in the line, or 0
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

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func skipBlanks(s []byte, i int) int {
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return i
}

// scanToken returns the end of the token starting at i: the first blank
// or the end of s.
func scanToken(s []byte, i int) int {
	for i < len(s) && !isBlank(s[i]) {
		i++
	}
	return i
}

func (p *parser) line(text []byte, n int) {
	i := skipBlanks(text, 0)
	if i == len(text) {
		return
	}
	meta := text[i] == '#'
	if meta && !isMetadata(text[i:]) {
		return // a comment
	}
	p.res.Items++
	if p.lim.MaxLineBytes > 0 && len(text) > p.lim.MaxLineBytes {
		pr := problem{reason: outcome.ReasonLineTooLong}
		if !meta {
			pr.samples = 1
		}
		if p.res.WantDetail() {
			pr.msg = fmt.Sprintf("line is %d bytes, limit %d", len(text), p.lim.MaxLineBytes)
		}
		p.reject(n, &pr)
		return
	}
	if meta {
		if pr := metadata(text, i); pr.reason != outcome.ReasonNone {
			p.reject(n, &pr)
			return
		}
		p.res.Metadata++
		return
	}
	if pr := p.sample(text, i); pr.reason != outcome.ReasonNone {
		pr.samples = 1
		p.reject(n, &pr)
	}
}

func malformed(at int, msg string) problem {
	return problem{reason: outcome.ReasonMalformed, col: at + 1, msg: msg}
}

func malformedTok(at int, msg string, tok []byte) problem {
	return problem{reason: outcome.ReasonMalformed, col: at + 1, msg: msg, tok: tok, hasTok: true}
}

// metaKeyword returns the keyword of s, a line starting with '#', and
// the index after it: '#', at least one blank, the keyword.
func metaKeyword(s []byte) (int, []byte) {
	k := skipBlanks(s, 1)
	if k == 1 {
		return 1, nil
	}
	e := scanToken(s, k)
	return e, s[k:e]
}

// isMetadata reports whether s, a line starting with '#', is a # HELP or
// # TYPE line rather than a comment: as in Prometheus, the keyword must
// follow '#' and blanks, and be followed by a blank.
func isMetadata(s []byte) bool {
	e, kw := metaKeyword(s)
	return (string(kw) == "HELP" || string(kw) == "TYPE") && e < len(s)
}

// metadata checks a # HELP or # TYPE line, text[i] == '#':
//
//	# HELP name docstring
//	# TYPE name counter|gauge|histogram|summary|untyped
//
// The name may be quoted ("my.metric"). Nothing of it is kept.
func metadata(text []byte, i int) problem {
	s := text[i:]
	at := func(pr problem) problem { pr.col += i; return pr }
	e, kw := metaKeyword(s)
	j := skipBlanks(s, e)
	if j == len(s) {
		if string(kw) == "HELP" {
			return at(malformed(j, "missing metric name after # HELP"))
		}
		return at(malformed(j, "missing metric name after # TYPE"))
	}
	var ne int
	switch {
	case s[j] == '"':
		var ok bool
		if _, ne, ok = scanQuoted(s, j); !ok {
			return at(malformed(j, "unterminated quoted metric name"))
		}
	case promname.IsNameStart(s[j], true):
		ne = scanName(s, j, true)
	default:
		return at(malformedTok(j, "invalid metric name", s[j:scanToken(s, j)]))
	}
	if string(kw) == "HELP" {
		return problem{} // the rest is the docstring
	}
	if ne < len(s) && !isBlank(s[ne]) {
		return at(malformedTok(ne, "unexpected character after metric name", s[ne:ne+1]))
	}
	t := skipBlanks(s, ne)
	if t == len(s) {
		return at(malformed(t, "missing metric type"))
	}
	te := scanToken(s, t)
	switch string(s[t:te]) {
	case "counter", "gauge", "histogram", "summary", "untyped":
	default:
		return at(malformedTok(t, "invalid metric type", s[t:te]))
	}
	if r := skipBlanks(s, te); r != len(s) {
		return at(malformed(r, "unexpected text after metric type"))
	}
	return problem{}
}

// scanQuoted scans the quoted string at s[i] == '"'; content is between
// the quotes (escapes not processed), end after the closing quote.
func scanQuoted(s []byte, i int) (content []byte, end int, ok bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return s[i+1 : j], j + 1, true
		}
	}
	return nil, len(s), false
}

// sample parses a sample line from text[i] and appends its series:
//
//	name[{label="value",...}] value [timestamp]
//	{"quoted.name"[, label="value",...]} value [timestamp]
func (p *parser) sample(text []byte, i int) problem {
	b := p.b
	b.StartSeries()
	pr := p.sampleLabels(text, i)
	if pr.reason != outcome.ReasonNone {
		b.AbandonSeries()
		return pr
	}
	// sampleLabels checked the structure; now the value and timestamp.
	s := text
	vs := skipBlanks(s, p.valueStart)
	ve := scanToken(s, vs)
	v, vp := parseValue(s[vs:ve])
	if vp != valueOK {
		b.AbandonSeries()
		pr := problem{reason: outcome.ReasonBadValue, col: vs + 1, tok: s[vs:ve], hasTok: true}
		pr.msg, pr.tail = valueProblemText[vp].msg, valueProblemText[vp].tail
		return pr
	}
	ts := p.opts.Now
	if t := skipBlanks(s, ve); t < len(s) {
		te := scanToken(s, t)
		var tp int
		if ts, tp = parseTimestamp(s[t:te]); tp != tsOK {
			b.AbandonSeries()
			pr := problem{reason: outcome.ReasonBadTimestamp, col: t + 1, tok: s[t:te], hasTok: true}
			pr.msg, pr.tail = tsProblemText[tp].msg, tsProblemText[tp].tail
			return pr
		}
	}
	b.AddSample(ts, v)
	if !b.FinishSeries() {
		pr := problem{reason: outcome.ReasonDuplicateLabel}
		if p.res.WantDetail() {
			pr.msg = p.duplicateDetail(text, i)
		}
		return pr
	}
	ls := b.Series[len(b.Series)-1].Labels
	if reason, at := p.lim.Check(ls); reason != outcome.ReasonNone {
		pr := problem{reason: reason}
		if p.res.WantDetail() {
			pr.series, pr.msg = outcome.RenderSeries(ls), p.lim.SeriesDetail(reason, ls, at)
		}
		b.Series[len(b.Series)-1] = batch.Series{}
		b.Series = b.Series[:len(b.Series)-1]
		return pr
	}
	p.res.Series++
	p.res.Samples++
	return problem{}
}

// sampleLabels parses the name and labels of a sample line from text[i],
// adding them with addLabel, checks the structure of the rest of the
// line and sets p.valueStart to the end of the labels.
func (p *parser) sampleLabels(s []byte, i int) problem {
	hasName := false
	switch {
	case promname.IsNameStart(s[i], true):
		j := scanName(s, i, true)
		p.addLabel(batch.MetricName, aliasString(s[i:j]))
		hasName = true
		k := skipBlanks(s, j)
		if k < len(s) && s[k] != '{' && k == j {
			return malformedTok(k, "unexpected character after metric name", s[k:k+1])
		}
		i = k
	case s[i] != '{':
		return malformedTok(i, `expected a metric name or "{", got`, s[i:i+1])
	}
	if i < len(s) && s[i] == '{' {
		var pr problem
		if i, pr = p.labelSet(s, i, hasName); pr.reason != outcome.ReasonNone {
			return pr
		}
	}
	p.valueStart = i
	vs := skipBlanks(s, i)
	if vs == len(s) {
		return malformed(vs, "missing value")
	}
	ve := scanToken(s, vs)
	if t := skipBlanks(s, ve); t < len(s) {
		if r := skipBlanks(s, scanToken(s, t)); r < len(s) {
			return malformed(r, "unexpected text after timestamp")
		}
	}
	return problem{}
}

// labelSet parses {label="value", ...} at s[i] == '{' and returns the
// index after the '}'. A trailing comma is allowed.
func (p *parser) labelSet(s []byte, i int, hasName bool) (int, problem) {
	i++
	for {
		i = skipBlanks(s, i)
		if i == len(s) {
			return 0, malformed(i, `missing "}"`)
		}
		if s[i] == '}' {
			return i + 1, problem{}
		}
		var pr problem
		if i, pr = p.labelItem(s, i, &hasName); pr.reason != outcome.ReasonNone {
			return 0, pr
		}
		i = skipBlanks(s, i)
		switch {
		case i == len(s):
			return 0, malformed(i, `missing "}"`)
		case s[i] == ',':
			i++
		case s[i] == '}':
			return i + 1, problem{}
		default:
			return 0, malformedTok(i, `expected "," or "}", got`, s[i:i+1])
		}
	}
}

// labelItem parses name="value", "quoted name"="value" or a quoted metric
// name at s[i] and returns the index after it.
func (p *parser) labelItem(s []byte, i int, hasName *bool) (int, problem) {
	var name string
	switch {
	case s[i] == '"':
		q, e, ok := scanQuoted(s, i)
		if !ok {
			return 0, malformed(i, "unterminated quoted name")
		}
		j := skipBlanks(s, e)
		if j == len(s) || s[j] != '=' {
			// A quoted metric name: {"my.metric", a="b"}.
			if *hasName {
				return 0, malformedTok(i, "second metric name", s[i:e])
			}
			*hasName = true
			if m := p.name(p.unescape(q), true); m != "" {
				p.addLabel(batch.MetricName, m)
			}
			return e, problem{}
		}
		name = p.name(p.unescape(q), false)
		i = j
	case promname.IsNameStart(s[i], false):
		j := scanName(s, i, false)
		name = aliasString(s[i:j])
		k := skipBlanks(s, j)
		if k == len(s) || s[k] != '=' {
			if k == j && k < len(s) {
				return 0, malformedTok(k, "invalid character in label name", s[k:k+1])
			}
			return 0, malformedTok(k, `missing "=" after label name`, s[i:j])
		}
		i = k
	default:
		return 0, malformedTok(i, `expected a label name or "}", got`, s[i:i+1])
	}
	// s[i] == '='
	i = skipBlanks(s, i+1)
	if i == len(s) || s[i] != '"' {
		return 0, malformed(i, "expected a quoted label value")
	}
	q, e, ok := scanQuoted(s, i)
	if !ok {
		return 0, malformed(i, "unterminated label value")
	}
	value := p.unescape(q)
	if name == batch.MetricName {
		value = p.name(value, true)
	}
	if value != "" {
		p.addLabel(name, value)
	}
	return e, problem{}
}

func (p *parser) addLabel(name, value string) {
	if p.collect {
		p.names = append(p.names, name)
		return
	}
	p.b.AddLabel(name, value)
}

// unescape returns the content of a quoted string: q itself when it has no
// escapes, else unescaped into the arena.
func (p *parser) unescape(q []byte) string {
	if bytes.IndexByte(q, '\\') < 0 {
		return aliasString(q)
	}
	buf := p.b.Bytes(len(q))
	return aliasString(buf[:unescapeInto(buf, q)])
}

// name returns s as a valid metric name (colonOK) or label name: s itself
// when it is one, else sanitized into the arena.
func (p *parser) name(s string, colonOK bool) string {
	if s == "" || promname.IsValid(s, colonOK) {
		return s
	}
	buf := p.b.Bytes(len(s) + 1)
	return aliasString(promname.PrefixDigit(buf, promname.SanitizeInto(buf[1:], s, colonOK)))
}

// duplicateDetail parses the line again, recording the label names, to
// say which one is duplicated.
func (p *parser) duplicateDetail(text []byte, i int) string {
	q := parser{b: &batch.Batch{}, lim: p.lim, collect: true}
	q.sampleLabels(text, i)
	slices.Sort(q.names)
	for k := 1; k < len(q.names); k++ {
		if q.names[k] == q.names[k-1] {
			return "label " + outcome.Quote(q.names[k]) + " appears more than once"
		}
	}
	return "duplicate label"
}

// Value and timestamp problems.
const (
	valueOK = iota
	valueSyntax
	valueRange
)

var valueProblemText = [...]struct{ msg, tail string }{
	valueSyntax: {"invalid value", ""},
	valueRange:  {"value", " out of range"},
}

// parseValue parses a sample value as Prometheus does: a Go float
// (strconv.ParseFloat: decimal, NaN, Inf, +Inf, -Inf, any case) but
// without hex floats and underscores.
func parseValue(tok []byte) (float64, int) {
	for _, c := range tok {
		if c == 'p' || c == 'P' || c == '_' {
			return 0, valueSyntax
		}
	}
	f, err := strconv.ParseFloat(aliasString(tok), 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, valueRange
		}
		return 0, valueSyntax
	}
	return f, valueOK
}

const (
	tsOK = iota
	tsSyntax
	tsNegative
	tsRange
)

var tsProblemText = [...]struct{ msg, tail string }{
	tsSyntax:   {"invalid timestamp", " (want integer milliseconds)"},
	tsNegative: {"timestamp", " is negative (before 1970)"},
	tsRange:    {"timestamp", " out of range"},
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseTimestamp parses a non-negative decimal int64 of milliseconds.
func parseTimestamp(s []byte) (int64, int) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, tsSyntax
	}
	var v uint64
	overflow := false
	for _, c := range s {
		if !isDigit(c) {
			return 0, tsSyntax
		}
		d := uint64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			overflow = true
			continue
		}
		v = v*10 + d
	}
	switch {
	case neg && (v != 0 || overflow):
		return 0, tsNegative
	case overflow:
		return 0, tsRange
	}
	return int64(v), tsOK
}
