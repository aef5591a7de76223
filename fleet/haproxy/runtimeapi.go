package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Client talks to HAProxy's Runtime API, one command per connection: HAProxy answers
// a command sent without "prompt" and closes, so there is no session to lose when
// HAProxy reloads or restarts between two commands. The address is a stats socket at
// level admin, or the master CLI of master-worker mode (-S, Debian's default
// /run/haproxy-master.sock): commands then go to the serving worker (@1), and session
// counts include the old workers a reload left finishing their sessions.
type Client struct {
	network, address string
	// Timeout bounds each command, connection included.
	Timeout time.Duration
	// MaxReply bounds the bytes read for one answer.
	MaxReply int64

	mu   sync.Mutex
	kind socketKind
}

type socketKind int

const (
	kindUnknown socketKind = iota
	kindStats              // a worker's stats socket
	kindMaster             // the master CLI
)

// Defaults of a Client: a show stat of a thousand servers is about 1 MB.
const (
	DefaultCommandTimeout = 5 * time.Second
	DefaultMaxReply       = 8 << 20
)

// ErrUnreachable marks a Runtime API that could not be reached or answered nothing
// (HAProxy stopped, or restarting): a later try may work.
var ErrUnreachable = errors.New("haproxy runtime API unreachable")

// RuntimeError is HAProxy refusing a command; Reply is its own words.
type RuntimeError struct {
	Command string
	Reply   string
}

func (e *RuntimeError) Error() string {
	return fmt.Sprintf("haproxy refused %q: %s", e.Command, e.Reply)
}

// NewClient returns a client of the Runtime API at addr: an absolute path is a Unix
// socket, anything else host:port over TCP.
func NewClient(addr string) (*Client, error) {
	c := &Client{Timeout: DefaultCommandTimeout, MaxReply: DefaultMaxReply}
	switch {
	case strings.HasPrefix(addr, "/"):
		c.network, c.address = "unix", addr
	default:
		host, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
			return nil, fmt.Errorf("runtime API address %q is neither an absolute socket path nor host:port", addr)
		}
		c.network, c.address = "tcp", addr
	}
	return c, nil
}

// Address is where the client sends commands.
func (c *Client) Address() string { return c.address }

// Exec sends one command and returns HAProxy's whole answer. The command must be one
// line without ';' (HAProxy would run what follows as another command).
func (c *Client) Exec(ctx context.Context, cmd string) (string, error) {
	if cmd == "" || strings.ContainsAny(cmd, ";\n\r") {
		return "", fmt.Errorf("runtime API command %q must be one line without ';'", cmd)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.address)
	if err != nil {
		if parent.Err() != nil {
			return "", parent.Err()
		}
		return "", fmt.Errorf("%w at %s: %v", ErrUnreachable, c.address, err)
	}
	defer conn.Close()
	// Unblock reads and writes as soon as the context ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", c.ioError(parent, cmd, err)
	}
	// The master CLI answers once it sees the end of the input; a stats socket does not mind.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	b, err := io.ReadAll(io.LimitReader(conn, c.MaxReply+1))
	if err != nil {
		return "", c.ioError(parent, cmd, err)
	}
	if int64(len(b)) > c.MaxReply {
		return "", fmt.Errorf("haproxy's answer to %q is longer than %d bytes", cmd, c.MaxReply)
	}
	if len(b) == 0 {
		// Every command answers at least a newline: HAProxy closed without one (stopping).
		return "", fmt.Errorf("%w at %s: %q got no answer", ErrUnreachable, c.address, cmd)
	}
	return string(b), nil
}

// ioError words a failed exchange: the caller's context ending, or HAProxy that did
// not answer within the command timeout or dropped the connection.
func (c *Client) ioError(parent context.Context, cmd string, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("haproxy at %s, %q: %w", c.address, cmd, parent.Err())
	}
	return fmt.Errorf("%w at %s: %q: %v", ErrUnreachable, c.address, cmd, err)
}

// IsMaster tells whether the address is the master CLI, asking once ("show proc" is a
// master command; a stats socket does not know it).
func (c *Client) IsMaster(ctx context.Context) (bool, error) {
	c.mu.Lock()
	kind := c.kind
	c.mu.Unlock()
	if kind == kindUnknown {
		out, err := c.Exec(ctx, "show proc")
		if err != nil {
			return false, err
		}
		kind = kindStats
		if strings.HasPrefix(out, "#<PID>") {
			kind = kindMaster
		}
		c.mu.Lock()
		c.kind = kind
		c.mu.Unlock()
	}
	return kind == kindMaster, nil
}

// run sends a command to the serving worker: as is to a stats socket, prefixed with
// @1 (the current worker) through the master CLI.
func (c *Client) run(ctx context.Context, cmd string) (string, error) {
	master, err := c.IsMaster(ctx)
	if err != nil {
		return "", err
	}
	if master {
		return c.Exec(ctx, "@1 "+cmd)
	}
	return c.Exec(ctx, cmd)
}

// OldWorkers lists, through the master CLI, the processes previous reloads left
// finishing their sessions ("show proc", section "# old workers").
func (c *Client) OldWorkers(ctx context.Context) ([]int, error) {
	out, err := c.Exec(ctx, "show proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	old := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "#") {
			old = strings.TrimSpace(line) == "# old workers"
			continue
		}
		f := strings.Fields(line)
		if !old || len(f) < 2 || f[1] != "worker" {
			continue
		}
		if pid, err := strconv.Atoi(f[0]); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// expect runs cmd and fails with HAProxy's words unless its answer, trimmed, is want.
func (c *Client) expect(ctx context.Context, cmd, want string) error {
	out, err := c.run(ctx, cmd)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != want {
		return &RuntimeError{Command: cmd, Reply: got}
	}
	return nil
}

// safeName is what HAProxy accepts as a proxy or server name; checking it keeps a
// name from smuggling arguments or a second command into a command line.
var safeName = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func checkNames(names ...string) error {
	for _, n := range names {
		if !safeName.MatchString(n) {
			return fmt.Errorf("%q is not an HAProxy name (1 to 64 letters, digits, '.', '_', ':' or '-')", n)
		}
	}
	return nil
}

// AdminState is the state an operator (or zerodown) sets on a server.
type AdminState string

// Admin states of `set server <b>/<s> state`.
const (
	StateReady AdminState = "ready" // takes new traffic
	StateDrain AdminState = "drain" // no new sessions, current ones go on; checks still run
	StateMaint AdminState = "maint" // no traffic at all, checks paused
)

// SetState sets a server's administrative state.
func (c *Client) SetState(ctx context.Context, backend, server string, s AdminState) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.expect(ctx, fmt.Sprintf("set server %s/%s state %s", backend, server, s), "")
}

// SetHealthDown forces a server's health down: HAProxy's checks must then pass (rise
// times) before it is up again.
func (c *Client) SetHealthDown(ctx context.Context, backend, server string) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.expect(ctx, fmt.Sprintf("set server %s/%s health down", backend, server), "")
}

// SetWeight sets a server's weight (0 to 256).
func (c *Client) SetWeight(ctx context.Context, backend, server string, weight int) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.expect(ctx, fmt.Sprintf("set server %s/%s weight %d", backend, server, weight), "")
}

// AddServer adds a dynamic server, in maintenance as HAProxy creates them. args are
// server keywords ("check", "inter", "200ms", ...).
func (c *Client) AddServer(ctx context.Context, backend, server, addr string, args ...string) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	for _, a := range append([]string{addr}, args...) {
		if a == "" || strings.ContainsAny(a, " \t;\n\r") {
			return fmt.Errorf("server argument %q must be one word", a)
		}
	}
	cmd := fmt.Sprintf("add server %s/%s %s", backend, server, strings.Join(append([]string{addr}, args...), " "))
	return c.expect(ctx, cmd, "New server registered.")
}

// DelServer deletes a server; HAProxy requires it in maintenance and without
// connections.
func (c *Client) DelServer(ctx context.Context, backend, server string) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.expect(ctx, fmt.Sprintf("del server %s/%s", backend, server), "Server deleted.")
}

// EnableHealth starts the health checks of a server (dynamic servers start without).
func (c *Client) EnableHealth(ctx context.Context, backend, server string) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.expect(ctx, fmt.Sprintf("enable health %s/%s", backend, server), "")
}

// ShutdownSessions closes every session a server holds.
func (c *Client) ShutdownSessions(ctx context.Context, backend, server string) error {
	if err := checkNames(backend, server); err != nil {
		return err
	}
	return c.expect(ctx, fmt.Sprintf("shutdown sessions server %s/%s", backend, server), "")
}

// ServersState is the raw `show servers state` of every backend, in the format of a
// server-state file: what to save before a reload so that load-server-state-from-file
// restores drains, maintenance and weights.
func (c *Client) ServersState(ctx context.Context) (string, error) {
	out, err := c.run(ctx, "show servers state")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(out, "1\n") {
		return "", &RuntimeError{Command: "show servers state", Reply: strings.TrimSpace(out)}
	}
	return out, nil
}
