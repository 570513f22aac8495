//go:build !linux

package testenv

import "syscall"

// childProcAttr: only Linux can tie a child's life to its parent; elsewhere
// the test's cleanups are the only guarantee.
func childProcAttr() *syscall.SysProcAttr { return nil }
