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
	// No transparent huge pages, also where they are on for all memory:
	// after a Drop, the few writes of requests still running would each
	// fault in 2 MiB, and a dropped cache of 16 MiB would be resident
	// again (seen in the harness' scenario b). With 4 KiB pages they take
	// a few pages. (Huge pages made lookups no measurably faster.)
	_ = syscall.Madvise(b, madvNoHugepage)
	return &region{b: b}
}

const madvNoHugepage = 15 // MADV_NOHUGEPAGE: not in package syscall

func (r *region) ptr() unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(r.b)) }

// drop has the OS take back the pages; they read as zero afterwards.
func (r *region) drop() {
	if r.b != nil {
		_ = syscall.Madvise(r.b, syscall.MADV_DONTNEED)
	}
}

func (r *region) size() int { return len(r.b) }
