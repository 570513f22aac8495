// Package race tells whether the binary was built with the race
// detector. Tests that count allocations skip themselves under it: it
// makes sync.Pool drop items at random, so pooled buffers are allocated
// again.
package race
