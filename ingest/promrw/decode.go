package promrw

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"unicode/utf8"
	"unsafe"

	"github.com/golang/snappy"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/protoscan"
	"github.com/premetrics/premetrics/ingest/outcome"
)

const metricNameLabel = batch.MetricName

// Decode decompresses body (one snappy block) into an arena of b, parses
// the prometheus.WriteRequest (remote write 1.0) in it and appends the
// valid series to b, with label strings aliasing the arena (see the
// package doc). res is reset and then describes the request: TimeSeries
// seen (Items), series and samples kept, metadata seen, and the series
// rejected individually. Limits.MaxLineBytes does not apply.
//
// An empty body is an empty request. On error (an *outcome.Error;
// errors.Is outcome.ErrTooLarge or outcome.ErrMalformed) b has the same
// series as before the call, though its arenas may have grown, and res
// must be ignored.
func Decode(body []byte, b *batch.Batch, lim outcome.Limits, res *outcome.Result) error {
	res.Reset()
	data, err := decompress(body, b, lim)
	if err != nil || len(data) == 0 {
		return err
	}
	p := parser{data: data, b: b, lim: lim, res: res}
	before := len(b.Series)
	if err := p.writeRequest(); err != nil {
		clear(b.Series[before:])
		b.Series = b.Series[:before]
		return err
	}
	return nil
}

// decompress checks the decoded size of the snappy block body against
// the limit, then decodes it into an arena of b. An empty body decodes
// to nothing.
func decompress(body []byte, b *batch.Batch, lim outcome.Limits) ([]byte, error) {
	if len(body) == 0 {
		return nil, nil
	}
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, snappyError("invalid length header: " + trimSnappy(err))
	}
	if lim.MaxDecodedBytes > 0 && n > lim.MaxDecodedBytes {
		return nil, tooLargeError(n, lim.MaxDecodedBytes)
	}
	data, err := snappy.Decode(b.Bytes(n), body)
	if err != nil {
		return nil, snappyError(trimSnappy(err))
	}
	return data, nil
}

func trimSnappy(err error) string {
	const prefix = "snappy: "
	s := err.Error()
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

type parser struct {
	data  []byte
	b     *batch.Batch
	lim   outcome.Limits
	res   *outcome.Result
	index batch.IdentIndex // the batch's (known.go), or nil
}

func (p *parser) writeRequest() error {
	data := p.data
	series := 0
	var spans []identSpan
	if p.index = p.b.IdentIndex(); p.index != nil {
		sp := spanPool.Get().(*[]identSpan)
		defer spanPool.Put(sp)
		spans = p.prescan(p.index, (*sp)[:0])
		*sp = spans
	}
	for i := 0; i < len(data); {
		num, wt, next, werr := protoscan.Tag(data, i)
		if werr != nil {
			return protoError(msgV1, werr, "")
		}
		switch num {
		case 1: // timeseries
			if werr := protoscan.WantType(i, "timeseries", wt, protoscan.BytesType); werr != nil {
				return protoError(msgV1, werr, "")
			}
			start, end, werr := protoscan.BytesField(data, next)
			if werr != nil {
				return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d]", series))
			}
			p.res.Items++
			var sp *identSpan
			if series < len(spans) && spans[series].ok {
				sp = &spans[series]
			}
			if err := p.timeSeries(start, end, series, sp); err != nil {
				return err
			}
			series++
			i = end
		case 3: // metadata
			if werr := protoscan.WantType(i, "metadata", wt, protoscan.BytesType); werr != nil {
				return protoError(msgV1, werr, "")
			}
			_, end, werr := protoscan.BytesField(data, next)
			if werr != nil {
				return protoError(msgV1, werr, fmt.Sprintf("metadata[%d]", p.res.Metadata))
			}
			p.res.Metadata++
			i = end
		case 4, 5:
			if wt == protoscan.BytesType {
				// Not in a WriteRequest: the symbols and timeseries of a
				// 2.0 Request, whose series would be skipped in silence.
				return protoError(msgV1, protoscan.Errorf(i, "field %d is not in a WriteRequest but is in a remote write 2.0 Request: send it with proto=%s", num, msgV2), "")
			}
			fallthrough
		default:
			end, werr := protoscan.Skip(data, next, wt)
			if werr != nil {
				return protoError(msgV1, werr, fmt.Sprintf("field %d", num))
			}
			i = end
		}
	}
	return nil
}

// timeSeries parses data[start:end], the si-th TimeSeries message. sp,
// when not nil, is its label run as prescan found it: a series the index
// knows is then parsed from the end of its labels on (known.go).
func (p *parser) timeSeries(start, end, si int, sp *identSpan) error {
	data := p.data[:end]
	b := p.b
	lim := p.lim
	var (
		pr                problem
		kept              int // labels with non-empty values
		labels, hist      int
		floats            int
		hasName           bool
		addSamples        = true
		labelLimitReached = false
		// The labels' bytes are data[start:labelsEnd] while no other
		// field came between them (as every sender writes them): that
		// run names the series (batch.Ident).
		labelsEnd  = start
		contiguous = true
		first      = start
		known      = sp != nil && p.index.Known(sp.id)
	)
	if known {
		first, hasName = sp.labelsEnd, true
	}
	b.StartSeries()
	for i := first; i < end; {
		// Fast path: a label as every sender encodes it, a non-empty
		// ASCII name and value under 128 bytes each, within the limits:
		// 0x0a len 0x0a nlen name 0x12 vlen value. Anything else,
		// including a label that breaks a rule, takes the general path.
		// ASCII bytes are valid UTF-8, and the framing bytes checked here
		// are ASCII too, so the check covers data[i:le] at once.
		if i+4 <= end && data[i] == 0x0a && data[i+1] < 0x80 && data[i+2] == 0x0a && data[i+3]-1 < 0x7f && pr.reason == outcome.ReasonNone {
			le := i + 2 + int(data[i+1])
			ne := i + 4 + int(data[i+3])
			if ne+2 <= le && le <= end && data[ne] == 0x12 && data[ne+1]-1 < 0x7f && ne+2+int(data[ne+1]) == le &&
				(lim.MaxLabelsPerSeries <= 0 || kept < lim.MaxLabelsPerSeries) &&
				(lim.MaxLabelNameLength <= 0 || ne-i-4 <= lim.MaxLabelNameLength) &&
				(lim.MaxLabelValueLength <= 0 || le-ne-2 <= lim.MaxLabelValueLength) &&
				isASCII(data[i:le]) {
				contiguous = contiguous && i == labelsEnd
				labelsEnd = le
				name := aliasString(data[i+4 : ne])
				labels++
				kept++
				hasName = hasName || name == metricNameLabel
				b.AddLabel(name, aliasString(data[ne+2:le]))
				i = le
				continue
			}
		}
		// Fast path: a sample under 128 bytes (always: 11 to 20 bytes).
		if i+2 <= end && data[i] == 0x12 && data[i+1] < 0x80 && i+2+int(data[i+1]) <= end {
			se := i + 2 + int(data[i+1])
			if ts, v, werr := parseSample(data[i+2:se], i+2); werr == nil {
				if addSamples {
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
			return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d]", si))
		}
		switch num {
		case 1: // labels
			if werr := protoscan.WantType(i, "labels", wt, protoscan.BytesType); werr != nil {
				b.AbandonSeries()
				return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d]", si))
			}
			ls, le, werr := protoscan.BytesField(data, next)
			if werr == nil {
				var name, value string
				name, value, werr = parseLabel(data[ls:le], ls)
				if werr == nil {
					contiguous = contiguous && i == labelsEnd
					labelsEnd = le
					labels++
					i = le
					if value == "" || pr.reason != outcome.ReasonNone {
						if value != "" {
							kept++
						}
						continue
					}
					kept++
					pr = checkLabel(name, value, lim)
					if pr.reason == outcome.ReasonNone && lim.MaxLabelsPerSeries > 0 && kept > lim.MaxLabelsPerSeries {
						pr.reason = outcome.ReasonTooManyLabels
						labelLimitReached = true
					}
					if pr.reason != outcome.ReasonNone {
						addSamples = false
						continue
					}
					hasName = hasName || name == metricNameLabel
					b.AddLabel(name, value)
					continue
				}
			}
			b.AbandonSeries()
			return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d].labels[%d]", si, labels))
		case 2: // samples
			if werr := protoscan.WantType(i, "samples", wt, protoscan.BytesType); werr != nil {
				b.AbandonSeries()
				return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d]", si))
			}
			ss, se, werr := protoscan.BytesField(data, next)
			if werr == nil {
				var ts int64
				var v float64
				ts, v, werr = parseSample(data[ss:se], ss)
				if werr == nil {
					if addSamples {
						b.AddSample(ts, v)
					}
					floats++
					i = se
					continue
				}
			}
			b.AbandonSeries()
			return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d].samples[%d]", si, floats))
		case 4: // histograms
			if werr := protoscan.WantType(i, "histograms", wt, protoscan.BytesType); werr != nil {
				b.AbandonSeries()
				return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d]", si))
			}
			_, he, werr := protoscan.BytesField(data, next)
			if werr != nil {
				b.AbandonSeries()
				return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d].histograms[%d]", si, hist))
			}
			hist++
			i = he
		default: // 3 exemplars and unknown fields
			next, werr = protoscan.Skip(data, next, wt)
			if werr != nil {
				b.AbandonSeries()
				return protoError(msgV1, werr, fmt.Sprintf("timeseries[%d] field %d", si, num))
			}
			i = next
		}
	}
	if labelLimitReached {
		pr.n = kept
	}
	raw := data[start:end]
	switch {
	case floats == 0 && hist == 0:
		b.AbandonSeries()
		return nil
	case pr.reason == outcome.ReasonNone && !hasName:
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
	switch {
	case sp != nil:
		b.SetIdent(sp.id)
	case contiguous && labelsEnd > start:
		b.SetIdent(batch.IdentOf(data[start:labelsEnd]))
	}
	if known {
		b.FinishWireSeries(aliasString(data[start:sp.labelsEnd]), decodeWireLabels)
	} else if !b.FinishSeries() {
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
func (p *parser) reject(pr problem, si, samples, floats int, raw []byte) {
	if !p.res.WantDetail() {
		p.res.Reject(outcome.Rejection{Item: si, ItemKind: itemKind, Reason: pr.reason, Samples: samples})
		return
	}
	p.res.Reject(rejection(pr, si, samples, floats, labelsV1(raw), p.lim, 0))
}

// checkLabel validates one label with a non-empty value.
func checkLabel(name, value string, lim outcome.Limits) problem {
	switch {
	case name == "" || !validUTF8(name):
		return problem{reason: outcome.ReasonInvalidLabelName, name: name}
	case lim.MaxLabelNameLength > 0 && len(name) > lim.MaxLabelNameLength:
		return problem{reason: outcome.ReasonLabelNameTooLong, name: name}
	case lim.MaxLabelValueLength > 0 && len(value) > lim.MaxLabelValueLength:
		return problem{reason: outcome.ReasonLabelValueTooLong, name: name, value: value}
	case !validUTF8(value):
		return problem{reason: outcome.ReasonInvalidLabelValue, name: name}
	}
	return problem{}
}

// labelsV1 yields the labels of a TimeSeries message that has already
// been parsed successfully, in the order sent.
func labelsV1(raw []byte) iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		for i := 0; i < len(raw); {
			num, wt, next, err := protoscan.Tag(raw, i)
			if err != nil {
				return
			}
			if num != 1 || wt != protoscan.BytesType {
				if i, err = protoscan.Skip(raw, next, wt); err != nil {
					return
				}
				continue
			}
			start, end, err := protoscan.BytesField(raw, next)
			if err != nil {
				return
			}
			name, value, err := parseLabel(raw[start:end], start)
			if err != nil || !yield(name, value) {
				return
			}
			i = end
		}
	}
}

// parseLabel parses a Label message; base is its offset in the request.
// The strings alias data.
func parseLabel(data []byte, base int) (name, value string, err *protoscan.Error) {
	// Fast path: the encoding every sender produces for a non-empty name
	// and value under 128 bytes: 0x0a len name 0x12 len value.
	if len(data) >= 4 && data[0] == 0x0a && data[1] < 0x80 {
		n := 2 + int(data[1])
		if n+2 <= len(data) && data[n] == 0x12 && data[n+1] < 0x80 && n+2+int(data[n+1]) == len(data) {
			return aliasString(data[2:n]), aliasString(data[n+2:]), nil
		}
	}
	return parseLabelSlow(data, base)
}

func parseLabelSlow(data []byte, base int) (name, value string, err *protoscan.Error) {
	for i := 0; i < len(data); {
		num, wt, next, err := protoscan.Tag(data, i)
		if err != nil {
			return "", "", rebase(err, base)
		}
		if num == 1 || num == 2 {
			field := "name"
			if num == 2 {
				field = "value"
			}
			if err := protoscan.WantType(i, field, wt, protoscan.BytesType); err != nil {
				return "", "", rebase(err, base)
			}
			start, end, err := protoscan.BytesField(data, next)
			if err != nil {
				return "", "", rebase(err, base)
			}
			if num == 1 {
				name = aliasString(data[start:end])
			} else {
				value = aliasString(data[start:end])
			}
			i = end
			continue
		}
		if i, err = protoscan.Skip(data, next, wt); err != nil {
			return "", "", rebase(err, base)
		}
	}
	return name, value, nil
}

// parseSample parses a Sample message; base is its offset in the request.
func parseSample(data []byte, base int) (ts int64, v float64, err *protoscan.Error) {
	// Fast path: 0x09 value(8 bytes) 0x10 timestamp(varint), as sent.
	if len(data) >= 11 && data[0] == 0x09 && data[9] == 0x10 {
		if u, ok := uvarintEnd(data, 10); ok {
			return int64(u), math.Float64frombits(binary.LittleEndian.Uint64(data[1:9])), nil
		}
	}
	return parseSampleSlow(data, base)
}

func parseSampleSlow(data []byte, base int) (ts int64, v float64, err *protoscan.Error) {
	for i := 0; i < len(data); {
		num, wt, next, err := protoscan.Tag(data, i)
		if err != nil {
			return 0, 0, rebase(err, base)
		}
		switch num {
		case 1:
			if err := protoscan.WantType(i, "value", wt, protoscan.Fixed64Type); err != nil {
				return 0, 0, rebase(err, base)
			}
			var bits uint64
			bits, i, err = protoscan.Fixed64(data, next)
			if err != nil {
				return 0, 0, rebase(err, base)
			}
			v = math.Float64frombits(bits)
		case 2:
			if err := protoscan.WantType(i, "timestamp", wt, protoscan.VarintType); err != nil {
				return 0, 0, rebase(err, base)
			}
			var u uint64
			u, i, err = protoscan.Uvarint(data, next)
			if err != nil {
				return 0, 0, rebase(err, base)
			}
			ts = int64(u)
		default:
			if i, err = protoscan.Skip(data, next, wt); err != nil {
				return 0, 0, rebase(err, base)
			}
		}
	}
	return ts, v, nil
}

func rebase(err *protoscan.Error, base int) *protoscan.Error {
	err.Off += base
	return err
}

// aliasString returns a string sharing b's memory; b must not change while
// the string is in use (the batch arena guarantees that until Reset).
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// isASCII reports whether every byte of b is below 0x80, with
// overlapping word loads instead of a loop over the tail bytes.
func isASCII(b []byte) bool {
	n := len(b)
	switch {
	case n >= 8:
		acc := binary.LittleEndian.Uint64(b[n-8:])
		for i := 0; i+8 <= n; i += 8 {
			acc |= binary.LittleEndian.Uint64(b[i:])
		}
		return acc&0x8080808080808080 == 0
	case n >= 4:
		return (binary.LittleEndian.Uint32(b)|binary.LittleEndian.Uint32(b[n-4:]))&0x80808080 == 0
	}
	var or byte
	for _, c := range b {
		or |= c
	}
	return or < 0x80
}

// validUTF8 is utf8.ValidString with a fast path for the short ASCII
// strings that make up nearly all label names and values.
func validUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}
