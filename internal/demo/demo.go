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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/internal/localcloud/api"
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

	CloudAPI string // local cloud API address (default 127.0.0.1:7070)
	LB       string // load balancer address (default 127.0.0.1:8080)

	Seed      string   // version the fleet runs before the first release (default v1)
	Instances int      // fleet size (default: the spec's)
	Releases  []string // versions to release in turn (default v2)

	Rate      float64 // HTTP requests per second (default 50)
	WSClients int     // WebSocket clients (default 8)
	// ApproveAfter is how long an approval gate waits for a human before the demo
	// approves it itself (default 10s).
	ApproveAfter time.Duration

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
}

// Run runs the demo until the releases end or ctx is cancelled (Ctrl-C), then stops
// everything it started. The summary is filled as far as the run got.
func Run(ctx context.Context, opts Options) (sum *Summary, err error) {
	opts.defaults()
	d := &driver{opts: opts, out: opts.Out, sum: &Summary{}}
	defer func() {
		d.stopAll()
		d.sum.Leaked = d.leaked()
		if len(d.sum.Leaked) > 0 && err == nil {
			err = fmt.Errorf("processes left running: %v", d.sum.Leaked)
		}
	}()
	if err := d.prepare(); err != nil {
		return d.sum, err
	}
	if err := d.startServices(ctx); err != nil {
		return d.sum, err
	}
	if err := d.seed(ctx); err != nil {
		return d.sum, err
	}
	gen, err := loadgen.New(loadgen.Config{
		BaseURL: "http://" + opts.LB, Rate: opts.Rate, WriteRatio: 0.3, WSClients: opts.WSClients,
		Boards: []string{"demo"}, Timeout: 2 * time.Second,
	})
	if err != nil {
		return d.sum, err
	}
	if err := gen.Start(ctx); err != nil {
		return d.sum, fmt.Errorf("start the load: %w", err)
	}
	d.say("load: %.0f requests/s (30%% writes) and %d WebSocket clients through the load balancer at http://%s", opts.Rate, opts.WSClients, opts.LB)
	stopProgress := d.progress(ctx, gen)
	var runErr error
	for _, v := range opts.Releases {
		gen.Mark("release-start")
		res, err := d.release(ctx, v)
		gen.Mark("release-end")
		if err != nil {
			runErr = err
			break
		}
		d.sum.Releases = append(d.sum.Releases, res)
	}
	stopProgress()
	d.say("stopping the load and checking every WebSocket client saw every update...")
	d.sum.Load = gen.Stop()
	d.printSummary()
	return d.sum, runErr
}

type driver struct {
	opts     Options
	out      io.Writer
	sum      *Summary
	spec     *schemas.Spec
	specPath string // the effective spec, written into WorkDir
	temporal string
	procs    []*proc
	pids     []int
	client   client.Client
}

func (d *driver) say(format string, args ...any) {
	fmt.Fprintf(d.out, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// prepare wipes the work dir and writes the effective spec: the demo's, with the store
// and binaries made absolute so that the same spec works from any directory.
func (d *driver) prepare() error {
	if err := os.RemoveAll(d.opts.WorkDir); err != nil {
		return err
	}
	if err := os.MkdirAll(d.opts.WorkDir, 0o755); err != nil {
		return err
	}
	spec, err := schemas.Load(d.opts.Spec)
	if err != nil {
		return err
	}
	if spec.Target.Provider != schemas.ProviderLocal || spec.Target.Local == nil {
		return fmt.Errorf("%s: the demo needs target.provider local", d.opts.Spec)
	}
	if d.opts.Instances > 0 {
		spec.Target.Instances = d.opts.Instances
	}
	cmd := slices.Clone(spec.Target.Local.Command)
	for i, arg := range cmd {
		switch {
		case strings.HasPrefix(arg, "bin/"):
			cmd[i] = filepath.Join(d.opts.BinDir, strings.TrimPrefix(arg, "bin/"))
		case i > 0 && cmd[i-1] == "--store":
			cmd[i] = filepath.Join(d.opts.WorkDir, "board.db")
		}
	}
	spec.Target.Local.Command = cmd
	spec.Target.Local.Endpoint = "http://" + d.opts.CloudAPI
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	d.spec = spec
	d.specPath = filepath.Join(d.opts.WorkDir, "release.json")
	return os.WriteFile(d.specPath, b, 0o644)
}

func (d *driver) startServices(ctx context.Context) error {
	d.temporal = d.opts.Temporal
	if d.temporal == "" {
		d.temporal = fmt.Sprintf("127.0.0.1:%d", d.opts.TemporalPort)
		args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", fmt.Sprint(d.opts.TemporalPort),
			"--ui-port", fmt.Sprint(d.opts.UIPort), "--log-level", "error"}
		for _, sa := range []string{workflows.SAService, workflows.SAEnvironment, workflows.SAVersion, workflows.SAPhase} {
			args = append(args, "--search-attribute", sa+"=Keyword")
		}
		if _, err := d.start("temporal", d.opts.TemporalCLI, args...); err != nil {
			return err
		}
	}
	c, err := dial(ctx, d.temporal)
	if err != nil {
		return err
	}
	d.client = c
	if d.opts.Temporal == "" {
		d.say("Temporal dev server at %s; the Temporal UI is at http://127.0.0.1:%d", d.temporal, d.opts.UIPort)
	}

	if _, err := d.start("localcloud", d.bin("zerodown"), "localcloud", "--listen", d.opts.CloudAPI, "--lb", d.opts.LB,
		"--state-dir", filepath.Join(d.opts.WorkDir, "localcloud"), "--terminate-on-exit", "--stop-grace", "5s", "--log-level", "warn"); err != nil {
		return err
	}
	if err := waitHTTP(ctx, "http://"+d.opts.CloudAPI+api.PathHealthz, 30*time.Second); err != nil {
		return fmt.Errorf("the local cloud did not come up: %w (see %s)", err, d.logPath("localcloud"))
	}
	d.say("local cloud: API at http://%s, load balancer at http://%s", d.opts.CloudAPI, d.opts.LB)
	if _, err := d.start("worker", d.bin("zerodown-worker"), "--local-endpoint", "http://"+d.opts.CloudAPI,
		"--metrics", "127.0.0.1:0", "--log-level", "warn"); err != nil {
		return err
	}
	d.say("worker started (log: %s)", d.logPath("worker"))
	return nil
}

// seed puts the old version on the fleet, as if it had been released long ago.
func (d *driver) seed(ctx context.Context) error {
	f := d.fleet()
	n := d.spec.Target.Instances
	ins, err := f.Launch(ctx, fleet.LaunchRequest{Key: "demo/seed/" + d.opts.Seed, Version: d.opts.Seed, Count: n})
	if err != nil {
		return fmt.Errorf("launch %d x %s: %w", n, d.opts.Seed, err)
	}
	ids := make([]string, len(ins))
	for i, in := range ins {
		ids[i] = in.ID
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := f.WaitHealthy(wctx, ids); err != nil {
		return fmt.Errorf("%s did not get healthy: %w", d.opts.Seed, err)
	}
	if err := f.Attach(ctx, ids); err != nil {
		return err
	}
	d.say("fleet: %d x %s serving behind the load balancer", n, d.opts.Seed)
	return nil
}

func (d *driver) fleet() *local.Fleet {
	return local.New("http://"+d.opts.CloudAPI, *d.spec.Target.Local)
}

// release runs `zerodown start --wait` and approves the gate itself when nobody else
// does within ApproveAfter.
func (d *driver) release(ctx context.Context, version string) (Result, error) {
	res := Result{Version: version}
	d.say("releasing %s: zerodown start -f %s --version %s --wait", version, filepath.Base(d.opts.Spec), version)
	start := time.Now()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go d.autoApprove(actx)
	cmd := exec.CommandContext(ctx, d.bin("zerodown"), "start", "-f", d.specPath, "--version", version, "--by", "make-demo", "--wait")
	cmd.Env = d.env()
	cmd.Stdout, cmd.Stderr = indent(d.out), indent(d.out)
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
	st, err := d.status(ctx)
	if err != nil {
		return res, err
	}
	res.Phase, res.Error = st.Phase, st.Error
	res.Fleet, err = d.serving(ctx)
	return res, err
}

func (d *driver) status(ctx context.Context) (workflows.Status, error) {
	var st workflows.Status
	cmd := exec.CommandContext(ctx, d.bin("zerodown"), "status", d.spec.Service+"/"+d.spec.Environment, "--output", "json")
	cmd.Env = d.env()
	out, err := cmd.Output()
	if err != nil {
		return st, fmt.Errorf("zerodown status: %w", err)
	}
	return st, json.Unmarshal(out, &st)
}

func (d *driver) autoApprove(ctx context.Context) {
	id := d.spec.ID()
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		v, err := d.client.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
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
			d.say("approval needed: run `bin/zerodown approve %s/%s` (or click in Slack); the demo approves in %s",
				d.spec.Service, d.spec.Environment, d.opts.ApproveAfter)
		}
		if time.Since(since) >= d.opts.ApproveAfter {
			cmd := exec.CommandContext(ctx, d.bin("zerodown"), "approve", d.spec.Service+"/"+d.spec.Environment,
				"--by", "make-demo", "--comment", "nobody objected within "+d.opts.ApproveAfter.String())
			cmd.Env = d.env()
			cmd.Stdout, cmd.Stderr = indent(d.out), indent(d.out)
			_ = cmd.Run()
			since = time.Time{}
		}
	}
}

// progress prints, every 5 seconds, what the load saw and which versions served it.
func (d *driver) progress(ctx context.Context, gen *loadgen.Generator) (stop func()) {
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
			d.say("load: %d requests, %d failed; served by %s", now.Requests, now.Failed, versionShare(prev, now))
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

// serving counts healthy attached instances per version.
func (d *driver) serving(ctx context.Context) (map[string]int, error) {
	st, err := d.fleet().Describe(ctx)
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

func (d *driver) printSummary() {
	w := d.out
	fmt.Fprintln(w)
	fmt.Fprintln(w, "==== zerodown demo: summary ====")
	for _, r := range d.sum.Releases {
		line := fmt.Sprintf("release %s: %s in %s (exit %d)", r.Version, r.Phase, r.Duration.Round(time.Second), r.ExitCode)
		if r.Error != "" {
			line += ": " + r.Error
		}
		fmt.Fprintln(w, line)
		fmt.Fprintf(w, "  fleet afterwards: %s\n", fleetLine(r.Fleet))
	}
	if l := d.sum.Load; l != nil {
		fmt.Fprintf(w, "requests: %d sent, %d served, %d failed (p50 %.1fms, p99 %.1fms, max %.1fms)\n",
			l.Requests, l.OK, l.Failed, l.Latency.P50, l.Latency.P99, l.Latency.Max)
		ws := l.WebSocket
		fmt.Fprintf(w, "websocket: %d clients, %d sessions kept across %d reconnects asked by the service, %d dropped, %d updates lost\n",
			ws.Clients, int64(ws.Clients)-ws.Dropped, ws.Reconnects, ws.Dropped, ws.Lost)
		if l.ZeroLoss() {
			fmt.Fprintln(w, "nobody noticed: zero failed requests, zero dropped sessions, zero lost updates")
		}
	}
	fmt.Fprintf(w, "logs: %s\n", d.opts.WorkDir)
}

func fleetLine(m map[string]int) string {
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

func (d *driver) env() []string {
	return append(os.Environ(), "TEMPORAL_ADDRESS="+d.temporal, "TEMPORAL_NAMESPACE=default",
		"ZERODOWN_LOCALCLOUD=http://"+d.opts.CloudAPI)
}

func (d *driver) bin(name string) string { return filepath.Join(d.opts.BinDir, name) }

func (d *driver) logPath(name string) string { return filepath.Join(d.opts.WorkDir, name+".log") }

// leaked reports instance and service processes still alive after the stop.
func (d *driver) leaked() []string {
	var out []string
	for _, pid := range d.pids {
		if syscall.Kill(pid, 0) == nil {
			out = append(out, fmt.Sprintf("pid %d", pid))
		}
	}
	for _, p := range d.procs {
		if p.running() {
			out = append(out, p.name)
		}
	}
	return out
}

// stopAll stops what the demo started, newest first, remembering instance PIDs first so
// that leaks can be checked once everything says it has stopped.
func (d *driver) stopAll() {
	if st, err := instancePIDs(d.opts.CloudAPI); err == nil {
		d.pids = st
	}
	if d.client != nil {
		d.client.Close()
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].stop(20 * time.Second)
	}
}

func instancePIDs(apiAddr string) ([]int, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + apiAddr + api.PathState + "?all=1")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st api.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
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
