//go:build linux

package main

import "syscall"

// childAttr puts the gateway in its own process group (a Ctrl-C reaches
// only the flood, which then stops the gateway in order) and has the
// kernel end it if the flood dies without cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
