package localcloud

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/zerodown/zerodown/internal/localcloud/api"
)

// record is what survives a daemon restart, one per instance, in state.json.
type record struct {
	ID         string            `json:"id"`
	Version    string            `json:"version"`
	Image      string            `json:"image,omitempty"`
	LaunchKey  string            `json:"launchKey"`
	Port       int               `json:"port"`
	Args       []string          `json:"args"`
	Env        map[string]string `json:"env,omitempty"`
	HealthPath string            `json:"healthPath"`
	LogPath    string            `json:"logPath"`
	PID        int               `json:"pid,omitempty"`
	StartTicks uint64            `json:"startTicks,omitempty"` // tells a reused PID from ours
	Status     string            `json:"status"`
	Attached   bool              `json:"attached"`
	// Healthy is kept so that a restarted daemon serves adopted instances at once
	// (after one confirming check) instead of waiting for the healthy threshold.
	Healthy   bool      `json:"healthy"`
	ExitCode  *int      `json:"exitCode,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
}

func (r *record) address() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

// live reports whether the process is (or is about to be) running.
func (r *record) live() bool {
	return r.Status == api.StatusPending || r.Status == api.StatusRunning || r.Status == api.StatusStopping
}

// instance is a record plus what only lives in memory. Every field is guarded by
// Daemon.mu except the channels and the stop once.
type instance struct {
	rec record

	okStreak, failStreak int
	draining             bool
	drainTimer           *time.Timer
	leases               map[*lease]struct{}

	// exited is closed once the process is gone (or was never started).
	exited     chan struct{}
	exitedOnce sync.Once
	// stopHealth ends the health checks and the liveness watch.
	stopHealth context.CancelFunc
	// stopped is set by the first terminate; later ones wait on it.
	stopped chan struct{}
}

func newInstance(rec record) *instance {
	return &instance{rec: rec, leases: map[*lease]struct{}{}, exited: make(chan struct{}), stopHealth: func() {}}
}

func (in *instance) markExited() { in.exitedOnce.Do(func() { close(in.exited) }) }

// eligible is the load balancer's rule: only running, attached, healthy targets
// take new requests and connections.
func (in *instance) eligible() bool {
	return in.rec.Status == api.StatusRunning && in.rec.Attached && in.rec.Healthy
}

// view is the API's picture of the instance; callers hold Daemon.mu.
func (in *instance) view(weights map[string]int) api.Instance {
	v := api.Instance{
		ID:          in.rec.ID,
		Version:     in.rec.Version,
		Address:     in.rec.address(),
		LaunchKey:   in.rec.LaunchKey,
		PID:         in.rec.PID,
		Status:      in.rec.Status,
		Healthy:     in.rec.Healthy,
		Attached:    in.rec.Attached,
		Draining:    in.draining,
		Connections: len(in.leases),
		Weight:      weights[in.rec.Version],
		ExitCode:    in.rec.ExitCode,
		LastError:   in.rec.LastError,
		LogPath:     in.rec.LogPath,
	}
	for l := range in.leases {
		if l.isWebSocket() {
			v.WebSockets++
		}
	}
	if in.rec.Status == api.StatusExited {
		v.LogTail = logTail(in.rec.LogPath, 4096, 20)
	}
	return v
}

// logTail returns the last lines of a log file, for crash reports.
func logTail(path string, maxBytes int64, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-maxBytes, 0)
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line was cut
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}
