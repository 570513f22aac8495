// Package lines splits the body of a line protocol (Influx, Prometheus
// text) into lines, the way both decoders number and trim them, without
// allocating.
package lines

import "bytes"

// Scanner yields the lines of data: split at '\n', a trailing '\r'
// removed, numbered from 1. The last line needs no newline; an empty body
// has no lines, a body ending in '\n' no empty last one.
type Scanner struct {
	data []byte
	n    int
}

// New returns a Scanner over data.
func New(data []byte) Scanner { return Scanner{data: data} }

// Next returns the next line and its 1-based number; ok is false at the end.
func (s *Scanner) Next() (text []byte, n int, ok bool) {
	if len(s.data) == 0 {
		return nil, 0, false
	}
	text = s.data
	if i := bytes.IndexByte(s.data, '\n'); i >= 0 {
		text, s.data = s.data[:i], s.data[i+1:]
	} else {
		s.data = nil
	}
	if k := len(text); k > 0 && text[k-1] == '\r' {
		text = text[:k-1]
	}
	s.n++
	return text, s.n, true
}
