package rules

import (
	"slices"
	"strings"

	"github.com/premetrics/premetrics/batch"
)

// labelSet is the working state of one relabeling: labels sorted by name,
// unique, without empty values — what labels.Builder.Labels would return
// at every point of Prometheus' relabel.ProcessBuilder.
//
// The labels are edited in place (ls may be the caller's slice); an
// insertion beyond cap(ls) moves them to buf unless inBuf says ls is the
// caller's buffer already, which may grow.
//
// seq reproduces the iteration order of labels.Builder.Range, which
// labelmap depends on when two labels map to the same name: labels never
// set since the start (seq 0) come first in sorted order, then the labels
// set since, in the order they were first set (a label set again keeps its
// place; deleted and set again, it moves to the end). It is kept only when
// ordered.
type labelSet struct {
	ls    []batch.Label
	buf   []batch.Label
	inBuf bool

	ordered bool
	seq     []uint32
	next    uint32

	join []byte        // source_labels joined
	snap []batch.Label // labelmap's snapshot
}

// resetSeq starts order tracking for n labels, all unset.
func (s *labelSet) resetSeq(n int) {
	s.ordered = true
	s.seq = slices.Grow(s.seq[:0], n)[:n]
	clear(s.seq)
	s.next = 1
}

// release drops references to the caller's labels before pooling.
func (s *labelSet) release() {
	s.ls, s.buf = nil, nil
	clear(s.snap[:cap(s.snap)])
	s.snap = s.snap[:0]
}

// get returns the value of name, or "" when absent.
func (s *labelSet) get(name string) string {
	for i := range s.ls {
		if s.ls[i].Name == name {
			return s.ls[i].Value
		}
	}
	return ""
}

// index returns the position of name, or where it would be inserted.
func (s *labelSet) index(name string) (int, bool) {
	for i := range s.ls {
		if s.ls[i].Name == name {
			return i, true
		}
	}
	i, _ := slices.BinarySearchFunc(s.ls, name, func(l batch.Label, n string) int { return strings.Compare(l.Name, n) })
	return i, false
}

// set sets name to value, like labels.Builder.Set: an empty value deletes.
func (s *labelSet) set(name, value string) {
	if value == "" {
		s.del(name)
		return
	}
	i, found := s.index(name)
	if found {
		s.ls[i].Value = value
		if s.ordered && s.seq[i] == 0 {
			s.seq[i] = s.next
			s.next++
		}
		return
	}
	if len(s.ls) == cap(s.ls) && !s.inBuf {
		s.buf = append(slices.Grow(s.buf[:0], len(s.ls)+4), s.ls...)
		s.ls, s.inBuf = s.buf, true
	}
	s.ls = slices.Insert(s.ls, i, batch.Label{Name: name, Value: value})
	if s.ordered {
		s.seq = slices.Insert(s.seq, i, s.next)
		s.next++
	}
}

// del removes name if present.
func (s *labelSet) del(name string) {
	for i := range s.ls {
		if s.ls[i].Name == name {
			s.ls = slices.Delete(s.ls, i, i+1)
			if s.ordered {
				s.seq = slices.Delete(s.seq, i, i+1)
			}
			return
		}
	}
}

// keepNames removes the labels whose name matches m (want false) or does
// not match it (want true).
func (s *labelSet) keepNames(m *matcher, want bool) {
	n := 0
	for i := range s.ls {
		if m.match(s.ls[i].Name) != want {
			continue
		}
		if n != i {
			s.ls[n] = s.ls[i]
			if s.ordered {
				s.seq[n] = s.seq[i]
			}
		}
		n++
	}
	clear(s.ls[n:])
	s.ls = s.ls[:n]
	if s.ordered {
		s.seq = s.seq[:n]
	}
}

// snapshot copies the labels into s.snap in labels.Builder.Range order.
func (s *labelSet) snapshot() []batch.Label {
	s.snap = append(s.snap[:0], s.ls...)
	if !s.ordered {
		return s.snap
	}
	n := 0
	for i := range s.ls {
		if s.seq[i] == 0 {
			s.snap[n] = s.ls[i]
			n++
		}
	}
	for want := uint32(1); n < len(s.ls) && want < s.next; want++ {
		for i, q := range s.seq {
			if q == want {
				s.snap[n] = s.ls[i]
				n++
				break
			}
		}
	}
	return s.snap
}
