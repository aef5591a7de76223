package localcloud

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Config configures the daemon. Zero fields take the values of DefaultConfig.
type Config struct {
	// Listen is the API address fleet/local talks to.
	Listen string
	// LB is the load balancer address clients send their traffic to.
	LB string
	// StateDir holds state.json, targets.json (Prometheus file SD) and logs/.
	StateDir string
	// APIListener and LBListener, when set, are served instead of binding Listen and
	// LB: sockets a supervisor holds across restarts of the daemon, so that clients of
	// the load balancer wait through a restart instead of being refused. Without them,
	// Start also takes the ones a supervisor passed the systemd way (see ListenEnv).
	APIListener, LBListener net.Listener

	// Health checks go straight to every live instance, attached or not, so that a
	// release can wait for new instances before they take traffic.
	HealthInterval     time.Duration
	HealthTimeout      time.Duration
	HealthyThreshold   int // consecutive successes before an instance takes traffic
	UnhealthyThreshold int // consecutive failures before it stops taking traffic
	// DefaultHealthPath is checked when a launch names no health path.
	DefaultHealthPath string

	// StopGrace is how long a terminated instance has between SIGTERM and SIGKILL.
	StopGrace time.Duration
	// DrainTimeout is how long a detached instance keeps its open connections when
	// the detach names no deadline; then they are closed.
	DrainTimeout time.Duration
	// CloseGrace is how long a stopping daemon keeps serving its load balancer's client
	// connections, answering each request with Connection: close, before it closes the
	// rest. A busy keep-alive connection then ends after a response instead of under a
	// request the client is sending (which a client may not retry), as Envoy's drain does.
	CloseGrace time.Duration

	// TerminateOnExit stops every instance when the daemon stops. Off by default: a
	// restarted daemon adopts the instances it left running, so traffic survives it.
	TerminateOnExit bool
	// KillInstancesWithDaemon asks the kernel to SIGTERM each instance's main process
	// whenever the daemon's process ends, even by SIGKILL (Linux only). Nothing is left
	// to adopt after a restart then; off by default.
	KillInstancesWithDaemon bool

	// Logger receives the daemon's events; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig is the configuration of `zerodown localcloud` without flags.
func DefaultConfig() Config {
	return Config{
		Listen:             "127.0.0.1:7070",
		LB:                 "127.0.0.1:8080",
		StateDir:           ".zerodown/localcloud",
		HealthInterval:     time.Second,
		HealthTimeout:      2 * time.Second,
		HealthyThreshold:   2,
		UnhealthyThreshold: 2,
		DefaultHealthPath:  "/healthz",
		StopGrace:          10 * time.Second,
		DrainTimeout:       5 * time.Minute, // ALB's default deregistration delay
		CloseGrace:         2 * time.Second,
	}
}

// withDefaults fills the zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.LB == "" {
		c.LB = d.LB
	}
	if c.StateDir == "" {
		c.StateDir = d.StateDir
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = d.HealthInterval
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = d.HealthTimeout
	}
	if c.HealthyThreshold <= 0 {
		c.HealthyThreshold = d.HealthyThreshold
	}
	if c.UnhealthyThreshold <= 0 {
		c.UnhealthyThreshold = d.UnhealthyThreshold
	}
	if c.DefaultHealthPath == "" {
		c.DefaultHealthPath = d.DefaultHealthPath
	}
	if c.StopGrace <= 0 {
		c.StopGrace = d.StopGrace
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = d.CloseGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Listen == c.LB && !strings.HasSuffix(c.Listen, ":0") {
		errs = append(errs, fmt.Errorf("listen and lb must differ (both %s)", c.Listen))
	}
	// The API runs any command it is given: it must never be reachable from elsewhere.
	if host, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: %v", c.Listen, err))
	} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		errs = append(errs, fmt.Errorf("listen %q: the API starts processes, so it only listens on loopback (127.0.0.1)", c.Listen))
	}
	if c.DefaultHealthPath[0] != '/' {
		errs = append(errs, fmt.Errorf("default health path %q must start with /", c.DefaultHealthPath))
	}
	return errors.Join(errs...)
}
