package testenv

import "syscall"

// childProcAttr makes the kernel SIGKILL the child when the test binary
// dies without running its cleanups (a -timeout panic, os.Exit, a crash).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
