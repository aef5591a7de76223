package localcloud

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

func setDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGTERM }

// procStat reads a process's start time (clock ticks since boot) and whether it is a
// zombie from /proc/<pid>/stat.
func procStat(pid int) (startTicks uint64, zombie, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, false
	}
	// The command name (field 2) may hold spaces and parentheses: split after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 { // f[0] is field 3 (state), f[19] is field 22 (starttime)
		return 0, false, false
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, false, false
	}
	return ticks, f[0] == "Z" || f[0] == "X", true
}
