// Package sidebyside measures what a release costs the users of a fleet: it puts the
// same load (open-loop HTTP reads and writes, WebSocket clients following boards) on
// two fleets of the demo service, one after the other, and replaces the version of
// each — the first with a full zerodown release, the second the naive way — and
// tabulates what the load saw. bench/zerodowntime prints the table and records it in
// BENCHMARKS.md; a shorter run is a test.
package sidebyside

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/workflows"
)

// Mode is a way to replace the fleet's version.
type Mode string

const (
	// Zerodown runs a zerodown release through the CLI: canary, soak, rolling promote,
	// session migration, drain.
	Zerodown Mode = "zerodown"
	// Naive replaces one instance after the other: terminate it (SIGTERM), launch the
	// new version, attach it. No detach first, no draining, no session migration.
	Naive Mode = "naive"
	// InPlace upgrades fixed servers behind a real HAProxy where they stand, through a
	// zerodown in-place release: per server drain, session migration, wait drained,
	// maintenance, deploy, HAProxy's checks, ready; the first server is the canary.
	InPlace Mode = "inplace"
	// InPlaceNaive upgrades the same servers by hand, one after the other: stop the
	// process, start the new version where it stood. HAProxy learns of it from its checks.
	InPlaceNaive Mode = "inplace-naive"
)

// Config describes a comparison. Zero fields take the defaults of the full benchmark.
type Config struct {
	Root    string // repository root
	BinDir  string // where demo.Build put the binaries (default Root/bin)
	WorkDir string // each mode works in WorkDir/<mode> (default Root/.tmp/bench-zerodowntime)
	Spec    string // release spec (default Root/bench/zerodowntime/release.yaml)

	// Temporal is a running Temporal frontend for the zerodown mode; empty starts the
	// dev server from TemporalCLI on free ports.
	Temporal    string
	TemporalCLI string

	From, To  string // versions before and after (default v1 and v2)
	Instances int    // fleet size (default 8)
	Rate      float64
	WSClients int
	Boards    int // boards the load spreads over (default 10)
	// Warmup is the steady load before the release starts (default 30s).
	Warmup time.Duration
	// RampUp is the start of the warmup while a hundred clients open their connections
	// at once, as no real audience does: its requests count in the totals but its
	// latency is kept out of the steady window (default 10s, at most Warmup).
	RampUp time.Duration
	// Cooldown is the least steady load after the release ends (default 20s); the load
	// then goes on until MinRequests requests were due (default 100,000).
	Cooldown    time.Duration
	MinRequests int64

	// ServiceMigrates keeps the demo service's own session migration on SIGTERM. Off,
	// the service closes its WebSockets when it stops, as one that knows nothing of
	// migration does; both modes run the same service either way.
	ServiceMigrates bool

	Modes []Mode    // default zerodown then naive
	Out   io.Writer // progress (default os.Stdout)
}

// Full-benchmark defaults: the figures issue 4 asks the zerodown column to hold at.
const (
	DefaultInstances   = 8
	DefaultRate        = 500
	DefaultWSClients   = 100
	DefaultMinRequests = 100_000
)

func (c *Config) defaults() {
	if c.BinDir == "" {
		c.BinDir = filepath.Join(c.Root, "bin")
	}
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(c.Root, ".tmp", "bench-zerodowntime")
	}
	if c.Spec == "" {
		c.Spec = filepath.Join(c.Root, "bench", "zerodowntime", "release.yaml")
	}
	if c.From == "" {
		c.From = "v1"
	}
	if c.To == "" {
		c.To = "v2"
	}
	if c.Instances == 0 {
		c.Instances = DefaultInstances
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.WSClients == 0 {
		c.WSClients = DefaultWSClients
	}
	if c.Boards == 0 {
		c.Boards = 10
	}
	if c.Warmup == 0 {
		c.Warmup = 30 * time.Second
	}
	if c.RampUp == 0 {
		c.RampUp = 10 * time.Second
	}
	c.RampUp = min(c.RampUp, c.Warmup)
	if c.Cooldown == 0 {
		c.Cooldown = 20 * time.Second
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultMinRequests
	}
	if len(c.Modes) == 0 {
		c.Modes = []Mode{Zerodown, Naive}
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
}

// Column is what one mode's run saw.
type Column struct {
	Mode Mode `json:"mode"`
	// Outcome is how the replacement ended: the release's phase for zerodown.
	Outcome string        `json:"outcome"`
	Release time.Duration `json:"release"` // from the first step to the last
	// Fleet counts healthy attached instances per version afterwards.
	Fleet  map[string]int  `json:"fleet"`
	Load   *loadgen.Report `json:"load"`
	Leaked []string        `json:"leaked,omitempty"`
}

// Window returns the named load window ("steady" or "release"); zero if none.
func (c Column) Window(name string) loadgen.Window {
	if c.Load != nil {
		for _, w := range c.Load.Windows {
			if w.Name == name {
				return w
			}
		}
	}
	return loadgen.Window{Name: name}
}

// The load windows besides loadgen.SteadyWindow.
const (
	RampUpWindow  = "ramp-up"
	ReleaseWindow = "release"
)

// Result is a whole comparison.
type Result struct {
	Config  Config    `json:"-"`
	Started time.Time `json:"started"`
	Columns []Column  `json:"columns"`
}

// Run runs each mode in turn, each on a fresh local world, and returns the columns
// measured so far with the first error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	res := &Result{Config: cfg, Started: time.Now()}
	for _, m := range cfg.Modes {
		col, err := runMode(ctx, cfg, m)
		if col.Load != nil {
			res.Columns = append(res.Columns, col)
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", m, err)
		}
	}
	return res, nil
}

func runMode(ctx context.Context, cfg Config, mode Mode) (col Column, err error) {
	col.Mode = mode
	if mode != Zerodown && mode != Naive && mode != InPlace && mode != InPlaceNaive {
		return col, fmt.Errorf("unknown mode %q (zerodown, naive, inplace or inplace-naive)", mode)
	}
	opts := demo.Options{
		Root: cfg.Root, BinDir: cfg.BinDir, WorkDir: filepath.Join(cfg.WorkDir, string(mode)), Spec: cfg.Spec,
		Temporal: cfg.Temporal, TemporalCLI: cfg.TemporalCLI,
		Seed: cfg.From, Instances: cfg.Instances, Rate: cfg.Rate, WSClients: cfg.WSClients,
		CloudOnly: mode == Naive || mode == InPlaceNaive, Out: cfg.Out,
	}
	if !cfg.ServiceMigrates {
		opts.InstanceArgs = []string{"--migrate-on-sigterm=false"}
	}
	for i := range cfg.Boards {
		opts.Boards = append(opts.Boards, fmt.Sprintf("bench-%d", i))
	}
	// Free ports: other people's demos and tests run on the same machine.
	if opts.CloudAPI, err = demo.FreeAddr(); err != nil {
		return col, err
	}
	if opts.LB, err = demo.FreeAddr(); err != nil {
		return col, err
	}
	if (mode == Zerodown || mode == InPlace) && cfg.Temporal == "" {
		if opts.TemporalPort, err = demo.FreePort(); err != nil {
			return col, err
		}
		if opts.UIPort, err = demo.FreePort(); err != nil {
			return col, err
		}
	}

	start := demo.Start
	if mode == InPlace || mode == InPlaceNaive {
		start = demo.StartOnPrem
	}
	w, err := start(ctx, opts)
	defer func() {
		col.Leaked = w.Stop()
		if len(col.Leaked) > 0 && err == nil {
			err = fmt.Errorf("processes left running: %v", col.Leaked)
		}
	}()
	if err != nil {
		return col, err
	}
	gen, err := w.NewLoad()
	if err != nil {
		return col, err
	}
	if err := gen.Start(ctx); err != nil {
		return col, fmt.Errorf("start the load: %w", err)
	}
	gen.Mark(RampUpWindow + "-start")
	w.Say("%s: %d x %s under %.0f requests/s (30%% writes) and %d WebSocket clients on %d boards; %s of steady load first",
		mode, cfg.Instances, cfg.From, cfg.Rate, cfg.WSClients, cfg.Boards, cfg.Warmup)
	stopProgress := w.Progress(ctx, gen)
	defer func() {
		stopProgress()
		col.Load = gen.Stop()
	}()
	if err := sleep(ctx, cfg.RampUp); err != nil {
		return col, err
	}
	gen.Mark(RampUpWindow + "-end")
	if err := sleep(ctx, cfg.Warmup-cfg.RampUp); err != nil {
		return col, err
	}

	gen.Mark("release-start")
	began := time.Now()
	switch mode {
	case Zerodown, InPlace:
		var r demo.Result
		r, err = w.Release(ctx, cfg.To)
		col.Outcome = string(r.Phase)
		if err == nil && r.Phase != workflows.PhaseSucceeded {
			err = fmt.Errorf("the release ended %s (exit %d): %s", r.Phase, r.ExitCode, r.Error)
		}
	case Naive, InPlaceNaive:
		if mode == Naive {
			err = naiveRelease(ctx, w, cfg.To)
		} else {
			err = naiveInPlace(w, cfg.To)
		}
		col.Outcome = "done"
		if err != nil {
			col.Outcome = "failed"
		}
	}
	col.Release = time.Since(began)
	gen.Mark("release-end")
	if err != nil {
		return col, err
	}
	w.Say("%s: %s to %s in %s; steady load for at least %s and until %d requests", mode, col.Outcome, cfg.To,
		col.Release.Round(time.Second), cfg.Cooldown, cfg.MinRequests)
	if col.Fleet, err = w.Serving(ctx); err != nil {
		return col, err
	}
	if err := sleep(ctx, cfg.Cooldown); err != nil {
		return col, err
	}
	for gen.Report().Requests < cfg.MinRequests {
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return col, err
		}
	}
	w.Say("%s: stopping the load and checking every WebSocket client saw every update...", mode)
	return col, nil
}

// naiveRelease replaces the fleet as a deploy script without zerodown does, one
// instance at a time: terminate it (the local cloud sends SIGTERM and takes it out of
// the load balancer as it does), launch the new version, attach it, and wait until it
// is healthy before the next, so that at most one instance is missing at any time. It
// does not detach first, drain, or ask for session migration.
func naiveRelease(ctx context.Context, w *demo.World, version string) error {
	f := w.Fleet()
	st, err := f.Describe(ctx)
	if err != nil {
		return err
	}
	var old []fleet.Instance
	for _, in := range st.Instances {
		if in.Attached && in.Version != version {
			old = append(old, in)
		}
	}
	for i, in := range old {
		if err := f.Terminate(ctx, []string{in.ID}); err != nil {
			return err
		}
		ins, err := f.Launch(ctx, fleet.LaunchRequest{Key: fmt.Sprintf("naive/%s/%d", version, i), Version: version, Count: 1})
		if err != nil {
			return err
		}
		ids := []string{ins[0].ID}
		if err := f.Attach(ctx, ids); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err = f.WaitHealthy(wctx, ids)
		cancel()
		if err != nil {
			return err
		}
		w.Say("naive: %d/%d: %s (%s) replaced by %s (%s)", i+1, len(old), in.ID, in.Version, ids[0], version)
	}
	return nil
}

// Check returns why a column does not show zero downtime, nil if it does: no failed
// request, no update lost, no WebSocket session dropped without a reconnect
// instruction, at least minRequests requests, and a p99 latency during the release at
// most maxP99Ratio times the steady one (0 skips that check).
func (c Column) Check(minRequests int64, maxP99Ratio float64) error {
	l := c.Load
	if l == nil {
		return errors.New("no load report")
	}
	var errs []error
	if l.Requests < minRequests {
		errs = append(errs, fmt.Errorf("%d requests, fewer than %d", l.Requests, minRequests))
	}
	if l.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d failed requests %+v", l.Failed, l.Failures))
	}
	if ws := l.WebSocket; ws != nil {
		if ws.Dropped > 0 {
			errs = append(errs, fmt.Errorf("%d WebSocket sessions dropped without a reconnect instruction", ws.Dropped))
		}
		if ws.Lost > 0 {
			errs = append(errs, fmt.Errorf("%d updates lost", ws.Lost))
		}
		if ws.VerifyError != "" || ws.NotStarted > 0 {
			errs = append(errs, fmt.Errorf("lost updates not fully checked: %q, %d clients never started", ws.VerifyError, ws.NotStarted))
		}
	}
	if r := c.p99Ratio(); maxP99Ratio > 0 && r > maxP99Ratio {
		errs = append(errs, fmt.Errorf("p99 during the release is %.2fx the steady p99 (at most %.2fx)", r, maxP99Ratio))
	}
	return errors.Join(errs...)
}

// p99Ratio is the release window's p99 over the steady one's (0 when unknown).
func (c Column) p99Ratio() float64 {
	steady, rel := c.Window(loadgen.SteadyWindow).Latency.P99, c.Window(ReleaseWindow).Latency.P99
	if steady <= 0 {
		return 0
	}
	return rel / steady
}

// Column returns the named mode's column.
func (r *Result) Column(m Mode) (Column, bool) {
	i := slices.IndexFunc(r.Columns, func(c Column) bool { return c.Mode == m })
	if i < 0 {
		return Column{}, false
	}
	return r.Columns[i], true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
