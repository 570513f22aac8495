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
	// Lines are read at random: with 4 KiB pages nearly every read is a
	// TLB miss too, and a page walk is what a prefetch then waits for.
	// Huge pages (where transparent huge pages are on for madvise, as
	// by default) leave the whole cache to a few TLB entries.
	_ = syscall.Madvise(b, madvHugepage)
	return &region{b: b}
}

const madvHugepage = 14 // MADV_HUGEPAGE: not in package syscall

func (r *region) ptr() unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(r.b)) }

// drop has the OS take back the pages; they read as zero afterwards.
func (r *region) drop() {
	if r.b != nil {
		_ = syscall.Madvise(r.b, syscall.MADV_DONTNEED)
	}
}

func (r *region) size() int { return len(r.b) }
