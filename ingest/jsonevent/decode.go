package jsonevent

import (
	"bytes"
	"fmt"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// ItemKind names the items of this protocol in rejections: Item is the
// 0-based index of the event in the request.
const ItemKind = "event"

// Scratch is the per-call state of Decode: the JSON parser and buffers
// reused across calls. A Scratch serves one Decode at a time; reuse it
// (GetScratch/PutScratch, or one per goroutine) to decode without
// allocating. The zero value is ready to use.
type Scratch struct {
	parser  fastjson.Parser
	slots   []slot
	epoch   uint32 // per event; slots of other epochs are stale
	labels  []batch.Label
	pending []pending
	num     []byte
	sample  [1]batch.Sample
	// constState per metric, for the current Decode: 0 unknown, 1 its
	// constant labels and label names pass the limits, -1 they do not.
	constState []int8

	accepted int // events of the last Decode that yielded series
	largest  int // largest event parsed since the last PutScratch
}

// slot caches what one field path resolves to in the current event.
type slot struct {
	epoch    uint32
	v        *fastjson.Value // nil: absent
	numState int8            // 0 not parsed, 1 parsed into num, -1 out of range
	num      float64
	hasStr   bool
	str      string // label value, copied into the batch arena
	strOK    bool   // str passes the value limits (length, UTF-8)
}

// pending is a metric matched by the current event, being built.
type pending struct {
	metric int
	value  float64
	lo, hi int // its labels: Scratch.labels[lo:hi]
}

// AcceptedEvents returns how many events of the last Decode yielded
// series (all their matched metrics). With Result.RejectedItems it adds
// up to Result.Items.
func (s *Scratch) AcceptedEvents() int { return s.accepted }

// maxPooledEvent bounds the event size whose parser state PutScratch
// keeps: the parser holds a copy of the largest event it parsed and a
// value tree of its size.
const maxPooledEvent = 1 << 20

var scratchPool = sync.Pool{New: func() any { return new(Scratch) }}

// GetScratch returns a Scratch from a pool.
func GetScratch() *Scratch { return scratchPool.Get().(*Scratch) }

// PutScratch returns s to the pool (unless it parsed a very large event,
// so that the pool does not pin that memory); s must not be used after.
func PutScratch(s *Scratch) {
	if s.largest > maxPooledEvent {
		return
	}
	scratchPool.Put(s)
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Decode maps the events in body (one object, an array of objects, or
// NDJSON; see the package doc) to series appended to b: one series with
// one sample per matched metric, its label strings copied into b's arena.
// now is the receive time in Unix milliseconds, the timestamp of events
// without one. res is reset, then counts the events seen (Items), the
// series and samples appended, and every rejected event.
//
// Decode returns an *outcome.Error when nothing of the request can be
// used: a body over lim.MaxDecodedBytes (outcome.ErrTooLarge), or an
// array or single object that is not valid JSON (outcome.ErrMalformed).
// Then b has the same series as before the call (its arenas may have
// grown) and res must be ignored. An empty body is an empty request.
//
// body is not retained. s must not be shared with a concurrent call; nil
// allocates a new Scratch.
func (m *Mapping) Decode(body []byte, b *batch.Batch, lim outcome.Limits, now int64, s *Scratch, res *outcome.Result) error {
	res.Reset()
	if s == nil {
		s = new(Scratch)
	}
	s.accepted = 0
	if n := len(m.paths); len(s.slots) < n {
		s.slots = make([]slot, n)
		s.epoch = 0
	}
	if n := len(m.metrics); cap(s.constState) < n {
		s.constState = make([]int8, n)
	}
	s.constState = s.constState[:len(m.metrics)]
	clear(s.constState)
	if lim.MaxDecodedBytes > 0 && len(body) > lim.MaxDecodedBytes {
		return outcome.Errorf(outcome.KindTooLarge, "", "body is %d bytes, limit %d", len(body), lim.MaxDecodedBytes)
	}
	i := 0
	if bytes.HasPrefix(body, utf8BOM) {
		i = len(utf8BOM)
	}
	if i = skipSpace(body, i); i == len(body) {
		return nil
	}
	d := decoder{m: m, b: b, lim: lim, now: now, s: s, res: res}
	before := len(b.Series)
	var err error
	switch {
	case body[i] == '[':
		err = d.array(body, i)
	case isNDJSON(body, i):
		d.ndjson(body, i)
	default:
		err = d.single(body, i)
	}
	// Drop references into b's arena and the parser: a pooled Scratch
	// must not pin the memory of an earlier request.
	clear(s.labels)
	clear(s.slots)
	if err != nil {
		clear(b.Series[before:])
		b.Series = b.Series[:before]
		res.Reset()
		s.accepted = 0
		return err
	}
	res.Series = len(b.Series) - before
	res.Samples = d.samples
	return nil
}

// isNDJSON reports whether the body starting at body[i] holds one event
// per line: it has a second non-blank line and its first line does not
// end inside a value (which would make the body one multi-line value).
func isNDJSON(body []byte, i int) bool {
	nl := bytes.IndexByte(body[i:], '\n')
	if nl < 0 || isBlank(body[i+nl+1:]) {
		return false
	}
	_, e := scanValue(body[i:i+nl], 0)
	return e.code != synEOF
}

// decoder is the state of one Decode call.
type decoder struct {
	m       *Mapping
	b       *batch.Batch
	lim     outcome.Limits
	now     int64
	s       *Scratch
	res     *outcome.Result
	samples int
	p       problem // the last problem found
}

// single decodes a body that is one JSON value.
func (d *decoder) single(body []byte, i int) error {
	end, e := scanValue(body, i)
	if e.code == synOK && !isBlank(body[end:]) {
		e = synErr{synTail, skipSpace(body, end)}
	}
	if e.code != synOK {
		msg := "invalid JSON: " + e.message(body)
		if e.code == synTail {
			msg = "unexpected data after the JSON value (NDJSON takes one event per line)"
		}
		return &outcome.Error{Kind: outcome.KindMalformed, Where: where(body, e.off), Msg: msg}
	}
	d.event(0, body[i:end], 0)
	return nil
}

// array decodes a body that is a JSON array of events, validating each
// element before mapping it.
func (d *decoder) array(body []byte, i int) error {
	idx := 0
	fail := func(e synErr) error {
		msg := "invalid JSON: " + e.message(body)
		if e.code != synTail {
			msg = fmt.Sprintf("invalid JSON in event %d: %s", idx, e.message(body))
		}
		return &outcome.Error{Kind: outcome.KindMalformed, Where: where(body, e.off), Msg: msg}
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == ']' {
		i++
	} else {
		for {
			start := skipSpace(body, i)
			end, e := scanValue(body, start)
			if e.code != synOK {
				return fail(e)
			}
			d.event(idx, body[start:end], 0)
			idx++
			if i = skipSpace(body, end); i >= len(body) {
				return fail(synErr{synEOF, i})
			}
			if body[i] == ']' {
				i++
				break
			}
			if body[i] != ',' {
				return fail(synErr{synArraySep, i})
			}
			i++
		}
	}
	if i = skipSpace(body, i); i < len(body) {
		return &outcome.Error{Kind: outcome.KindMalformed, Where: where(body, i), Msg: "unexpected data after the JSON array"}
	}
	return nil
}

// ndjson decodes one event per non-blank line; a bad line is one
// rejected event.
func (d *decoder) ndjson(body []byte, i int) {
	lineNo := 1 + bytes.Count(body[:i], []byte{'\n'})
	idx := 0
	for pos := i; pos < len(body); lineNo++ {
		end, next := len(body), len(body)
		if nl := bytes.IndexByte(body[pos:], '\n'); nl >= 0 {
			end, next = pos+nl, pos+nl+1
		}
		ln := body[pos:end]
		pos = next
		start, stop := skipSpace(ln, 0), len(ln)
		if start == stop {
			continue // blank
		}
		for isSpace(ln[stop-1]) {
			stop--
		}
		ln = ln[start:stop]
		d.res.Items++
		if d.tooLong(idx, ln, lineNo) {
			idx++
			continue
		}
		vend, e := scanValue(ln, 0)
		if e.code == synOK && vend != len(ln) {
			e = synErr{synTail, skipSpace(ln, vend)}
		}
		if e.code != synOK {
			d.p = problem{reason: outcome.ReasonMalformed, code: probSyntax, syn: e, raw: ln, line: lineNo}
			d.reject(idx, 1)
			idx++
			continue
		}
		d.mapEvent(idx, ln, lineNo)
		idx++
	}
}

// event counts and maps one event of an array or single-object body.
func (d *decoder) event(idx int, raw []byte, lineNo int) {
	d.res.Items++
	if !d.tooLong(idx, raw, lineNo) {
		d.mapEvent(idx, raw, lineNo)
	}
}

// tooLong rejects an event over lim.MaxLineBytes.
func (d *decoder) tooLong(idx int, raw []byte, lineNo int) bool {
	if d.lim.MaxLineBytes <= 0 || len(raw) <= d.lim.MaxLineBytes {
		return false
	}
	d.p = problem{reason: outcome.ReasonLineTooLong, code: probTooLong, n: len(raw), line: lineNo}
	d.reject(idx, 1)
	return true
}

// mapEvent parses one syntactically valid event and appends its series,
// or rejects it as a whole.
func (d *decoder) mapEvent(idx int, raw []byte, lineNo int) {
	s := d.s
	s.largest = max(s.largest, len(raw))
	v, err := s.parser.Parse(unsafe.String(unsafe.SliceData(raw), len(raw)))
	if err != nil { // not expected after scanValue
		d.p = problem{reason: outcome.ReasonMalformed, code: probParser, text: err.Error(), line: lineNo}
		d.reject(idx, 1)
		return
	}
	if t := v.Type(); t != fastjson.TypeObject {
		d.p = problem{reason: outcome.ReasonMalformed, code: probNotObject, got: t, line: lineNo}
		d.reject(idx, 1)
		return
	}
	if s.epoch++; s.epoch == 0 { // wrapped: forget every slot
		clear(s.slots)
		s.epoch = 1
	}

	s.pending = s.pending[:0]
	for mi := range d.m.metrics {
		if d.matches(v, &d.m.metrics[mi]) {
			s.pending = append(s.pending, pending{metric: mi})
		}
	}
	n := len(s.pending)
	if n == 0 {
		d.p = problem{reason: outcome.ReasonUnmapped, code: probUnmapped, event: v}
		d.reject(idx, 1)
		return
	}
	ts, ok := d.timestamp(v)
	if !ok {
		d.reject(idx, n)
		return
	}
	s.labels = s.labels[:0]
	for k := range s.pending {
		if !d.build(v, &s.pending[k]) {
			d.reject(idx, n)
			return
		}
	}
	for k := range s.pending {
		pd := &s.pending[k]
		s.sample[0] = batch.Sample{Timestamp: ts, Value: pd.value}
		d.b.AppendSeries(s.labels[pd.lo:pd.hi], s.sample[:])
	}
	d.samples += n
	s.accepted++
}

// field resolves the path of slot i in event v, once per event.
func (d *decoder) field(v *fastjson.Value, i int) *slot {
	sl := &d.s.slots[i]
	if sl.epoch != d.s.epoch {
		*sl = slot{epoch: d.s.epoch, v: v.Get(d.m.paths[i]...)}
	}
	return sl
}

// number parses the JSON number in sl, once per event.
func (d *decoder) number(sl *slot) (float64, bool) {
	if sl.numState == 0 {
		d.s.num = sl.v.MarshalTo(d.s.num[:0])
		f, ok := parseFloat(d.s.num)
		sl.num, sl.numState = f, 1
		if !ok {
			sl.numState = -1
		}
	}
	return sl.num, sl.numState > 0
}

// matches reports whether every `when` of mt holds for event v.
func (d *decoder) matches(v *fastjson.Value, mt *metric) bool {
	for ci := range mt.conds {
		c := &mt.conds[ci]
		sl := d.field(v, c.slot)
		if sl.v == nil {
			return false
		}
		ok := false
		for ai := range c.alts {
			if d.equal(sl, &c.alts[ai]) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// equal compares a field with a `when` value as JSON scalars: a string
// equals a string, a number a number (numerically), a bool a bool.
func (d *decoder) equal(sl *slot, a *scalar) bool {
	switch t := sl.v.Type(); a.kind {
	case scalarString:
		if t != fastjson.TypeString {
			return false
		}
		bs, _ := sl.v.StringBytes()
		return string(bs) == a.str
	case scalarNumber:
		if t != fastjson.TypeNumber {
			return false
		}
		f, ok := d.number(sl)
		return ok && f == a.num
	case scalarBool:
		return (t == fastjson.TypeTrue && a.b) || (t == fastjson.TypeFalse && !a.b)
	}
	return false
}

// timestamp returns the event time of v in Unix milliseconds.
func (d *decoder) timestamp(v *fastjson.Value) (int64, bool) {
	m := d.m
	if m.tsSlot < 0 {
		return d.now, true
	}
	fv := d.field(v, m.tsSlot).v
	if fv == nil || fv.Type() == fastjson.TypeNull {
		return d.now, true
	}
	bad := func(code probCode, raw []byte, ms int64, tc tsCode) (int64, bool) {
		d.p = problem{reason: outcome.ReasonBadTimestamp, code: code, slot: m.tsSlot, got: fv.Type(), raw: raw, ms: ms, tc: tc}
		return 0, false
	}
	var raw []byte
	switch t := fv.Type(); {
	case m.tsRFC3339:
		if t != fastjson.TypeString {
			return bad(probTsType, nil, 0, 0)
		}
		raw, _ = fv.StringBytes()
		ms, ok := parseRFC3339(raw)
		if !ok {
			return bad(probTsRFC3339, raw, 0, 0)
		}
		if ms < MinTimestamp || ms >= MaxTimestamp {
			return bad(probTsRange, raw, ms, tsRange)
		}
		return ms, true
	case t == fastjson.TypeNumber:
		d.s.num = fv.MarshalTo(d.s.num[:0])
		raw = d.s.num
	case t == fastjson.TypeString:
		raw, _ = fv.StringBytes()
		if !isNumber(raw) {
			return bad(probTsType, raw, 0, 0)
		}
	default:
		return bad(probTsType, nil, 0, 0)
	}
	ms, tc := parseTimestamp(raw, m.tsExp10)
	if tc != tsOK {
		return bad(probTsRange, raw, ms, tc)
	}
	return ms, true
}

// build resolves the value and labels of a matched metric into
// Scratch.labels and checks them.
func (d *decoder) build(v *fastjson.Value, pd *pending) bool {
	mt := &d.m.metrics[pd.metric]
	if !d.value(v, mt, pd) {
		return false
	}
	s := d.s
	pd.lo = len(s.labels)
	valuesOK := true
	for li := range mt.labels {
		ls := &mt.labels[li]
		value := ls.value
		if ls.slot >= 0 {
			sl := d.labelValue(v, mt, ls)
			if sl == nil {
				return false
			}
			if value = sl.str; value == "" {
				continue // Prometheus: an empty value is no label
			}
			valuesOK = valuesOK && sl.strOK
		}
		s.labels = append(s.labels, batch.Label{Name: ls.name, Value: value})
	}
	pd.hi = len(s.labels)
	ls := s.labels[pd.lo:pd.hi]
	// Quick check, equivalent to CheckSeries passing: the constant parts
	// were checked once per Decode, the values read from the event once
	// per event. CheckSeries finds the exact problem otherwise.
	if valuesOK && d.constOK(pd.metric) && (d.lim.MaxLabelsPerSeries <= 0 || len(ls) <= d.lim.MaxLabelsPerSeries) {
		return true
	}
	if reason, at := d.lim.Check(ls); reason != outcome.ReasonNone {
		d.p = problem{reason: reason, code: probLimits, n: at, labels: ls}
		return false
	}
	return true
}

// constOK reports whether the label names and constant values of metric
// mi pass the limits (the metric name is always there, and names are
// unique: Validate checked both).
func (d *decoder) constOK(mi int) bool {
	st := &d.s.constState[mi]
	if *st == 0 {
		*st = 1
		for _, ls := range d.m.metrics[mi].labels {
			value := ls.value
			if ls.slot >= 0 {
				value = "x" // a value read from the event: checked on its own
			}
			if d.lim.CheckLabel(ls.name, value) != outcome.ReasonNone {
				*st = -1
			}
		}
	}
	return *st > 0
}

// valueOK reports whether value passes the limits on label values.
func (d *decoder) valueOK(value string) bool {
	return (d.lim.MaxLabelValueLength <= 0 || len(value) <= d.lim.MaxLabelValueLength) && utf8.ValidString(value)
}

// value resolves the sample value of mt into pd.value.
func (d *decoder) value(v *fastjson.Value, mt *metric, pd *pending) bool {
	sl := d.field(v, mt.valueSlot)
	if sl.v == nil {
		d.p = problem{reason: outcome.ReasonMissingField, code: probMissingValue, slot: mt.valueSlot, metric: mt.name}
		return false
	}
	switch t := sl.v.Type(); t {
	case fastjson.TypeNumber:
		f, ok := d.number(sl)
		if !ok {
			d.s.num = sl.v.MarshalTo(d.s.num[:0])
			d.p = problem{reason: outcome.ReasonBadValue, code: probValueRange, slot: mt.valueSlot, raw: d.s.num}
			return false
		}
		pd.value = f
	case fastjson.TypeTrue:
		pd.value = 1
	case fastjson.TypeFalse:
		pd.value = 0
	case fastjson.TypeString:
		bs, _ := sl.v.StringBytes()
		if !isNumber(bs) {
			d.p = problem{reason: outcome.ReasonWrongType, code: probValueType, slot: mt.valueSlot, got: t, raw: bs}
			return false
		}
		f, ok := parseFloat(bs)
		if !ok {
			d.p = problem{reason: outcome.ReasonBadValue, code: probValueRange, slot: mt.valueSlot, raw: bs}
			return false
		}
		pd.value = f
	default:
		d.p = problem{reason: outcome.ReasonWrongType, code: probValueType, slot: mt.valueSlot, got: t}
		return false
	}
	return true
}

// labelValue resolves a label read from a field into its slot: str is
// the value copied into the batch arena, or "" for an empty string or
// null (no label). It returns nil for a problem.
func (d *decoder) labelValue(v *fastjson.Value, mt *metric, ls *labelSource) *slot {
	sl := d.field(v, ls.slot)
	if sl.v == nil {
		d.p = problem{reason: outcome.ReasonMissingField, code: probMissingLabel, slot: ls.slot, metric: mt.name, label: ls.name}
		return nil
	}
	if sl.hasStr {
		return sl
	}
	var str string
	switch t := sl.v.Type(); t {
	case fastjson.TypeString:
		bs, _ := sl.v.StringBytes()
		str = d.copyToArena(bs)
	case fastjson.TypeNumber:
		d.s.num = sl.v.MarshalTo(d.s.num[:0])
		str = d.copyToArena(d.s.num)
	case fastjson.TypeTrue:
		str = "true"
	case fastjson.TypeFalse:
		str = "false"
	case fastjson.TypeNull:
	default:
		d.p = problem{reason: outcome.ReasonWrongType, code: probLabelType, slot: ls.slot, got: t, metric: mt.name, label: ls.name}
		return nil
	}
	sl.str, sl.hasStr, sl.strOK = str, true, d.valueOK(str)
	return sl
}

// copyToArena copies bs into the batch arena: label strings must not
// alias the parser, which is reused for the next event.
func (d *decoder) copyToArena(bs []byte) string {
	if len(bs) == 0 {
		return ""
	}
	dst := d.b.Bytes(len(bs))
	copy(dst, bs)
	return unsafe.String(unsafe.SliceData(dst), len(dst))
}
