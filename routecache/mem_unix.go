//go:build unix

package routecache

import (
	"fmt"
	"syscall"
	"unsafe"
)

// region is anonymous memory mapped from the OS: outside the Go heap, so
// it neither counts toward the GC's heap goal (a cache of 16 MiB does not
// let the heap grow by half as much again) nor costs the GC anything, and
// its pages take memory only once written.
type region struct{ b []byte }

func allocate(n int) *region {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(fmt.Sprintf("routecache: cannot map %d bytes: %v", n, err))
	}
	return &region{b: b}
}

func (r *region) ptr() unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(r.b)) }

// drop has the OS take back the pages; they read as zero afterwards.
func (r *region) drop() {
	if r.b != nil {
		_ = syscall.Madvise(r.b, syscall.MADV_DONTNEED)
	}
}

func (r *region) free() {
	if r.b != nil {
		_ = syscall.Munmap(r.b)
		r.b = nil
	}
}
