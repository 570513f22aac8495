package promrw

import (
	"sync"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/protoscan"
)

// Series the batch's IdentIndex knows (batch.IdentIndex): before parsing
// a request, Decode walks its TimeSeries once to find each one's run of
// label bytes, hashes it into the series' Ident and has the index
// prefetch what it keeps for it. Parsing then asks the index about each
// series: one it knows keeps its labels undecoded (batch.Series.Wire),
// and only its samples are parsed.

// identSpan is what the walk found for one TimeSeries.
type identSpan struct {
	id        batch.Ident
	labelsEnd int  // the labels are data[start:labelsEnd] of the message
	ok        bool // they are one run at its start, and id is theirs
}

var spanPool = sync.Pool{New: func() any { return new([]identSpan) }}

// prescan walks the TimeSeries of the request, returning their spans
// (appended to spans) and prefetching them in ix. It stops, silently, at
// anything malformed: parsing reports it.
func (p *parser) prescan(ix batch.IdentIndex, spans []identSpan) []identSpan {
	data := p.data
	for i := 0; i < len(data); {
		num, wt, next, err := protoscan.Tag(data, i)
		if err != nil {
			return spans
		}
		if num != 1 || wt != protoscan.BytesType {
			if i, err = protoscan.Skip(data, next, wt); err != nil {
				return spans
			}
			continue
		}
		start, end, err := protoscan.BytesField(data, next)
		if err != nil {
			return spans
		}
		sp := identSpan{labelsEnd: labelRun(data[:end], start)}
		if sp.ok = sp.labelsEnd > start; sp.ok {
			sp.id = batch.IdentOf(data[start:sp.labelsEnd])
			ix.Prefetch(sp.id)
		}
		spans = append(spans, sp)
		i = end
	}
	return spans
}

// labelRun returns the end of the run of label fields data[start:] begins
// with, or start when they are not one run (another field before or
// between them) or the message is malformed.
func labelRun(data []byte, start int) int {
	i := start
	for i+1 < len(data) && data[i] == 0x0a { // field 1 (labels), bytes
		_, end, err := protoscan.BytesField(data, i+1)
		if err != nil {
			return start
		}
		i = end
	}
	labelsEnd := i
	for i < len(data) {
		num, wt, next, err := protoscan.Tag(data, i)
		if err != nil || num == 1 {
			return start
		}
		if i, err = protoscan.Skip(data, next, wt); err != nil {
			return start
		}
	}
	return labelsEnd
}

// decodeWireLabels appends to dst the labels of wire, labels the parser
// left undecoded (batch.Batch.LoadLabels): as the parser would have
// added them, without empty values. They were valid when first decoded.
func decodeWireLabels(wire string, dst []batch.Label) []batch.Label {
	data := unsafe.Slice(unsafe.StringData(wire), len(wire))
	for i := 0; i < len(data); {
		_, _, next, err := protoscan.Tag(data, i)
		if err != nil {
			return dst
		}
		ls, le, err := protoscan.BytesField(data, next)
		if err != nil {
			return dst
		}
		name, value, err := parseLabel(data[ls:le], ls)
		if err != nil {
			return dst
		}
		if value != "" {
			dst = append(dst, batch.Label{Name: name, Value: value})
		}
		i = le
	}
	return dst
}
