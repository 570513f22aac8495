package otlp

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// ItemKind names the items of an OTLP request in a Rejection.
const ItemKind = "data point"

// Options says how OTLP resources map to labels.
type Options struct {
	// PromoteResourceAttributes are resource attribute keys copied onto
	// every series of the resource as labels (sanitized like data point
	// attributes). A data point attribute of the same label name wins.
	PromoteResourceAttributes []string
	// Now is the timestamp (Unix ms) of data points whose time_unix_nano
	// is 0, typically the time the request was received.
	Now int64
}

// DecodeProto decodes body, an OTLP/HTTP protobuf
// opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest
// (already decompressed), and appends its series to b. res is reset and
// then describes the request: data points seen, series and samples
// appended, data points rejected one by one (see the package doc).
//
// An empty body is an empty request. On error (an *outcome.Error:
// errors.Is outcome.ErrMalformed or outcome.ErrTooLarge) b has the same
// series as before the call, though its arenas may have grown, and res
// must be ignored.
func DecodeProto(body []byte, b *batch.Batch, lim outcome.Limits, opts Options, res *outcome.Result) error {
	return decode(body, b, lim, opts, res, false)
}

// DecodeJSON is DecodeProto for the OTLP/JSON encoding of the same
// request (Content-Type application/json).
func DecodeJSON(body []byte, b *batch.Batch, lim outcome.Limits, opts Options, res *outcome.Result) error {
	return decode(body, b, lim, opts, res, true)
}

func decode(body []byte, b *batch.Batch, lim outcome.Limits, opts Options, res *outcome.Result, isJSON bool) error {
	res.Reset()
	if lim.MaxDecodedBytes > 0 && len(body) > lim.MaxDecodedBytes {
		return &outcome.Error{Kind: outcome.KindTooLarge,
			Msg: fmt.Sprintf("body is %d bytes, limit %d", len(body), lim.MaxDecodedBytes)}
	}
	if len(body) == 0 {
		return nil
	}
	d := getDecoder(b, lim, opts, res)
	before := len(b.Series)
	var err error
	if isJSON {
		err = d.jsonRequest(body)
	} else {
		err = d.protoRequest(body)
	}
	if err != nil {
		clear(b.Series[before:])
		b.Series = b.Series[:before]
	}
	putDecoder(d)
	return err
}

// Cache bounds: a decoder forgets its caches when they reach these
// sizes, so that a stream of distinct names cannot grow memory.
const (
	maxCachedLabelNames = 4096
	maxCachedFamilies   = 4096
	maxKeptScratch      = 1 << 16 // elements of a scratch slice kept for reuse
)

// decoder is the reusable state of one Decode call: the request being
// decoded, scratch space for one data point, and caches of sanitized
// names that live across requests. Decoders are pooled.
type decoder struct {
	b    *batch.Batch
	lim  outcome.Limits
	opts Options
	res  *outcome.Result

	data  []byte // the protobuf body
	at    position
	items int // data points seen so far: the next one's index

	// Resource context.
	job, instance string
	svcName       string
	svcNamespace  string
	hasName       bool
	hasNamespace  bool
	hasInstance   bool
	promoted      []batch.Label

	// Scope context: resource and scope labels, sorted by name, unique.
	scopeName, scopeVersion string
	ctx                     []ctxLabel

	// Metric context.
	fam     family
	famName string // the metric's name as sent (aliases the request)
	famPr   problem

	// One data point.
	pt     point
	merged []batch.Label // the point's attributes, sorted and unique
	base   []batch.Label // merged with ctx: every label but __name__
	baseOK bool          // every label of base passes Limits.CheckLabel

	// The series that failed CheckSeries.
	fail problem

	// Label values formatted for le and quantile, by bucket index,
	// valid for one request (they live in the batch arena).
	leCache, qCache []formatted

	// Caches valid across requests; the strings are owned by the
	// decoder and immutable, so series may keep them.
	labelNames map[string]string
	families   map[string]family

	keybuf  []byte
	scratch []byte
	kvs     []kvRef
	json    jsonState
}

// position locates the decoder in the request for error messages.
type position struct {
	rm, sm, m, dp int
	kind          string // data field of the current metric
}

func (p *position) reset() { *p = position{rm: -1, sm: -1, m: -1, dp: -1} }

// ctxLabel is a resource or scope label and whether it overrides a data
// point attribute of the same name (job, instance, otel_scope_*) or
// gives way to one (promoted resource attributes).
type ctxLabel struct {
	batch.Label
	override bool
	prio     int8
	ok       bool // passes Limits.CheckLabel
}

// family is the set of names of one metric's series.
type family struct {
	name, bucket, sum, count string
}

// attr is one data point attribute.
type attr struct {
	key   string // as sent; aliases the request, valid during Decode
	name  string // sanitized label name (decoder-owned)
	value string // label value (in the batch arena)
}

type quantile struct{ q, v float64 }

type formatted struct {
	bits uint64
	s    string
}

// point is one data point of any kind, as parsed.
type point struct {
	attrs     []attr
	time      uint64
	flags     uint32
	value     float64 // NumberDataPoint
	hasValue  bool
	count     uint64 // Histogram and Summary
	sum       float64
	hasSum    bool
	bounds    []float64
	counts    []uint64
	quantiles []quantile
	pr        problem // the first problem found while parsing
}

func (p *point) reset() {
	clear(p.attrs)
	*p = point{attrs: p.attrs[:0], bounds: p.bounds[:0], counts: p.counts[:0], quantiles: p.quantiles[:0]}
}

var pool = sync.Pool{New: func() any {
	return &decoder{labelNames: make(map[string]string), families: make(map[string]family)}
}}

func getDecoder(b *batch.Batch, lim outcome.Limits, opts Options, res *outcome.Result) *decoder {
	d := pool.Get().(*decoder)
	d.b, d.lim, d.opts, d.res = b, lim, opts, res
	d.items = 0
	d.at.reset()
	return d
}

// putDecoder drops the decoder's references to the request and the
// batch (so that neither stays reachable from the pool) and pools it.
func putDecoder(d *decoder) {
	d.b, d.res, d.data, d.opts = nil, nil, nil, Options{}
	d.resetResource()
	d.scopeName, d.scopeVersion = "", ""
	clear(d.ctx)
	d.ctx = d.ctx[:0]
	d.fam, d.famName, d.famPr, d.fail = family{}, "", problem{}, problem{}
	d.pt.reset()
	clear(d.merged)
	clear(d.base)
	d.merged, d.base = d.merged[:0], d.base[:0]
	clear(d.leCache)
	clear(d.qCache)
	d.leCache, d.qCache = d.leCache[:0], d.qCache[:0]
	clear(d.kvs)
	d.kvs = d.kvs[:0]
	d.json.release()
	if cap(d.pt.bounds) > maxKeptScratch || cap(d.pt.counts) > maxKeptScratch || cap(d.pt.attrs) > maxKeptScratch {
		d.pt = point{}
	}
	if cap(d.scratch) > maxKeptScratch {
		d.scratch = nil
	}
	pool.Put(d)
}

// str copies s into the batch arena.
func (d *decoder) str(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	buf := d.b.Bytes(len(s))
	copy(buf, s)
	return unsafe.String(&buf[0], len(buf))
}

// alias returns a string over b without copying; b must stay unchanged
// while the string is used (during Decode for the request body).
func alias(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// labelName returns the cached label name of an attribute key, "" when
// the key gives none.
func (d *decoder) labelName(key []byte) string {
	if n, ok := d.labelNames[string(key)]; ok {
		return n
	}
	n := labelName(string(key))
	if len(d.labelNames) >= maxCachedLabelNames {
		clear(d.labelNames)
	}
	d.labelNames[string(key)] = n
	return n
}

// setFamily sets the names of the current metric's series.
func (d *decoder) setFamily(name, unit []byte, kind metricKind) {
	d.famName = alias(name)
	d.famPr = problem{}
	// The key: kind, unit length, unit, name.
	k := append(d.keybuf[:0], byte(kind))
	k = appendVarint(k, uint64(len(unit)))
	k = append(k, unit...)
	k = append(k, name...)
	d.keybuf = k
	f, ok := d.families[string(k)]
	if !ok {
		if n := metricName(string(name), string(unit), kind); n != "" {
			f = family{name: n, bucket: n + "_bucket", sum: n + "_sum", count: n + "_count"}
		}
		if len(d.families) >= maxCachedFamilies {
			clear(d.families)
		}
		d.families[string(k)] = f
	}
	d.fam = f
	if f.name == "" {
		d.famPr = problem{reason: outcome.ReasonMissingMetricName, code: prMetricName, s: d.famName}
	}
}

func (d *decoder) resetResource() {
	d.job, d.instance, d.svcName, d.svcNamespace = "", "", "", ""
	d.hasName, d.hasNamespace, d.hasInstance = false, false, false
	clear(d.promoted)
	d.promoted = d.promoted[:0]
}

// wantResourceAttr reports whether the resource attribute key is used
// (so that only those values are rendered).
func (d *decoder) wantResourceAttr(key string) bool {
	switch key {
	case "service.name", "service.namespace", "service.instance.id":
		return true
	}
	return slices.Contains(d.opts.PromoteResourceAttributes, key)
}

// addResourceAttr records a resource attribute that wantResourceAttr
// selected. Like Prometheus, the first service.* attribute of a key
// counts, and the last promoted attribute of a label name.
func (d *decoder) addResourceAttr(key, value string) {
	switch key {
	case "service.name":
		if !d.hasName {
			d.svcName, d.hasName = value, true
		}
	case "service.namespace":
		if !d.hasNamespace {
			d.svcNamespace, d.hasNamespace = value, true
		}
	case "service.instance.id":
		if !d.hasInstance {
			d.instance, d.hasInstance = value, true
		}
	}
	if value == "" || !slices.Contains(d.opts.PromoteResourceAttributes, key) {
		return
	}
	if name := d.labelName(bytesOf(key)); name != "" {
		d.promoted = append(d.promoted, batch.Label{Name: name, Value: value})
	}
}

// finishResource computes job from service.namespace and service.name.
func (d *decoder) finishResource() {
	if d.hasName {
		d.job = d.svcName
		if d.hasNamespace {
			buf := d.b.Bytes(len(d.svcNamespace) + 1 + len(d.svcName))
			n := copy(buf, d.svcNamespace)
			buf[n] = '/'
			copy(buf[n+1:], d.svcName)
			d.job = unsafe.String(&buf[0], len(buf))
		}
	}
	// Last one wins among promoted labels of the same name.
	slices.SortStableFunc(d.promoted, func(a, b batch.Label) int { return strings.Compare(a.Name, b.Name) })
	out := d.promoted[:0]
	for i, l := range d.promoted {
		if i+1 < len(d.promoted) && d.promoted[i+1].Name == l.Name {
			continue
		}
		out = append(out, l)
	}
	clear(d.promoted[len(out):])
	d.promoted = out
}

// buildCtx merges the resource and scope labels of the current scope.
func (d *decoder) buildCtx() {
	c := d.ctx[:0]
	for _, l := range d.promoted {
		c = append(c, ctxLabel{Label: l})
	}
	if d.job != "" {
		c = append(c, ctxLabel{Label: batch.Label{Name: "job", Value: d.job}, override: true, prio: 1})
	}
	if d.instance != "" {
		c = append(c, ctxLabel{Label: batch.Label{Name: "instance", Value: d.instance}, override: true, prio: 1})
	}
	if d.scopeName != "" {
		c = append(c, ctxLabel{Label: batch.Label{Name: "otel_scope_name", Value: d.scopeName}, override: true, prio: 2})
		if d.scopeVersion != "" {
			c = append(c, ctxLabel{Label: batch.Label{Name: "otel_scope_version", Value: d.scopeVersion}, override: true, prio: 2})
		}
	}
	slices.SortFunc(c, func(a, b ctxLabel) int {
		if n := strings.Compare(a.Name, b.Name); n != 0 {
			return n
		}
		return int(b.prio) - int(a.prio)
	})
	out := c[:0]
	for i := range c {
		if i > 0 && c[i].Name == c[i-1].Name {
			continue // a lower priority label of the same name
		}
		out = append(out, c[i])
	}
	clear(c[len(out):])
	for i := range out {
		out[i].ok = d.lim.CheckLabel(out[i].Name, out[i].Value) == outcome.ReasonNone
	}
	d.ctx = out
}

// addAttr adds an attribute of the current data point; key aliases the
// request and value is in the arena. An empty value is no attribute.
func (d *decoder) addAttr(key []byte, value string) {
	if value == "" || string(key) == batch.MetricName {
		return
	}
	name := d.labelName(key)
	if name == "" {
		d.pt.problem(problem{reason: outcome.ReasonInvalidLabelName, code: prLabelName, s: alias(key)})
		return
	}
	d.pt.attrs = append(d.pt.attrs, attr{key: alias(key), name: name, value: value})
}

func (p *point) problem(pr problem) {
	if p.pr.reason == outcome.ReasonNone {
		p.pr = pr
	}
}

// buildBase sets d.base to the labels of the current data point but
// __name__: its attributes (those whose names collide after sanitizing
// joined with ';' in the order of their keys, as Prometheus does) and
// the resource and scope labels.
func (d *decoder) buildBase() {
	attrs := d.pt.attrs
	if !attrsSorted(attrs) {
		slices.SortStableFunc(attrs, func(a, b attr) int {
			if n := strings.Compare(a.name, b.name); n != 0 {
				return n
			}
			return strings.Compare(a.key, b.key)
		})
	}
	m := d.merged[:0]
	for i := 0; i < len(attrs); {
		j := i + 1
		for j < len(attrs) && attrs[j].name == attrs[i].name {
			j++
		}
		v := attrs[i].value
		if j > i+1 {
			v = d.join(attrs[i:j])
		}
		m = append(m, batch.Label{Name: attrs[i].name, Value: v})
		i = j
	}
	d.merged = m

	// Check each label once here rather than in every series of the
	// point (see addSeries); resource and scope labels were checked once
	// per scope.
	ok := true
	for _, l := range m {
		ok = ok && d.lim.CheckLabel(l.Name, l.Value) == outcome.ReasonNone
	}
	out := d.base[:0]
	ctx := d.ctx
	i, j := 0, 0
	for i < len(m) && j < len(ctx) {
		switch a, c := m[i], ctx[j]; {
		case a.Name < c.Name:
			out = append(out, a)
			i++
		case a.Name > c.Name:
			out = append(out, c.Label)
			ok = ok && c.ok
			j++
		default:
			if c.override {
				out = append(out, c.Label)
				ok = ok && c.ok
			} else {
				out = append(out, a)
			}
			i++
			j++
		}
	}
	out = append(out, m[i:]...)
	for ; j < len(ctx); j++ {
		out = append(out, ctx[j].Label)
		ok = ok && ctx[j].ok
	}
	d.base, d.baseOK = out, ok
}

func attrsSorted(a []attr) bool {
	for i := 1; i < len(a); i++ {
		if a[i-1].name > a[i].name || a[i-1].name == a[i].name && a[i-1].key > a[i].key {
			return false
		}
	}
	return true
}

// join concatenates the values of attrs with ';' in the arena.
func (d *decoder) join(attrs []attr) string {
	n := len(attrs) - 1
	for _, a := range attrs {
		n += len(a.value)
	}
	buf := d.b.Bytes(n)
	off := 0
	for i, a := range attrs {
		if i > 0 {
			buf[off] = ';'
			off++
		}
		off += copy(buf[off:], a.value)
	}
	return unsafe.String(&buf[0], len(buf))
}

// timestamp converts an OTLP time to Unix milliseconds.
func (d *decoder) timestamp(ns uint64) int64 {
	if ns == 0 {
		return d.opts.Now
	}
	return int64(ns / 1e6)
}

// beginPoint starts parsing a data point.
func (d *decoder) beginPoint() *point {
	d.pt.reset()
	return &d.pt
}

// finishPoint maps the parsed data point of the current metric (kind
// is its data field) to series, or rejects it.
func (d *decoder) finishPoint(kind dataKind) {
	p := &d.pt
	item := d.items
	d.items++
	d.res.Items++
	samples := p.samples(kind)
	pr := d.famPr
	if pr.reason == outcome.ReasonNone {
		pr = p.pr
	}
	if pr.reason == outcome.ReasonNone {
		pr = p.validate(kind)
	}
	if pr.reason != outcome.ReasonNone {
		d.reject(item, samples, pr, "")
		return
	}
	d.buildBase()
	b := d.b
	start := len(b.Series)
	if !d.emit(kind) {
		series := d.fail.s
		clear(b.Series[start:])
		b.Series = b.Series[:start]
		d.reject(item, samples, d.fail, series)
		return
	}
	d.res.Series += len(b.Series) - start
	d.res.Samples += len(b.Series) - start
}

// reject records the rejection of data point item.
func (d *decoder) reject(item, samples int, pr problem, series string) {
	res := d.res
	if !res.WantDetail() {
		res.Reject(outcome.Rejection{Reason: pr.reason, Samples: samples})
		return
	}
	if series == "" && d.fam.name != "" {
		series = outcome.RenderSeries([]batch.Label{{Name: batch.MetricName, Value: d.fam.name}})
	}
	res.Reject(outcome.Rejection{Item: item, ItemKind: ItemKind, Series: series,
		Reason: pr.reason, Samples: samples, Detail: pr.detail()})
}

// rejectUnsupported rejects a data point of a kind premetrics does not
// take (an exponential histogram).
func (d *decoder) rejectUnsupported() {
	item := d.items
	d.items++
	d.res.Items++
	d.reject(item, 1, problem{reason: outcome.ReasonUnsupported, code: prExpHistogram}, "")
}
