//go:build unix

package demo

// The demo on premises (`make demo LB=haproxy`): the same service, load and release
// checks, but four fixed servers behind a real HAProxy, upgraded where they stand.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zerodown/zerodown/fleet/haproxy"
	"github.com/zerodown/zerodown/internal/inplaceworld"
	"github.com/zerodown/zerodown/schemas"
)

// StartOnPrem brings the on-premises world up: the servers behind HAProxy and, unless
// opts.CloudOnly (the naive benchmark, which upgrades by hand), a Temporal dev server and
// a worker serving the haproxy provider. The World is returned even on error: Stop it
// either way; OnPrem gives its servers.
func StartOnPrem(ctx context.Context, opts Options) (w *World, err error) {
	opts.defaults()
	w = &World{opts: opts, out: opts.Out, noCloud: true}
	if err := os.RemoveAll(opts.WorkDir); err != nil {
		return w, err
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return w, err
	}
	demoSpec, err := schemas.Load(opts.Spec)
	if err != nil {
		return w, err
	}
	if !opts.CloudOnly {
		if err := w.startTemporal(ctx); err != nil {
			return w, err
		}
	}
	if !opts.CloudOnly {
		if _, err := w.start("worker", w.bin("zerodown-worker"), "--providers", schemas.ProviderHAProxy,
			"--metrics", "127.0.0.1:0", "--log-level", "warn"); err != nil {
			return w, err
		}
		w.Say("worker started for the haproxy provider (log: %s)", w.logPath("worker"))
	}
	n := opts.Instances
	if n == 0 {
		n = 4
	}
	iw, err := inplaceworld.New(inplaceworld.Config{
		Servers: n, Version: opts.Seed, Args: append([]string{"--log-level", "warn"}, opts.InstanceArgs...),
		BinFor: func(v string) string { return filepath.Join(opts.BinDir, "releases", v, "demoapp") },
	})
	if err != nil {
		return w, err
	}
	w.onprem = iw
	w.Say("HAProxy at %s in front of %d fixed servers on %s (Runtime API %s)", iw.HAProxy.URL, n, opts.Seed, iw.HAProxy.Socket)

	spec := iw.Spec(demoSpec.Environment, demoSpec.Canary.Soak.D())
	spec.Canary = demoSpec.Canary
	spec.Canary.Instances = 0 // in place, the first server is the canary
	spec.Hooks = demoSpec.Hooks
	spec.Promote.PauseBetweenBatches = demoSpec.Promote.PauseBetweenBatches
	schemas.Defaults(&spec)
	if err := schemas.Validate(&spec); err != nil {
		return w, fmt.Errorf("the on-premises demo spec: %w", err)
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return w, err
	}
	w.spec, w.specPath = &spec, filepath.Join(opts.WorkDir, "release.json")
	if err := os.WriteFile(w.specPath, b, 0o644); err != nil {
		return w, err
	}
	w.serving = func(ctx context.Context) (map[string]int, error) {
		f, err := haproxy.New(spec.Target.HAProxy, nil)
		if err != nil {
			return nil, err
		}
		st, err := f.Describe(ctx)
		if err != nil {
			return nil, err
		}
		m := map[string]int{}
		for _, in := range st.Instances {
			if in.Attached && in.Healthy {
				m[in.Version]++
			}
		}
		return m, nil
	}
	w.opts.LB = iw.HAProxy.URL[len("http://"):]
	return w, nil
}

// RunOnPrem runs the demo with HAProxy in front of fixed servers: a Temporal dev server,
// a worker serving the haproxy provider, the servers (inplaceworld: each a demo service
// process, a supervisor the deploy command asks to restart one on a version), the load
// through HAProxy, and the releases, each upgrading the servers in place. The canary's
// analysis, approval and hooks are the demo spec's.
func RunOnPrem(ctx context.Context, opts Options) (sum *Summary, err error) {
	sum = &Summary{}
	w, err := StartOnPrem(ctx, opts)
	defer func() {
		sum.Leaked = w.Stop()
		if len(sum.Leaked) > 0 && err == nil {
			err = fmt.Errorf("processes left running: %v", sum.Leaked)
		}
	}()
	if err != nil {
		return sum, err
	}
	iw, opts := w.onprem, w.opts
	gen, err := w.NewLoad()
	if err != nil {
		return sum, err
	}
	if err := gen.Start(ctx); err != nil {
		return sum, fmt.Errorf("start the load: %w", err)
	}
	w.Say("load: %.0f requests/s (30%% writes) and %d WebSocket clients through HAProxy at %s", opts.Rate, opts.WSClients, w.LB())
	stopProgress := w.Progress(ctx, gen)
	var runErr error
	for _, v := range opts.Releases {
		gen.Mark("release-start")
		res, err := w.Release(ctx, v)
		gen.Mark("release-end")
		if err != nil {
			runErr = err
			break
		}
		w.Say("servers: %v; deploys asked: %v", iw.Versions(), iw.Deploys())
		sum.Releases = append(sum.Releases, res)
	}
	stopProgress()
	w.Say("stopping the load and checking every WebSocket client saw every update...")
	time.Sleep(time.Second)
	sum.Load = gen.Stop()
	w.printSummary(sum)
	return sum, runErr
}

// OnPrem is the on-premises world's servers, nil for a world on the local cloud.
func (w *World) OnPrem() *inplaceworld.World { return w.onprem }

// closeOnPrem stops the servers and HAProxy of an on-premises world (Stop calls it).
func (w *World) closeOnPrem() error {
	if w.onprem == nil {
		return nil
	}
	err := w.onprem.Close()
	w.onprem = nil
	return err
}
