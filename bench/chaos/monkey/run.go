package monkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/workflows"
)

// Run runs the chaos: it brings the local world up (a Temporal dev server on a file, so
// that it can restart, the local cloud, the worker, 4 x v1 under load), runs the
// releases while the monkey strikes, checks each one, and stops everything.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	cfg.defaults()
	res = &Result{Seed: cfg.Seed, Short: cfg.Short, Started: time.Now()}
	say := func(format string, args ...any) {
		fmt.Fprintf(cfg.Out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	opts := demo.Options{
		Root: cfg.Root, BinDir: cfg.BinDir, WorkDir: cfg.WorkDir, Spec: cfg.Spec, TemporalCLI: cfg.TemporalCLI,
		TemporalDB: filepath.Join(cfg.WorkDir, "temporal.db"),
		Rate:       cfg.Rate, WSClients: cfg.WSClients, Boards: []string{"chaos-a", "chaos-b"},
		Out: cfg.Out,
	}
	for _, p := range []*int{&opts.TemporalPort, &opts.UIPort} {
		if *p, err = demo.FreePort(); err != nil {
			return res, err
		}
	}
	for _, a := range []*string{&opts.CloudAPI, &opts.LB} {
		if *a, err = demo.FreeAddr(); err != nil {
			return res, err
		}
	}
	w, err := demo.Start(ctx, opts)
	defer func() {
		res.Leaked = w.Stop()
		res.Duration = time.Since(res.Started)
	}()
	if err != nil {
		return res, err
	}

	m := &monkey{w: w, say: say, ctx: ctx, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x2d6f776e))}
	prx, err := startProxy(w.CloudAPI(), m.afterCall)
	if err != nil {
		return res, err
	}
	defer prx.close()
	spec := w.Spec()
	local := *spec.Target.Local
	local.Endpoint = prx.URL // every call of the worker goes through the monkey's proxy
	spec.Target.Local = &local
	specPath := filepath.Join(cfg.WorkDir, "chaos-release.json")
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return res, err
	}
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		return res, err
	}

	gen, err := w.NewLoad()
	if err != nil {
		return res, err
	}
	if err := gen.Start(ctx); err != nil {
		return res, fmt.Errorf("start the load: %w", err)
	}
	m.gen = gen
	stopLoad := func() {
		if res.Load == nil {
			res.Load = gen.Stop()
		}
	}
	defer stopLoad()
	m.watch = watch(w.Client(), spec.ID(), 150*time.Millisecond)
	m.watch.onSnapshot(m.onSnapshot)
	defer m.watch.stop()
	say("chaos: seed %d; the worker talks to the local cloud through %s", cfg.Seed, prx.URL)

	restarts := m.planRestarts(cfg.Short)
	good, prev := []string{"v2", "v1"}, "v1"
	for n := 0; ; n++ {
		if cfg.Short && n == 2 || !cfg.Short && (n >= cfg.MaxReleases || m.killCount() >= cfg.Kills && n%2 == 0) {
			break
		}
		bad := n%2 == 1
		version := good[(n/2)%2]
		if bad {
			version = "v3"
		}
		rel := Release{Version: version, Want: workflows.PhaseSucceeded}
		final := version
		if bad {
			rel.Want, final = workflows.PhaseRolledBack, prev
		}
		old, err := serving(ctx, w)
		if err != nil {
			return res, err
		}
		m.arm(n, m.plan(n, bad, cfg.Short, restarts))
		say("release %d: %s (expect %s)", n+1, version, rel.Want)
		stopGates := abortAtGates(ctx, w, m.watch, say)
		err = runRelease(ctx, w, specPath, &rel, filepath.Join(cfg.WorkDir, fmt.Sprintf("release-%d.log", n+1)))
		rel.Problems = append(rel.Problems, stopGates()...)
		m.disarm()
		if err == nil {
			err = verify(ctx, w, spec, &rel, final, old)
		}
		res.Releases = append(res.Releases, rel)
		say("release %d: %s %s in %s (exit %d); launches %d/%d; fleet %v %s", n+1, version, rel.Got, rel.Duration.Round(time.Second),
			rel.Exit, rel.LaunchesGot, rel.LaunchesWant, rel.Fleet, problemsText(rel.Problems))
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("release %d: %v", n+1, err))
			break
		}
		if rel.Got == workflows.PhaseSucceeded {
			prev = version
		}
	}
	m.mu.Lock()
	res.Kills, res.Restarts = m.kills, m.restarts
	m.mu.Unlock()
	for i := range res.Kills {
		k := &res.Kills[i]
		if k.Release < len(res.Releases) && !k.revived.IsZero() {
			k.Resumed = resumedAfter(res.Releases[k.Release].done, k.At, k.revived, k.Activity)
		}
	}
	say("stopping the load and checking every WebSocket client saw every update...")
	stopLoad()
	return res, nil
}

// planRestarts draws when the Temporal server and the local cloud restart: Temporal
// mid-soak (a release must carry on across it), the local cloud in a random phase,
// gracefully (a restart must cost the load nothing) and, in the full form, also by a
// crash (requests in flight in its load balancer die with it).
func (m *monkey) planRestarts(short bool) map[int][]*trigger {
	r := m.rng
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond }
	soak := []workflows.Phase{workflows.PhaseSoaking}
	if short {
		return map[int][]*trigger{
			0: {{action: restartTemporal, phases: soak, delay: ms(2000, 8000), crash: r.IntN(2) == 0}},
			1: {{action: restartCloud, phases: soak, delay: ms(0, 6000)}},
		}
	}
	anyPhase := [][]workflows.Phase{soak, {workflows.PhasePromoting}, {workflows.PhaseDraining}, {workflows.PhaseRollingBack}}
	cloud := func(n int, crash bool) *trigger {
		phases := anyPhase[r.IntN(3)] // a good release: soaking, promoting or draining
		if n%2 == 1 {
			phases = anyPhase[[]int{0, 3}[r.IntN(2)]] // a bad one: soaking or rolling back
		}
		return &trigger{action: restartCloud, phases: phases, delay: ms(0, 3000), crash: crash}
	}
	return map[int][]*trigger{
		1: {cloud(1, false)},
		2: {{action: restartTemporal, phases: soak, delay: ms(1000, 9000), crash: r.IntN(2) == 0}},
		4: {cloud(4, true)},
		6: {{action: restartTemporal, phases: soak, delay: ms(1000, 9000), crash: r.IntN(2) == 0}},
		7: {cloud(7, r.IntN(2) == 0)},
	}
}

// abortAtGates aborts a release that stops to wait for a human (a review gate opens
// when the soak was not clean): the bench has nobody to decide, and a release that
// needs one did not carry on by itself — a problem to report, not to wait out.
func abortAtGates(ctx context.Context, w *demo.World, watch *watcher, say func(string, ...any)) (stop func() []string) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan []string, 1)
	go func() {
		var problems []string
		defer func() { done <- problems }()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			s := watch.now()
			if !s.OK || !s.Running || s.Phase != workflows.PhaseAwaitingApproval {
				continue
			}
			spec := w.Spec()
			say("chaos: the release waits for a human: aborting it")
			out, err := w.Command(ctx, "abort", spec.Service+"/"+spec.Environment, "--by", "bench-chaos",
				"--reason", "waiting for a human in a chaos run").CombinedOutput()
			problems = append(problems, fmt.Sprintf("%s (see its history); the bench aborted it: %s", stoppedAtGate, strings.TrimSpace(string(out))))
			if err != nil && ctx.Err() == nil {
				problems = append(problems, fmt.Sprintf("abort: %v", err))
			}
			return
		}
	}()
	return func() []string {
		cancel()
		return <-done
	}
}

const stoppedAtGate = "stopped at an approval gate"

var runIDPattern = regexp.MustCompile(`\(run id ([0-9a-f-]+)\)`)

// runRelease runs `zerodown start --wait` as CI does, then makes sure with the server
// itself that the release has ended, and how.
func runRelease(ctx context.Context, w *demo.World, specPath string, rel *Release, logPath string) error {
	began := time.Now()
	var out bytes.Buffer
	cmd := w.Command(ctx, "start", "-f", specPath, "--version", rel.Version, "--by", "bench-chaos", "--wait")
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	_ = os.WriteFile(logPath, out.Bytes(), 0o644)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		rel.Exit = exit.ExitCode()
	case err != nil:
		return err
	}
	m := runIDPattern.FindSubmatch(out.Bytes())
	if m == nil {
		return fmt.Errorf("zerodown start exited %d without starting a release (see %s)", rel.Exit, logPath)
	}
	rel.RunID = string(m[1])
	// The CLI may have given up waiting (a server restart); the release goes on.
	phase, err := waitEnded(ctx, w, time.Now().Add(5*time.Minute))
	rel.Duration = time.Since(began)
	rel.Got = phase
	if err != nil {
		return err
	}
	spec := w.Spec()
	rel.Stall, rel.StallAt, rel.done, err = writeHistory(ctx, w.Client(), spec.ID(), rel.RunID, strings.TrimSuffix(logPath, ".log")+".history")
	return err
}

// waitEnded waits until the latest run of the release is closed and returns its last
// phase, from the search attribute the workflow upserts.
func waitEnded(ctx context.Context, w *demo.World, deadline time.Time) (workflows.Phase, error) {
	spec := w.Spec()
	for {
		if s := describeRelease(ctx, w.Client(), spec.ID()); s.OK && !s.Running {
			return s.Phase, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("the release has not ended by %s: %w", deadline.Format(time.TimeOnly), ctx.Err())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func problemsText(p []string) string {
	if len(p) == 0 {
		return "ok"
	}
	return fmt.Sprintf("PROBLEMS: %q", p)
}
