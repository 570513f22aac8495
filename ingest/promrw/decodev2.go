package promrw

import (
	"encoding/binary"
	"fmt"
	"iter"
	"unicode/utf8"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/protoscan"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// Written counts what DecodeV2 wrote to the batch, by the kinds remote
// write 2.0 reports in its X-Prometheus-Remote-Write-Samples-Written,
// -Histograms-Written and -Exemplars-Written response headers (once the
// batch is ingested). premetrics keeps neither native histograms nor
// exemplars, so Histograms and Exemplars are 0 for now.
type Written struct {
	Samples    int // float samples
	Histograms int // native histogram samples
	Exemplars  int
}

// DecodeV2 decompresses body (one snappy block) into an arena of b,
// parses the io.prometheus.write.v2.Request (remote write 2.0) in it and
// appends the valid series to b, with label strings aliasing the arena
// (see the package doc). res is reset and then describes the request as
// for Decode: TimeSeries seen (Items), series and float samples kept,
// non-empty metadata seen, and the series rejected individually. w (when
// not nil) is reset and then counts what was written to b.
//
// An empty body is an empty request. On error (an *outcome.Error;
// errors.Is outcome.ErrTooLarge or outcome.ErrMalformed) b has the same
// series as before the call, though its arenas may have grown, and res
// and w must be ignored.
func DecodeV2(body []byte, b *batch.Batch, lim outcome.Limits, res *outcome.Result, w *Written) error {
	res.Reset()
	if w != nil {
		*w = Written{}
	}
	data, err := decompress(body, b, lim)
	if err != nil || len(data) == 0 {
		return err
	}
	p := parserV2{data: data, b: b, lim: lim, res: res}
	before := len(b.Series)
	if err := p.request(); err != nil {
		clear(b.Series[before:])
		b.Series = b.Series[:before]
		return err
	}
	if w != nil {
		w.Samples = res.Samples
	}
	return nil
}

type parserV2 struct {
	data []byte
	b    *batch.Batch
	lim  outcome.Limits
	res  *outcome.Result

	// The symbol table: for each symbol, its start and end offsets in
	// data (little-endian uint32 each; a snappy block decodes to less
	// than 4 GiB), in an arena of b so that it costs no allocation.
	syms     []byte
	nsym     int
	allValid bool // every symbol is valid UTF-8: labels need no check
}

// sym returns symbol ref (< p.nsym), aliasing data.
func (p *parserV2) sym(ref uint64) string {
	t := p.syms[ref*8 : ref*8+8]
	return aliasString(p.data[binary.LittleEndian.Uint32(t):binary.LittleEndian.Uint32(t[4:])])
}

// request parses the whole message in three passes over its top-level
// fields: the framing of every field (counting the symbols), the symbol
// table, then the series. Protobuf allows the symbols anywhere, even
// after the series that use them.
func (p *parserV2) request() error {
	data := p.data
	var (
		nsym, series   int
		symFrom, symTo int         // from the first symbols field to the end of the last
		tsFrom         = len(data) // the first timeseries field
	)
	for i := 0; i < len(data); {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return protoError(msgV2, werr, "")
		}
		switch num {
		case 1, 2, 3:
			return protoError(msgV2, protoscan.Errorf(i, "field %d is reserved in remote write 2.0: is this a remote write 1.0 WriteRequest? Send it with proto=prometheus.WriteRequest", num), "")
		case 4: // symbols
			if werr := protoscan.WantType(i, "symbols", wt, protoscan.BytesType); werr != nil {
				return protoError(msgV2, werr, "")
			}
			_, end, werr := protoscan.BytesField(data, next)
			if werr != nil {
				return protoError(msgV2, werr, fmt.Sprintf("symbols[%d]", nsym))
			}
			if nsym == 0 {
				symFrom = i
			}
			nsym++
			symTo = end
			i = end
		case 5: // timeseries
			if werr := protoscan.WantType(i, "timeseries", wt, protoscan.BytesType); werr != nil {
				return protoError(msgV2, werr, "")
			}
			_, end, werr := protoscan.BytesField(data, next)
			if werr != nil {
				return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d]", series))
			}
			if series == 0 {
				tsFrom = i
			}
			series++
			i = end
		default:
			end, werr := protoscan.Skip(data, next, wt)
			if werr != nil {
				return protoError(msgV2, werr, fmt.Sprintf("field %d", num))
			}
			i = end
		}
	}

	if nsym > 0 {
		if err := p.symbols(symFrom, symTo, nsym); err != nil {
			return err
		}
	}

	si := 0
	for i := tsFrom; i < len(data); {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil { // checked by the first pass
			return protoError(msgV2, werr, "")
		}
		if num != 5 {
			if i, werr = protoscan.Skip(data, next, wt); werr != nil {
				return protoError(msgV2, werr, "")
			}
			continue
		}
		start, end, werr := protoscan.BytesField(data, next)
		if werr != nil {
			return protoError(msgV2, werr, "")
		}
		p.res.Items++
		if err := p.timeSeries(start, end, si); err != nil {
			return err
		}
		si++
		i = end
	}
	return nil
}

// symbols builds the table of the nsym symbols in data[from:to], whose
// framing the first pass checked.
func (p *parserV2) symbols(from, to, nsym int) error {
	data := p.data
	p.syms = p.b.Bytes(8 * nsym)
	p.nsym = nsym
	p.allValid = true
	k := 0
	for i := from; i < to; {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return protoError(msgV2, werr, "")
		}
		if num != 4 {
			if i, werr = protoscan.Skip(data, next, wt); werr != nil {
				return protoError(msgV2, werr, "")
			}
			continue
		}
		start, end, werr := protoscan.BytesField(data, next)
		if werr != nil {
			return protoError(msgV2, werr, "")
		}
		if k == 0 && end > start {
			return protoError(msgV2, protoscan.Errorf(start, "the first symbol is %s; it must be the empty string", outcome.Quote(aliasString(data[start:end]))), "symbols[0]")
		}
		binary.LittleEndian.PutUint32(p.syms[8*k:], uint32(start))
		binary.LittleEndian.PutUint32(p.syms[8*k+4:], uint32(end))
		if p.allValid && !isASCII(data[start:end]) {
			p.allValid = utf8.Valid(data[start:end])
		}
		k++
		i = end
	}
	return nil
}

// messageFields names the message fields 3 to 5 of a TimeSeries.
var messageFields = [...]string{3: "histograms", 4: "exemplars", 5: "metadata"}

// seriesV2 is the state of one TimeSeries being parsed.
type seriesV2 struct {
	pr                problem
	refs              int // label references seen
	kept              int // labels with non-empty values
	nameRef           uint64
	pending           bool // nameRef waits for its value reference
	hasName           bool
	addSamples        bool
	labelLimitReached bool
}

// ref takes the next label reference of series s.
func (p *parserV2) ref(s *seriesV2, ref uint64) {
	s.refs++
	if !s.pending {
		s.nameRef, s.pending = ref, true
		return
	}
	s.pending = false
	p.label(s, s.nameRef, ref)
}

// label takes the label of series s whose name and value are the symbols
// nr and vr, the last pair of references seen.
func (p *parserV2) label(s *seriesV2, nr, vr uint64) {
	if n := uint64(p.nsym); nr >= n || vr >= n {
		if s.pr.reason == outcome.ReasonNone {
			bad, index := vr, s.refs-1
			if nr >= n {
				bad, index = nr, s.refs-2
			}
			s.pr = problem{reason: outcome.ReasonMalformed, fault: faultRefOutside, ref: bad, index: index}
			s.addSamples = false
		}
		return
	}
	name, value := p.sym(nr), p.sym(vr)
	if value == "" || s.pr.reason != outcome.ReasonNone {
		if value != "" {
			s.kept++
		}
		return
	}
	s.kept++
	lim := &p.lim
	var reason outcome.Reason
	if p.allValid {
		switch {
		case name == "":
			reason = outcome.ReasonInvalidLabelName
		case lim.MaxLabelNameLength > 0 && len(name) > lim.MaxLabelNameLength:
			reason = outcome.ReasonLabelNameTooLong
		case lim.MaxLabelValueLength > 0 && len(value) > lim.MaxLabelValueLength:
			reason = outcome.ReasonLabelValueTooLong
		}
	} else {
		reason = lim.CheckLabel(name, value)
	}
	if reason == outcome.ReasonNone && lim.MaxLabelsPerSeries > 0 && s.kept > lim.MaxLabelsPerSeries {
		reason = outcome.ReasonTooManyLabels
		s.labelLimitReached = true
	}
	if reason != outcome.ReasonNone {
		s.pr = problem{reason: reason, name: name, value: value}
		s.addSamples = false
		return
	}
	s.hasName = s.hasName || name == metricNameLabel
	p.b.AddLabel(name, value)
}

// timeSeries parses data[start:end], the si-th TimeSeries message.
func (p *parserV2) timeSeries(start, end, si int) error {
	data := p.data[:end]
	b := p.b
	s := seriesV2{addSamples: true}
	var floats, hist int
	meta := false
	b.StartSeries()
	for i := start; i < end; {
		// Fast path: a sample under 128 bytes (always: 11 to 20 bytes).
		if data[i] == 0x12 && i+2 <= end && data[i+1] < 0x80 && i+2+int(data[i+1]) <= end {
			se := i + 2 + int(data[i+1])
			if ts, v, werr := parseSample(data[i+2:se], i+2); werr == nil {
				if s.addSamples {
					b.AddSample(ts, v)
				}
				floats++
				i = se
				continue
			}
		}
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			b.AbandonSeries()
			return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d]", si))
		}
		switch num {
		case 1: // labels_refs, packed (as sent) or not
			switch wt {
			case protoscan.BytesType:
				ls, le, werr := protoscan.BytesField(data, next)
				if werr != nil {
					b.AbandonSeries()
					return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d].labels_refs", si))
				}
				refs := data[:le]
				for j := ls; j < le; {
					if c := refs[j]; c < 0x80 {
						p.ref(&s, uint64(c))
						j++
						continue
					}
					ref, nj, werr := protoscan.Uvarint(refs, j)
					if werr != nil {
						b.AbandonSeries()
						return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d].labels_refs[%d]", si, s.refs))
					}
					p.ref(&s, ref)
					j = nj
				}
				i = le
			case protoscan.VarintType:
				ref, nj, werr := protoscan.Uvarint(data, next)
				if werr != nil {
					b.AbandonSeries()
					return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d].labels_refs[%d]", si, s.refs))
				}
				p.ref(&s, ref)
				i = nj
			default:
				b.AbandonSeries()
				return protoError(msgV2, protoscan.WrongType(i, "labels_refs", wt, protoscan.BytesType), fmt.Sprintf("timeseries[%d]", si))
			}
		case 2: // samples
			if werr := protoscan.WantType(i, "samples", wt, protoscan.BytesType); werr != nil {
				b.AbandonSeries()
				return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d]", si))
			}
			ss, se, werr := protoscan.BytesField(data, next)
			if werr == nil {
				var ts int64
				var v float64
				ts, v, werr = parseSample(data[ss:se], ss) // start_timestamp (3) is skipped
				if werr == nil {
					if s.addSamples {
						b.AddSample(ts, v)
					}
					floats++
					i = se
					continue
				}
			}
			b.AbandonSeries()
			return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d].samples[%d]", si, floats))
		case 3, 4, 5: // histograms, exemplars, metadata
			field := messageFields[num]
			if werr := protoscan.WantType(i, field, wt, protoscan.BytesType); werr != nil {
				b.AbandonSeries()
				return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d]", si))
			}
			fs, fe, werr := protoscan.BytesField(data, next)
			if werr != nil {
				b.AbandonSeries()
				if num == 5 {
					return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d].metadata", si))
				}
				return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d].%s[%d]", si, field, hist))
			}
			switch num {
			case 3:
				hist++
			case 5:
				meta = meta || fe > fs
			}
			i = fe
		default: // 6 created_timestamp (before 2.0-rc.4) and unknown fields
			next, werr = protoscan.Skip(data, next, wt)
			if werr != nil {
				b.AbandonSeries()
				return protoError(msgV2, werr, fmt.Sprintf("timeseries[%d] field %d", si, num))
			}
			i = next
		}
	}
	if meta {
		p.res.Metadata++
	}
	pr := s.pr
	if s.labelLimitReached {
		pr.n = s.kept
	}
	if s.pending {
		// The pairs are misaligned: whatever else is wrong, this is.
		pr = problem{reason: outcome.ReasonMalformed, fault: faultOddRefs, n: s.refs}
	}
	raw := data[start:end]
	switch {
	case floats == 0 && hist == 0:
		b.AbandonSeries()
		return nil
	case pr.reason == outcome.ReasonNone && !s.hasName:
		pr.reason = outcome.ReasonMissingMetricName
	}
	if pr.reason != outcome.ReasonNone {
		b.AbandonSeries()
		p.reject(pr, si, floats+hist, floats, raw)
		return nil
	}
	histProblem := problem{reason: outcome.ReasonNativeHistogramUnsupported, n: hist}
	if floats == 0 {
		b.AbandonSeries()
		p.reject(histProblem, si, hist, 0, raw)
		return nil
	}
	if !b.FinishSeries() {
		p.reject(problem{reason: outcome.ReasonDuplicateLabel}, si, floats+hist, floats, raw)
		return nil
	}
	p.res.Series++
	p.res.Samples += floats
	if hist > 0 {
		p.reject(histProblem, si, hist, floats, raw)
	}
	return nil
}

// reject reports the si-th TimeSeries, raw, as rejected; the rendering
// and detail are built only while the Result keeps details.
func (p *parserV2) reject(pr problem, si, samples, floats int, raw []byte) {
	if !p.res.WantDetail() {
		p.res.Reject(outcome.Rejection{Item: si, ItemKind: itemKind, Reason: pr.reason, Samples: samples})
		return
	}
	p.res.Reject(rejection(pr, si, samples, floats, p.labels(raw), p.lim, p.nsym))
}

// labels yields the labels of a TimeSeries message that has already been
// parsed successfully, in the order sent, leaving out pairs with a
// reference outside the symbol table and a name without a value.
func (p *parserV2) labels(raw []byte) iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		var nameRef uint64
		pending := false
		pair := func(ref uint64) bool {
			if !pending {
				nameRef, pending = ref, true
				return true
			}
			pending = false
			if n := uint64(p.nsym); nameRef >= n || ref >= n {
				return true
			}
			return yield(p.sym(nameRef), p.sym(ref))
		}
		for i := 0; i < len(raw); {
			num, wt, next, err := protoscan.Tag(raw, i)
			if err != nil {
				return
			}
			switch {
			case num == 1 && wt == protoscan.BytesType:
				start, end, err := protoscan.BytesField(raw, next)
				if err != nil {
					return
				}
				refs := raw[:end]
				for j := start; j < end; {
					var ref uint64
					if ref, j, err = protoscan.Uvarint(refs, j); err != nil || !pair(ref) {
						return
					}
				}
				i = end
			case num == 1 && wt == protoscan.VarintType:
				var ref uint64
				if ref, i, err = protoscan.Uvarint(raw, next); err != nil || !pair(ref) {
					return
				}
			default:
				if i, err = protoscan.Skip(raw, next, wt); err != nil {
					return
				}
			}
		}
	}
}
