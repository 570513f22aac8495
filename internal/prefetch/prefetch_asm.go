//go:build amd64 || arm64

package prefetch

import "unsafe"

// Line asks the CPU to load the cache line at p without waiting for
// it (PREFETCHT0, PRFM PLDL1KEEP). It never faults and has no effect on
// program state.
//
//go:noescape
func Line(p unsafe.Pointer)
