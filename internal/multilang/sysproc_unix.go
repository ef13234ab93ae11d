//go:build unix

package multilang

import "syscall"

// childSysProcAttr puts a child in its own process group, so that a Ctrl-C or a signal to
// the daemon's group reaches the daemon alone, which then shuts its children down in order.
func childSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
