package localcluster

import "syscall"

// The cluster's processes die with the program that started them, even when
// it is killed without a chance to clean up (a test binary hitting its
// timeout, say).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
