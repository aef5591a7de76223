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

// RunOnPrem runs the demo with HAProxy in front of fixed servers: a Temporal dev server,
// a worker serving the haproxy provider, the servers (inplaceworld: each a demo service
// process, a supervisor the deploy command asks to restart one on a version), the load
// through HAProxy, and the releases, each upgrading the servers in place. The canary's
// analysis, approval and hooks are the demo spec's.
func RunOnPrem(ctx context.Context, opts Options) (sum *Summary, err error) {
	opts.defaults()
	sum = &Summary{}
	w := &World{opts: opts, out: opts.Out, noCloud: true}
	var iw *inplaceworld.World
	defer func() {
		if iw != nil {
			if cerr := iw.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
		sum.Leaked = w.Stop()
		if len(sum.Leaked) > 0 && err == nil {
			err = fmt.Errorf("processes left running: %v", sum.Leaked)
		}
	}()
	if err := os.RemoveAll(opts.WorkDir); err != nil {
		return sum, err
	}
	if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return sum, err
	}
	demoSpec, err := schemas.Load(opts.Spec)
	if err != nil {
		return sum, err
	}
	if err := w.startTemporal(ctx); err != nil {
		return sum, err
	}
	if _, err := w.start("worker", w.bin("zerodown-worker"), "--providers", schemas.ProviderHAProxy,
		"--metrics", "127.0.0.1:0", "--log-level", "warn"); err != nil {
		return sum, err
	}
	w.Say("worker started for the haproxy provider (log: %s)", w.logPath("worker"))
	n := opts.Instances
	if n == 0 {
		n = 4
	}
	iw, err = inplaceworld.New(inplaceworld.Config{
		Servers: n, Version: opts.Seed, Args: []string{"--log-level", "warn"},
		BinFor: func(v string) string { return filepath.Join(opts.BinDir, "releases", v, "demoapp") },
	})
	if err != nil {
		return sum, err
	}
	w.Say("HAProxy at %s in front of %d fixed servers on %s (Runtime API %s)", iw.HAProxy.URL, n, opts.Seed, iw.HAProxy.Socket)

	spec := iw.Spec(demoSpec.Environment, demoSpec.Canary.Soak.D())
	spec.Canary = demoSpec.Canary
	spec.Canary.Instances = 0 // in place, the first server is the canary
	spec.Hooks = demoSpec.Hooks
	spec.Promote.PauseBetweenBatches = demoSpec.Promote.PauseBetweenBatches
	schemas.Defaults(&spec)
	if err := schemas.Validate(&spec); err != nil {
		return sum, fmt.Errorf("the on-premises demo spec: %w", err)
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return sum, err
	}
	w.spec, w.specPath = &spec, filepath.Join(opts.WorkDir, "release.json")
	if err := os.WriteFile(w.specPath, b, 0o644); err != nil {
		return sum, err
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
