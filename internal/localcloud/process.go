//go:build unix

package localcloud

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
)

// spawn starts one instance process. It runs in its own process group so a Ctrl-C
// meant for the daemon's terminal never reaches it, and so that terminating the group
// also stops whatever the command started (a shell wrapper's children).
func spawn(args, env []string, log *os.File, killWithDaemon bool) (*exec.Cmd, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Stdin = nil
	// The child writes its own log file, with no copying goroutine in the daemon, so
	// its output keeps flowing while the daemon is down.
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !killWithDaemon {
		return cmd, cmd.Start()
	}
	setDeathSignal(cmd.SysProcAttr)
	var err error
	onSpawnThread(func() { err = cmd.Start() })
	return cmd, err
}

var (
	spawnOnce sync.Once
	spawnCh   chan func()
)

// onSpawnThread runs fn on one OS thread that lives as long as the process. The
// kernel sends the death signal when the thread that forked the child exits, not the
// process, and Go may retire idle threads; a locked thread that never returns is the
// only one that is certain to die with the daemon and not before.
func onSpawnThread(fn func()) {
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must outlive every child
			for f := range spawnCh {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawnCh <- func() { fn(); close(done) }
	<-done
}

// signalGroup signals the instance's process group, falling back to the process
// itself if it left the group.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		err = syscall.Kill(pid, sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}

// alive reports whether pid is still the process that was started with startTicks
// (0 when unknown): a PID reused by an unrelated process must never be adopted or
// signalled.
func alive(pid int, startTicks uint64) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	ticks, zombie, ok := procStat(pid)
	if !ok {
		return true // no /proc: trust kill(0)
	}
	if zombie {
		return false
	}
	return startTicks == 0 || ticks == startTicks
}

// exitReason turns a finished process into an exit code and a sentence.
func exitReason(st *os.ProcessState) (int, string) {
	if st == nil {
		return -1, "process ended"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), fmt.Sprintf("killed by signal %s", ws.Signal())
	}
	return st.ExitCode(), fmt.Sprintf("exited with code %d", st.ExitCode())
}

// killGroupLeftovers kills what remains of an instance's process group after its
// leader is gone (children of a shell wrapper). Only the group is signalled: the
// leader's PID may already belong to someone else.
func killGroupLeftovers(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// lockStateDir takes an exclusive lock on the state dir so that two daemons never
// manage the same instances. The lock dies with the process, so a crashed daemon
// never blocks its successor.
func lockStateDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "daemon.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state dir %s is in use by another localcloud daemon", dir)
		}
		return nil, fmt.Errorf("locking state dir %s: %w", dir, err)
	}
	_ = f.Truncate(0)
	_, _ = fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
