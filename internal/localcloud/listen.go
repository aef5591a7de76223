package localcloud

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Listeners passed by a supervisor, the systemd way (socket activation): LISTEN_FDS
// says how many descriptors follow stdin, stdout and stderr, LISTEN_FDNAMES names them
// "api" and "lb" (in that order when unnamed), and LISTEN_PID, when set, must be ours.
// The supervisor keeps its copies open while the daemon restarts, so the load
// balancer's port goes on accepting connections — they wait in the kernel's queue for
// the next daemon — instead of refusing them.
const (
	listenFDsEnv   = "LISTEN_FDS"
	listenNamesEnv = "LISTEN_FDNAMES"
	listenPIDEnv   = "LISTEN_PID"
	firstListenFD  = 3
)

// ListenEnv is the environment a supervisor gives the daemon along with the API's and
// the load balancer's listening sockets as its descriptors 3 and 4 (exec.Cmd.ExtraFiles).
func ListenEnv() []string {
	return []string{listenFDsEnv + "=2", listenNamesEnv + "=api:lb"}
}

// inheritedListeners takes the listeners a supervisor passed, if any, and removes the
// variables that announced them, so that no instance believes it was passed them too.
func inheritedListeners() (apiLn, lbLn net.Listener, err error) {
	apiLn, lbLn, err = listenersFrom(os.Getenv, firstListenFD)
	for _, k := range []string{listenFDsEnv, listenNamesEnv, listenPIDEnv} {
		_ = os.Unsetenv(k)
	}
	return apiLn, lbLn, err
}

// listenersFrom reads the protocol from getenv, the descriptors from first on.
func listenersFrom(getenv func(string) string, first int) (apiLn, lbLn net.Listener, err error) {
	n, _ := strconv.Atoi(getenv(listenFDsEnv))
	if n <= 0 {
		return nil, nil, nil
	}
	if pid := getenv(listenPIDEnv); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return nil, nil, nil // meant for another process
	}
	names := strings.Split(getenv(listenNamesEnv), ":")
	for i := range n {
		name := "api"
		if i == 1 {
			name = "lb"
		}
		if i < len(names) && names[i] != "" {
			name = names[i]
		}
		f := os.NewFile(uintptr(first+i), name)
		// FileListener dups the descriptor close-on-exec; closing ours keeps it out of
		// the instances the daemon starts.
		ln, err := net.FileListener(f)
		_ = f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("inherited listener %d (%s): %w", first+i, name, err)
		}
		switch name {
		case "api":
			apiLn = ln
		case "lb":
			lbLn = ln
		default:
			_ = ln.Close()
			return nil, nil, fmt.Errorf("inherited listener %d is named %q; want api or lb", first+i, name)
		}
	}
	return apiLn, lbLn, nil
}

// checkAPIListener refuses an API listener that is not on loopback, as for Listen.
func checkAPIListener(ln net.Listener) error {
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
		return fmt.Errorf("api listener %s: the API starts processes, so it only listens on loopback (127.0.0.1)", a)
	}
	return nil
}
