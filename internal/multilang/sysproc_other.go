//go:build !unix

package multilang

import "syscall"

func childSysProcAttr() *syscall.SysProcAttr { return nil }
