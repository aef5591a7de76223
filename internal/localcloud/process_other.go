//go:build unix && !linux

package localcloud

import "syscall"

// setDeathSignal is a no-op: only Linux has a parent-death signal.
func setDeathSignal(*syscall.SysProcAttr) {}

// procStat is unknown without /proc: alive trusts kill(pid, 0).
func procStat(int) (uint64, bool, bool) { return 0, false, false }
