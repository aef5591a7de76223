// Package analysistest runs what canary analysis is tested and benchmarked against,
// for real: the demo service as local cloud instances (good and faulty ones), a steady
// load on them, and a Prometheus server that discovers them through the local cloud's
// targets.json. It takes no testing.TB so that bench/reaction can use it too; tests
// wrap its Stop functions in t.Cleanup.
package analysistest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/localcloud"
	"github.com/zerodown/zerodown/schemas"
)

// DemoappPackage is the demo service the worlds run.
const DemoappPackage = "github.com/zerodown/zerodown/examples/demoapp"

// BuildDemoapp builds the demo service into dir and returns the binary's path.
func BuildDemoapp(dir string) (string, error) {
	bin := filepath.Join(dir, "demoapp")
	return bin, BuildDemoappAt(bin, "")
}

// BuildDemoappAt builds the demo service at path with baked-in flags (e.g.
// "--error-rate=0.5"): a bad build, as a real bad release carries its bug, so one
// command template can launch good and bad versions.
func BuildDemoappAt(path, bakedFlags string) error {
	args := []string{"build", "-o", path}
	if bakedFlags != "" {
		args = append(args, "-ldflags", "-X main.bakedFlags="+bakedFlags)
	}
	out, err := exec.Command("go", append(args, DemoappPackage)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("building the demo service: %v\n%s", err, out)
	}
	return nil
}

// World is a local cloud running demo service instances.
type World struct {
	Cloud    *localcloud.Daemon
	API      string // base URL of the local cloud's API
	StateDir string // holds targets.json, for Prometheus
	dir      string
	bin      string
}

// TargetsFile is the local cloud's Prometheus file-SD list.
func (w *World) TargetsFile() string { return filepath.Join(w.StateDir, "targets.json") }

// StartWorld starts a local cloud in dir (its state, logs and the demo's store) that
// launches the demoapp binary at bin. Health checks run every 100ms so that launches
// are quick.
func StartWorld(ctx context.Context, dir, bin string) (*World, error) {
	stateDir := filepath.Join(dir, "localcloud")
	cfg := localcloud.DefaultConfig()
	cfg.Listen, cfg.LB = "127.0.0.1:0", "127.0.0.1:0"
	cfg.StateDir = stateDir
	cfg.HealthInterval = 100 * time.Millisecond
	cfg.HealthTimeout = time.Second
	cfg.StopGrace = 5 * time.Second
	cfg.TerminateOnExit = true
	logf, err := os.Create(filepath.Join(dir, "localcloud.log"))
	if err != nil {
		return nil, err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logf, nil))
	d, err := localcloud.Start(ctx, cfg)
	if err != nil {
		logf.Close()
		return nil, err
	}
	go func() { <-d.Done(); logf.Close() }()
	return &World{Cloud: d, API: "http://" + d.APIAddr(), StateDir: stateDir, dir: dir, bin: bin}, nil
}

// LB is the load balancer's base URL.
func (w *World) LB() string { return "http://" + w.Cloud.LBAddr() }

// Fleet drives the world's instances; faults are extra demoapp flags
// (e.g. "--error-rate", "0.5") given to the instances it launches.
func (w *World) Fleet(faults ...string) *local.Fleet {
	return w.FleetWith(w.bin, faults...)
}

// FleetWith is Fleet launching another build of the demo service.
func (w *World) FleetWith(bin string, faults ...string) *local.Fleet {
	return local.New(w.API, schemas.LocalSpec{Command: w.Command(bin, faults...), HealthPath: "/healthz"})
}

// Command is the launch command of the demo service at bin in this world.
func (w *World) Command(bin string, faults ...string) []string {
	return append([]string{bin, "--version", "{{.Version}}", "--port", "{{.Port}}",
		"--store", filepath.Join(w.dir, "board.db"), "--log-level", "warn"}, faults...)
}

// Launch starts count instances of version with the given faults, waits until they are
// healthy and attaches them to the load balancer.
func (w *World) Launch(ctx context.Context, key, version string, count int, faults ...string) ([]fleet.Instance, error) {
	f := w.Fleet(faults...)
	ins, err := f.Launch(ctx, fleet.LaunchRequest{Key: key, Version: version, Count: count})
	if err != nil {
		return nil, err
	}
	ids := IDs(ins)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := f.WaitHealthy(wctx, ids); err != nil {
		return nil, err
	}
	if err := f.Attach(ctx, ids); err != nil {
		return nil, err
	}
	return w.Instances(ctx, ids...)
}

// Instances returns the current state of the instances with these ids.
func (w *World) Instances(ctx context.Context, ids ...string) ([]fleet.Instance, error) {
	st, err := w.Fleet().Describe(ctx)
	if err != nil {
		return nil, err
	}
	var out []fleet.Instance
	for _, id := range ids {
		if in, ok := st.Find(id); ok {
			out = append(out, in)
		}
	}
	return out, nil
}

// Stop terminates every instance and stops the local cloud.
func (w *World) Stop() error {
	select {
	case <-w.Cloud.Done():
		return nil
	default:
	}
	return w.Cloud.Stop(true)
}

// IDs lists the instances' ids.
func IDs(ins []fleet.Instance) []string {
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, in.ID)
	}
	return out
}

// Addresses lists the instances' host:port addresses.
func Addresses(ins []fleet.Instance) []string {
	out := make([]string, 0, len(ins))
	for _, in := range ins {
		out = append(out, in.Address)
	}
	return out
}
