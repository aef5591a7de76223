//go:build !unix

package localcloud

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// The local cloud manages Unix process groups; elsewhere it builds but cannot start
// instances, so the CLI still compiles.
var errUnsupported = errors.New("localcloud: instances need a Unix system")

func spawn([]string, []string, *os.File, bool) (*exec.Cmd, error) { return nil, errUnsupported }
func signalGroup(int, syscall.Signal) error                       { return errUnsupported }
func alive(int, uint64) bool                                      { return false }
func killGroupLeftovers(int)                                      {}
func procStat(int) (uint64, bool, bool)                           { return 0, false, false }
func lockStateDir(string) (func(), error)                         { return func() {}, nil }

func exitReason(st *os.ProcessState) (int, string) {
	if st == nil {
		return -1, "process ended"
	}
	return st.ExitCode(), "process ended"
}
