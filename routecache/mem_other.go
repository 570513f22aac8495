//go:build !unix

package routecache

import "unsafe"

// region is memory from the Go heap where there is no mmap.
type region struct{ b []line }

func allocate(n int) *region { return &region{b: make([]line, n/int(unsafe.Sizeof(line{})))} }

func (r *region) ptr() unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(r.b)) }

// drop zeroes the lines, word by word: Gets and Puts may be running.
func (r *region) drop() {
	for i := range r.b {
		l := &r.b[i]
		l.seq.Store(0)
		l.hash.Store(0)
		l.check.Store(0)
		l.used.Store(0)
		for j := range l.routes {
			l.routes[j].Store(0)
		}
	}
}

func (r *region) size() int { return len(r.b) * int(unsafe.Sizeof(line{})) }
