// Package demo brings up the whole local world — a Temporal dev server, the local cloud,
// the worker, a fleet of the demo service and a load — runs releases through the
// `zerodown` CLI while it prints their progress, and reports what the load saw. `make
// demo` and the end-to-end test both run it, so the test checks what a newcomer sees.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/inplaceworld"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/internal/localcloud"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/internal/sentrytest"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// Options configure a demo run. Zero values take the defaults of `make demo`.
type Options struct {
	Root    string // repository root; examples/ is found there
	BinDir  string // where Build put the binaries (default Root/bin)
	WorkDir string // state, logs and the board's store; wiped at start (default Root/.tmp/demo)
	Spec    string // release spec (default Root/examples/demo/board.yaml)

	// Temporal is the address of a running Temporal frontend; empty starts the pinned
	// dev server (TemporalCLI) on TemporalPort with the UI on UIPort.
	Temporal     string
	TemporalCLI  string
	TemporalPort int
	UIPort       int
	// TemporalDB, if set, is the dev server's SQLite file, so that its state survives a
	// restart of the server (bench/chaos restarts it mid-release); empty keeps it in memory.
	TemporalDB string

	CloudAPI string // local cloud API address (default 127.0.0.1:7070)
	LB       string // load balancer address (default 127.0.0.1:8080)

	Seed      string // version the fleet runs before the first release (default v1)
	Instances int    // fleet size (default: the spec's)
	// InstanceArgs are appended to the spec's instance command.
	InstanceArgs []string
	Releases     []string // versions to release in turn (default v2)

	Rate      float64  // HTTP requests per second (default 50)
	WSClients int      // WebSocket clients (default 8)
	Boards    []string // boards the load writes and follows (default ["demo"])
	// ApproveAfter is how long an approval gate waits for a human before the demo
	// approves it itself (default 10s).
	ApproveAfter time.Duration

	// CloudOnly starts no Temporal server and no worker: only the local cloud and the
	// seeded fleet, for releases done by hand (the benchmark's naive way).
	CloudOnly bool

	Out io.Writer // progress and summary (default os.Stdout)
}

func (o *Options) defaults() {
	if o.BinDir == "" {
		o.BinDir = filepath.Join(o.Root, "bin")
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(o.Root, ".tmp", "demo")
	}
	if o.Spec == "" {
		o.Spec = filepath.Join(o.Root, "examples", "demo", "board.yaml")
	}
	if o.TemporalPort == 0 {
		o.TemporalPort = 7233
	}
	if o.UIPort == 0 {
		o.UIPort = 8233
	}
	if o.CloudAPI == "" {
		o.CloudAPI = "127.0.0.1:7070"
	}
	if o.LB == "" {
		o.LB = "127.0.0.1:8080"
	}
	if o.Seed == "" {
		o.Seed = "v1"
	}
	if len(o.Releases) == 0 {
		o.Releases = []string{"v2"}
	}
	if o.Rate == 0 {
		o.Rate = 50
	}
	if o.WSClients == 0 {
		o.WSClients = 8
	}
	if len(o.Boards) == 0 {
		o.Boards = []string{"demo"}
	}
	if o.ApproveAfter == 0 {
		o.ApproveAfter = 10 * time.Second
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
}

// Result is how one release ended.
type Result struct {
	Version  string          `json:"version"`
	ExitCode int             `json:"exitCode"`
	Phase    workflows.Phase `json:"phase"`
	Error    string          `json:"error,omitempty"`
	Duration time.Duration   `json:"duration"`
	Fleet    map[string]int  `json:"fleet"` // healthy attached instances per version afterwards
}

// Summary is what a demo run saw.
type Summary struct {
	Releases []Result        `json:"releases"`
	Load     *loadgen.Report `json:"load"`
	// Leaked lists processes the demo started that still run after it stopped them.
	Leaked []string `json:"leaked,omitempty"`
	// Steps are the traffic steps of the releases, asked and measured.
	Steps []StepShare `json:"steps,omitempty"`
}

// Run runs the demo until the releases end or ctx is cancelled (Ctrl-C), then stops
// everything it started. The summary is filled as far as the run got.
func Run(ctx context.Context, opts Options) (sum *Summary, err error) {
	sum = &Summary{}
	w, err := Start(ctx, opts)
	defer func() {
		sum.Leaked = w.Stop()
		if len(sum.Leaked) > 0 && err == nil {
			err = fmt.Errorf("processes left running: %v", sum.Leaked)
		}
	}()
	if err != nil {
		return sum, err
	}
	gen, err := w.NewLoad()
	if err != nil {
		return sum, err
	}
	if err := gen.Start(ctx); err != nil {
		return sum, fmt.Errorf("start the load: %w", err)
	}
	w.Say("load: %.0f requests/s (30%% writes) and %d WebSocket clients through the load balancer at %s", w.opts.Rate, w.opts.WSClients, w.LB())
	stopProgress := w.Progress(ctx, gen)
	var runErr error
	for _, v := range w.opts.Releases {
		gen.Mark("release-start")
		stopSteps := func() {}
		if len(w.spec.Canary.Traffic) > 0 {
			stopSteps = w.followSteps(ctx, gen, v)
		}
		res, err := w.Release(ctx, v)
		stopSteps()
		gen.Mark("release-end")
		if err != nil {
			runErr = err
			break
		}
		sum.Releases = append(sum.Releases, res)
	}
	stopProgress()
	w.Say("stopping the load and checking every WebSocket client saw every update...")
	sum.Load = gen.Stop()
	for _, v := range w.opts.Releases {
		sum.Steps = append(sum.Steps, StepShares(sum.Load, v)...)
	}
	w.printSummary(sum)
	return sum, runErr
}

// World is the local world a demo runs in: a Temporal dev server (unless one is given),
// the local cloud, the worker and a fleet seeded with the old version. The demo and the
// benchmarks share it, so that a benchmark measures what the demo shows.
type World struct {
	opts     Options
	out      io.Writer
	spec     *schemas.Spec
	specPath string // the effective spec, written into WorkDir
	temporal string
	procs    []*proc
	pids     []int
	client   client.Client
	sockets  []*os.File // the local cloud's listening sockets, held across its restarts
	// moreClouds are the API addresses of further local clouds (a change's second
	// service), whose instances are stopped and checked for leaks too.
	moreClouds []string
	stopOnce   sync.Once
	leaks      []string
	// sentry stands in for Sentry when the spec's analysis asks it (sentry.go).
	sentry *sentrytest.Server
	// serving, when set, counts what serves instead of the local cloud (on premises).
	serving func(context.Context) (map[string]int, error)
	// noCloud: this world runs no local cloud, whose instances Stop would ask for.
	noCloud bool
	// onprem is the fixed servers behind HAProxy of an on-premises world (onprem.go).
	onprem *inplaceworld.World
}

// Start brings the world up: it wipes the work dir, starts the services and seeds the
// fleet. The World is returned even on error: Stop it either way, to stop what did start.
func Start(ctx context.Context, opts Options) (*World, error) {
	opts.defaults()
	w := &World{opts: opts, out: opts.Out}
	if err := w.prepare(); err != nil {
		return w, err
	}
	if err := w.startServices(ctx); err != nil {
		return w, err
	}
	return w, w.seed(ctx)
}

// Stop stops everything the world started and returns the processes still alive
// afterwards: leaks. Later calls return the same answer.
func (w *World) Stop() (leaked []string) {
	w.stopOnce.Do(func() {
		w.stopAll()
		w.leaks = w.leaked()
	})
	return w.leaks
}

// LB is the load balancer's URL, where users reach the service.
func (w *World) LB() string { return "http://" + w.opts.LB }

// Fleet drives the world's local cloud with the spec's command, as the worker does.
func (w *World) Fleet() *local.Fleet {
	return local.New("http://"+w.opts.CloudAPI, *w.spec.Target.Local)
}

// NewLoad returns the demo's load on the load balancer, not started yet: Rate
// requests/s, 30% writes, WSClients WebSocket clients over Boards.
func (w *World) NewLoad() (*loadgen.Generator, error) {
	return loadgen.New(loadgen.Config{
		BaseURL: w.LB(), Rate: w.opts.Rate, WriteRatio: 0.3, WSClients: w.opts.WSClients,
		Boards: w.opts.Boards, Timeout: 2 * time.Second,
	})
}

// Say prints a progress line, timestamped like the rest of the demo's output.
func (w *World) Say(format string, args ...any) {
	fmt.Fprintf(w.out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// prepare wipes the work dir and writes the effective spec: the demo's, with the store
// and binaries made absolute so that the same spec works from any directory.
func (w *World) prepare() error {
	if err := os.RemoveAll(w.opts.WorkDir); err != nil {
		return err
	}
	if err := os.MkdirAll(w.opts.WorkDir, 0o755); err != nil {
		return err
	}
	spec, err := schemas.Load(w.opts.Spec)
	if err != nil {
		return err
	}
	if spec.Target.Provider != schemas.ProviderLocal || spec.Target.Local == nil {
		return fmt.Errorf("%s: the demo needs target.provider local", w.opts.Spec)
	}
	if w.opts.Instances > 0 {
		spec.Target.Instances = w.opts.Instances
	}
	cmd := slices.Clone(spec.Target.Local.Command)
	for i, arg := range cmd {
		switch {
		case strings.HasPrefix(arg, "bin/"):
			cmd[i] = filepath.Join(w.opts.BinDir, strings.TrimPrefix(arg, "bin/"))
		case i > 0 && cmd[i-1] == "--store":
			cmd[i] = filepath.Join(w.opts.WorkDir, "board.db")
		}
	}
	spec.Target.Local.Command = append(cmd, w.opts.InstanceArgs...)
	spec.Target.Local.Endpoint = "http://" + w.opts.CloudAPI
	if err := w.startSentry(spec); err != nil {
		return err
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	w.spec = spec // before sentryFleetEnv reads the environment's name
	w.specPath = filepath.Join(w.opts.WorkDir, "release.json")
	return os.WriteFile(w.specPath, b, 0o644)
}

func (w *World) startServices(ctx context.Context) error {
	if !w.opts.CloudOnly {
		if err := w.startTemporal(ctx); err != nil {
			return err
		}
	}
	// The world holds the local cloud's sockets and hands the daemon copies, as systemd
	// would: while the daemon restarts, clients of the load balancer wait, not fail.
	files, err := w.holdSockets(w.opts.CloudAPI, w.opts.LB)
	if err != nil {
		return err
	}
	if _, err := w.startWith(ServiceLocalCloud, files, append(localcloud.ListenEnv(), w.sentryFleetEnv()...), w.bin("zerodown"), "localcloud", "--listen", w.opts.CloudAPI, "--lb", w.opts.LB,
		"--state-dir", filepath.Join(w.opts.WorkDir, "localcloud"), "--terminate-on-exit", "--stop-grace", "5s", "--log-level", "warn"); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+w.opts.CloudAPI+api.PathHealthz, 30*time.Second); err != nil {
		return fmt.Errorf("the local cloud did not come up: %w (see %s)", err, w.logPath("localcloud"))
	}
	w.Say("local cloud: API at http://%s, load balancer at %s", w.opts.CloudAPI, w.LB())
	if w.opts.CloudOnly {
		return nil
	}
	if _, err := w.startWith("worker", nil, w.sentryWorkerEnv(), w.bin("zerodown-worker"), "--local-endpoint", "http://"+w.opts.CloudAPI,
		"--metrics", "127.0.0.1:0", "--log-level", "warn"); err != nil {
		return err
	}
	w.Say("worker started (log: %s)", w.logPath("worker"))
	return nil
}

// startTemporal starts the pinned dev server, unless Options.Temporal names a running
// one, and connects to it.
func (w *World) startTemporal(ctx context.Context) error {
	w.temporal = w.opts.Temporal
	if w.temporal == "" {
		w.temporal = fmt.Sprintf("127.0.0.1:%d", w.opts.TemporalPort)
		args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", fmt.Sprint(w.opts.TemporalPort),
			"--ui-port", fmt.Sprint(w.opts.UIPort), "--log-level", "error"}
		for _, sa := range workflows.SearchAttributes {
			args = append(args, "--search-attribute", sa+"=Keyword")
		}
		if w.opts.TemporalDB != "" {
			args = append(args, "--db-filename", w.opts.TemporalDB)
		}
		if _, err := w.start("temporal", w.opts.TemporalCLI, args...); err != nil {
			return err
		}
	}
	c, err := dial(ctx, w.temporal)
	if err != nil {
		return err
	}
	w.client = c
	if w.opts.Temporal == "" {
		w.Say("Temporal dev server at %s; the Temporal UI is at http://127.0.0.1:%d", w.temporal, w.opts.UIPort)
	}
	return nil
}

// seed puts the old version on the fleet, as if it had been released long ago.
func (w *World) seed(ctx context.Context) error {
	return w.seedFleet(ctx, w.Fleet(), "demo", w.spec.Target.Instances, w.opts.Seed)
}

// seedFleet launches n instances of version on f, waits until they are healthy and
// attaches them.
func (w *World) seedFleet(ctx context.Context, f *local.Fleet, name string, n int, version string) error {
	ins, err := f.Launch(ctx, fleet.LaunchRequest{Key: name + "/seed/" + version, Version: version, Count: n})
	if err != nil {
		return fmt.Errorf("launch %d x %s: %w", n, version, err)
	}
	ids := make([]string, len(ins))
	for i, in := range ins {
		ids[i] = in.ID
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := f.WaitHealthy(wctx, ids); err != nil {
		return fmt.Errorf("%s did not get healthy: %w", version, err)
	}
	if err := f.Attach(ctx, ids); err != nil {
		return err
	}
	w.Say("fleet %s: %d x %s serving behind its load balancer", name, n, version)
	return nil
}

// Release runs `zerodown start --wait` and approves the gate itself when nobody else
// does within ApproveAfter.
func (w *World) Release(ctx context.Context, version string) (Result, error) {
	res := Result{Version: version}
	if w.client == nil {
		return res, errors.New("this world runs no Temporal server and no worker (CloudOnly): zerodown cannot release")
	}
	w.Say("releasing %s: zerodown start -f %s --version %s --wait", version, filepath.Base(w.opts.Spec), version)
	start := time.Now()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.autoApprove(actx)
	cmd := w.Command(ctx, "start", "-f", w.specPath, "--version", version, "--by", "make-demo", "--wait")
	cmd.Stdout, cmd.Stderr = indent(w.out), indent(w.out)
	err := cmd.Run()
	res.Duration = time.Since(start)
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
		res.ExitCode = exit.ExitCode()
	default:
		return res, fmt.Errorf("zerodown start: %w", err)
	}
	if res.ExitCode == 1 || res.ExitCode == 2 || res.ExitCode == 3 {
		return res, fmt.Errorf("zerodown start exited %d", res.ExitCode)
	}
	st, err := w.status(ctx)
	if err != nil {
		return res, err
	}
	res.Phase, res.Error = st.Phase, st.Error
	res.Fleet, err = w.Serving(ctx)
	return res, err
}

func (w *World) status(ctx context.Context) (workflows.Status, error) {
	var st workflows.Status
	cmd := w.Command(ctx, "status", w.spec.Service+"/"+w.spec.Environment, "--output", "json")
	out, err := cmd.Output()
	if err != nil {
		return st, fmt.Errorf("zerodown status: %w", err)
	}
	return st, json.Unmarshal(out, &st)
}

func (w *World) autoApprove(ctx context.Context) {
	id := w.spec.ID()
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		v, err := w.client.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
		if err != nil {
			continue
		}
		var st workflows.Status
		if v.Get(&st) != nil || st.PendingApproval == nil {
			since = time.Time{}
			continue
		}
		if since.IsZero() {
			since = time.Now()
			w.Say("approval needed: run `bin/zerodown approve %s/%s` (or click in Slack); the demo approves in %s",
				w.spec.Service, w.spec.Environment, w.opts.ApproveAfter)
		}
		if time.Since(since) >= w.opts.ApproveAfter {
			cmd := w.Command(ctx, "approve", w.spec.Service+"/"+w.spec.Environment,
				"--by", "make-demo", "--comment", "nobody objected within "+w.opts.ApproveAfter.String())
			cmd.Stdout, cmd.Stderr = indent(w.out), indent(w.out)
			_ = cmd.Run()
			since = time.Time{}
		}
	}
}

// Progress prints, every 5 seconds, what the load saw and which versions served it,
// until stop is called.
func (w *World) Progress(ctx context.Context, gen *loadgen.Generator) (stop func()) {
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		prev := gen.Report()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
			now := gen.Report()
			w.Say("load: %d requests, %d failed; served by %s", now.Requests, now.Failed, versionShare(prev, now))
			prev = now
		}
	}()
	return func() { cancel(); <-done }
}

func versionShare(prev, now *loadgen.Report) string {
	var total int64
	delta := map[string]int64{}
	for v, c := range now.Versions {
		n := c.Responses - prev.Versions[v].Responses
		if n > 0 {
			delta[v] = n
			total += n
		}
	}
	if total == 0 {
		return "nobody"
	}
	var parts []string
	for _, v := range slices.Sorted(mapsKeys(delta)) {
		parts = append(parts, fmt.Sprintf("%s %d%%", v, delta[v]*100/total))
	}
	return strings.Join(parts, ", ")
}

// Serving counts healthy attached instances per version.
func (w *World) Serving(ctx context.Context) (map[string]int, error) {
	if w.serving != nil {
		return w.serving(ctx)
	}
	st, err := w.Fleet().Describe(ctx)
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

func (w *World) printSummary(sum *Summary) {
	out := w.out
	fmt.Fprintln(out)
	fmt.Fprintln(out, "==== zerodown demo: summary ====")
	for _, r := range sum.Releases {
		line := fmt.Sprintf("release %s: %s in %s (exit %d)", r.Version, r.Phase, r.Duration.Round(time.Second), r.ExitCode)
		if r.Error != "" {
			line += ": " + r.Error
		}
		fmt.Fprintln(out, line)
		fmt.Fprintf(out, "  fleet afterwards: %s\n", FleetLine(r.Fleet))
	}
	for _, st := range sum.Steps {
		fmt.Fprintf(out, "  traffic step: %s asked %d%%, measured %.1f%% of %d requests\n", st.Version, st.Asked, st.Measured, st.Requests)
	}
	for _, line := range w.sentrySummary() {
		fmt.Fprintln(out, line)
	}
	if l := sum.Load; l != nil {
		fmt.Fprintf(out, "requests: %d sent, %d served, %d failed (p50 %.1fms, p99 %.1fms, max %.1fms)\n",
			l.Requests, l.OK, l.Failed, l.Latency.P50, l.Latency.P99, l.Latency.Max)
		ws := l.WebSocket
		fmt.Fprintf(out, "websocket: %d clients, %d sessions kept across %d reconnects asked by the service, %d dropped, %d updates lost\n",
			ws.Clients, int64(ws.Clients)-ws.Dropped, ws.Reconnects, ws.Dropped, ws.Lost)
		if l.ZeroLoss() {
			fmt.Fprintln(out, "nobody noticed: zero failed requests, zero dropped sessions, zero lost updates")
		}
	}
	fmt.Fprintf(out, "logs: %s\n", w.opts.WorkDir)
}

// FleetLine writes instances per version as "4 x v2, 1 x v1".
func FleetLine(m map[string]int) string {
	var parts []string
	for _, v := range slices.Sorted(mapsKeys(m)) {
		parts = append(parts, fmt.Sprintf("%d x %s", m[v], v))
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (w *World) env() []string {
	return append(os.Environ(), "TEMPORAL_ADDRESS="+w.temporal, "TEMPORAL_NAMESPACE=default",
		"ZERODOWN_LOCALCLOUD=http://"+w.opts.CloudAPI)
}

func (w *World) bin(name string) string { return filepath.Join(w.opts.BinDir, name) }

func (w *World) logPath(name string) string { return filepath.Join(w.opts.WorkDir, name+".log") }

// leaked reports instance and service processes still alive after the stop.
func (w *World) leaked() []string {
	var out []string
	for _, pid := range w.pids {
		if ProcessAlive(pid) {
			out = append(out, fmt.Sprintf("pid %d", pid))
		}
	}
	for _, p := range w.procs {
		if p.running() {
			out = append(out, p.name)
		}
	}
	return out
}

// stopAll stops what the demo started, newest first, remembering instance PIDs first so
// that leaks can be checked once everything says it has stopped.
func (w *World) stopAll() {
	for _, api := range append([]string{w.opts.CloudAPI}, w.moreClouds...) {
		if w.noCloud {
			break
		}
		if st, err := instancePIDs(api); err == nil {
			w.pids = append(w.pids, st...)
		}
	}
	if w.client != nil {
		w.client.Close()
	}
	for i := len(w.procs) - 1; i >= 0; i-- {
		w.procs[i].stop(20 * time.Second)
	}
	w.releaseSockets()
	if w.sentry != nil {
		_ = w.sentry.Close()
	}
	if err := w.closeOnPrem(); err != nil {
		w.Say("stopping the on-premises servers: %v", err)
	}
}

func instancePIDs(apiAddr string) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := cloud(apiAddr).State(ctx, true)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, in := range st.Instances {
		if in.PID > 0 {
			pids = append(pids, in.PID)
		}
	}
	return pids, nil
}
