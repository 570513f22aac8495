// Package prefetch hints the CPU to load memory a hot loop will read a few
// iterations later, so that the cache misses of several iterations overlap
// instead of following one another. Hints never fault and do not change
// program state; on architectures without an implementation they do
// nothing.
package prefetch
