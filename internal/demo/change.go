package demo

// `make demo-change`: a night of several services. The world gains a second service, the
// board as a front end (board-web) on a second local cloud, calling the back end
// (board-api) through the back end's load balancer; a ChangeWorkflow backs up the store,
// expands it, releases the back end, checks it, releases the front end, checks it, waits
// for the landing confirmation, finalizes and contracts, all under load on both load
// balancers. `make demo-change-bad` releases a front end whose sanity test fails, and the
// change rolls back in reverse.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/zerodown/zerodown/fleet/local"
	"github.com/zerodown/zerodown/internal/loadgen"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// The versions of the demo's night: each is its own build (BuildChange).
const (
	APIOld = "v2.3.0" // the back end before the night
	APINew = "v2.4.0" // writes items.owner: needs the expand
	WebOld = "v7.0.0" // the front end before the night
	WebNew = "v7.1.0"
	WebBad = "v7.1.1" // its /sanity fails: the bug only the change's sanity test sees
)

// The steps of examples/demo/change/night.yaml the demo acts on or reports.
const (
	StepLanding   = "landing"
	StepWebSanity = "web-sanity"
	StepExpand    = "expand"
	stepWeb       = "web"
)

// The addresses the change file is written with; the demo moves them to its own.
const (
	fileCloudAPI    = "127.0.0.1:7070"
	fileLB          = "127.0.0.1:8080"
	fileWebCloudAPI = "127.0.0.1:7071"
	fileWebLB       = "127.0.0.1:8081"
	fileWorkDir     = ".tmp/demo/"
	fileBinDir      = "bin/"
)

// ChangeOptions configure a change demo. Options is the back end's world: its Spec,
// Seed, CloudAPI and LB default to the change's back end.
type ChangeOptions struct {
	Options
	Change      string // the change file (default Root/examples/demo/change/night.yaml)
	WebCloudAPI string // the front end's local cloud (default 127.0.0.1:7071)
	WebLB       string // the front end's load balancer (default 127.0.0.1:8081)
	// Bad releases WebBad instead of WebNew: the front end's sanity test fails.
	Bad bool
	// ConfirmAfter is how long the landing confirmation waits for a person before the
	// demo confirms (default 5s).
	ConfirmAfter time.Duration
	// Late runs the night on a clock scaled down to the demo: a window open now and a
	// deadline (decideBy LateDecideBy after the start, doneBy a minute later), and the
	// landing confirmation never comes, so decideBy rolls everything back.
	Late         bool
	LateDecideBy time.Duration // default 75s
}

func (o *ChangeOptions) defaults() {
	dir := filepath.Join(o.Root, "examples", "demo", "change")
	if o.Change == "" {
		o.Change = filepath.Join(dir, "night.yaml")
	}
	if o.Spec == "" {
		o.Spec = filepath.Join(dir, "api.yaml")
	}
	if o.Seed == "" {
		o.Seed = APIOld
	}
	if o.WebCloudAPI == "" {
		o.WebCloudAPI = fileWebCloudAPI
	}
	if o.WebLB == "" {
		o.WebLB = fileWebLB
	}
	if o.ConfirmAfter == 0 {
		o.ConfirmAfter = 5 * time.Second
	}
	if o.Rate == 0 {
		o.Rate = 40
	}
	o.Options.defaults()
}

// ChangeSummary is what a change demo saw.
type ChangeSummary struct {
	Status workflows.ChangeStatus `json:"status"`
	// Fleets are the healthy attached instances per version of each service afterwards.
	Fleets map[string]map[string]int `json:"fleets"`
	// Load is what the users of each service saw: "board-api" through the back end's
	// load balancer, "board-web" through the front end's (and so through both).
	Load map[string]*loadgen.Report `json:"load"`
	// FailedCheck is when the step that failed ended; BackOnOld is when the fleets were
	// first seen serving only their old versions after it (sampled every 100ms).
	FailedCheck time.Time `json:"failedCheck,omitzero"`
	// Undone is, per step the rollback undid, how long after FailedCheck the change's
	// timeline says it was undone.
	Undone     map[string]time.Duration `json:"undone,omitempty"`
	BackOnOld  time.Time                `json:"backOnOld,omitzero"`
	BackWithin time.Duration            `json:"backWithin,omitempty"`
	Leaked     []string                 `json:"leaked,omitempty"`
}

// ZeroLoss reports whether nobody noticed on either service.
func (s *ChangeSummary) ZeroLoss() bool {
	for _, name := range []string{serviceAPI, serviceWeb} {
		if l := s.Load[name]; l == nil || !l.ZeroLoss() {
			return false
		}
	}
	return true
}

const (
	serviceAPI = "board-api"
	serviceWeb = "board-web"
)

// changeWorld is the world of a change: the back end's World and the front end's cloud.
type changeWorld struct {
	*World
	opts   ChangeOptions
	spec   *schemas.ChangeSpec
	fleets map[string]*local.Fleet
	old    map[string]string // service -> the version it ran before the change
}

// RunChange runs the change demo until the change ends or ctx is cancelled, then stops
// everything it started. The summary is filled as far as the run got.
func RunChange(ctx context.Context, opts ChangeOptions) (sum *ChangeSummary, err error) {
	opts.defaults()
	sum = &ChangeSummary{Load: map[string]*loadgen.Report{}}
	if opts.CloudOnly {
		return sum, errNoChange
	}
	w, err := Start(ctx, opts.Options)
	cw := &changeWorld{World: w, opts: opts}
	defer func() {
		sum.Leaked = w.Stop()
		if len(sum.Leaked) > 0 && err == nil {
			err = fmt.Errorf("processes left running: %v", sum.Leaked)
		}
	}()
	if err != nil {
		return sum, err
	}
	if err := cw.prepareChange(); err != nil {
		return sum, err
	}
	if err := cw.startWeb(ctx); err != nil {
		return sum, err
	}
	gens := map[string]*loadgen.Generator{}
	for name, base := range map[string]string{serviceAPI: w.LB(), serviceWeb: "http://" + opts.WebLB} {
		g, err := loadgen.New(loadgen.Config{
			BaseURL: base, Rate: opts.Rate / 2, WriteRatio: 0.3, WSClients: max(1, opts.WSClients/2),
			Boards: []string{strings.TrimPrefix(name, "board-")}, Timeout: 2 * time.Second,
		})
		if err != nil {
			return sum, err
		}
		if err := g.Start(ctx); err != nil {
			return sum, fmt.Errorf("start the load on %s: %w", name, err)
		}
		gens[name] = g
	}
	w.Say("load: %.0f requests/s (30%% writes) and %d WebSocket clients on each of %s (back end) and http://%s (front end, which calls the back end)",
		opts.Rate/2, max(1, opts.WSClients/2), w.LB(), opts.WebLB)

	runErr := cw.run(ctx, sum, gens)
	w.Say("stopping the load and checking every WebSocket client saw every update...")
	for name, g := range gens {
		sum.Load[name] = g.Stop()
	}
	cw.printSummary(sum)
	return sum, runErr
}

// prepareChange loads the change file and moves its paths and addresses to this world's.
func (cw *changeWorld) prepareChange() error {
	spec, err := schemas.LoadChange(cw.opts.Change)
	if err != nil {
		return err
	}
	o := cw.opts
	r := strings.NewReplacer(fileCloudAPI, o.CloudAPI, fileLB, o.LB, fileWebCloudAPI, o.WebCloudAPI, fileWebLB, o.WebLB,
		fileWorkDir, o.WorkDir+string(filepath.Separator))
	localize := func(args []string) []string {
		out := slices.Clone(args)
		for i, a := range out {
			if rest, ok := strings.CutPrefix(a, fileBinDir); ok {
				a = filepath.Join(o.BinDir, rest)
			}
			out[i] = r.Replace(a)
		}
		return out
	}
	if o.Bad {
		spec.Name += "-bad"
	}
	if o.Late {
		spec.Name += "-late"
		cw.nightClock(spec)
	}
	for i := range spec.Steps {
		s := &spec.Steps[i]
		switch {
		case s.Command != nil:
			s.Command.Run, s.Command.Undo = localize(s.Command.Run), localize(s.Command.Undo)
		case s.Migration != nil:
			m := s.Migration
			m.Expand, m.Undo, m.Contract = localize(m.Expand), localize(m.Undo), localize(m.Contract)
		case s.Check != nil && s.Check.HTTP != nil:
			s.Check.HTTP.URL = r.Replace(s.Check.HTTP.URL)
		case s.Release != nil:
			rel := *s.Release.Spec
			l := *rel.Target.Local
			l.Command, l.Endpoint = localize(l.Command), r.Replace(l.Endpoint)
			rel.Target.Local = &l
			s.Release.Spec = &rel
			if s.ID == stepWeb && o.Bad {
				s.Release.Version = WebBad
			}
		}
	}
	if err := schemas.ValidateChange(spec); err != nil {
		return fmt.Errorf("%s, moved to the demo's paths: %w", cw.opts.Change, err)
	}
	cw.spec = spec
	cw.fleets = map[string]*local.Fleet{}
	cw.old = map[string]string{serviceAPI: o.Seed, serviceWeb: WebOld}
	for _, s := range spec.Steps {
		if s.Release != nil {
			t := s.Release.Spec.Target
			cw.fleets[s.Release.Spec.Service] = local.New(t.Local.Endpoint, *t.Local)
		}
	}
	if cw.fleets[serviceAPI] == nil || cw.fleets[serviceWeb] == nil {
		return fmt.Errorf("%s: the demo needs release steps of %s and %s", cw.opts.Change, serviceAPI, serviceWeb)
	}
	return nil
}

// startWeb starts the front end's local cloud and seeds it with the old front end.
func (cw *changeWorld) startWeb(ctx context.Context) error {
	o := cw.opts
	if _, err := cw.start("localcloud-web", cw.bin("zerodown"), "localcloud", "--listen", o.WebCloudAPI, "--lb", o.WebLB,
		"--state-dir", filepath.Join(o.WorkDir, "localcloud-web"), "--terminate-on-exit", "--stop-grace", "5s", "--log-level", "warn"); err != nil {
		return err
	}
	cw.moreClouds = append(cw.moreClouds, o.WebCloudAPI)
	if err := waitHTTP(ctx, "http://"+o.WebCloudAPI+api.PathHealthz, 30*time.Second); err != nil {
		return fmt.Errorf("the front end's local cloud did not come up: %w (see %s)", err, cw.logPath("localcloud-web"))
	}
	cw.Say("front end's local cloud: API at http://%s, load balancer at http://%s", o.WebCloudAPI, o.WebLB)
	var n int
	for _, s := range cw.spec.Steps {
		if s.Release != nil && s.Release.Spec.Service == serviceWeb {
			n = s.Release.Spec.Target.Instances
		}
	}
	return cw.seedFleet(ctx, cw.fleets[serviceWeb], serviceWeb, n, WebOld)
}

// run starts the change, shows its progress, confirms the landing step when nobody else
// does, and measures how fast the fleets are back on their old versions after a failure.
func (cw *changeWorld) run(ctx context.Context, sum *ChangeSummary, gens map[string]*loadgen.Generator) error {
	c := cw.Client()
	id := schemas.ChangeID(cw.spec.Name)
	cw.Say("starting change %s (the CLI's `zerodown change start` does the same): %d steps", id, len(cw.spec.Steps))
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue},
		workflows.ChangeWorkflowName, workflows.ChangeInput{Spec: *cw.spec, StartedBy: "demo"})
	if err != nil {
		return fmt.Errorf("start the change: %w", err)
	}
	ended := make(chan struct{})
	go func() {
		_ = run.Get(ctx, nil) // the outcome is read from the status query below
		close(ended)
	}()
	wctx, stopWatch := context.WithCancel(ctx)
	samples := cw.watchFleets(wctx)

	var (
		shown       string
		askedAt     time.Time
		lastLoad    = time.Now()
		tick        = time.NewTicker(500 * time.Millisecond)
		prevReports = map[string]*loadgen.Report{}
	)
	defer tick.Stop()
	for name, g := range gens {
		prevReports[name] = g.Report()
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			stopWatch()
			return ctx.Err()
		case <-ended:
			done = true
		case <-tick.C:
		}
		st, err := cw.changeStatus(ctx, id)
		if err != nil {
			continue // the worker may be busy; the next tick asks again
		}
		if table := StepTable(st); table != shown {
			shown = table
			cw.Say("change %s: %s", st.Name, st.Phase)
			fmt.Fprint(cw.out, table)
		}
		if time.Since(lastLoad) >= 5*time.Second {
			lastLoad = time.Now()
			for _, name := range []string{serviceAPI, serviceWeb} {
				now := gens[name].Report()
				cw.Say("load on %s: %d requests, %d failed; served by %s", name, now.Requests, now.Failed, versionShare(prevReports[name], now))
				prevReports[name] = now
			}
		}
		askedAt = cw.confirmLanding(ctx, st, askedAt)
	}
	stopWatch()
	st, err := cw.changeStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("the change's final status: %w", err)
	}
	sum.Status = st
	cw.Say("change %s ended %s", st.Name, st.Phase)
	sum.Fleets = map[string]map[string]int{}
	for name, f := range cw.fleets {
		m, err := servingOf(ctx, f)
		if err != nil {
			return err
		}
		sum.Fleets[name] = m
	}
	failedAt := time.Time{}
	if s, ok := st.Step(st.FailedStep); ok && st.FailedStep != "" {
		failedAt = s.Ended
	} else if st.FailedStep == schemas.FieldDeadline {
		failedAt = deadlineReached(st)
	}
	if !failedAt.IsZero() {
		sum.FailedCheck = failedAt
		sum.Undone = map[string]time.Duration{}
		for _, e := range st.Timeline {
			if step, _, ok := strings.Cut(e.Message, ":"); ok && e.Kind == timeline.KindUndone {
				sum.Undone[step] = e.Time.Sub(failedAt)
			}
		}
		sum.BackOnOld = backOnOld(<-samples, failedAt)
		if !sum.BackOnOld.IsZero() {
			sum.BackWithin = sum.BackOnOld.Sub(failedAt)
		}
	}
	return nil
}

func (cw *changeWorld) changeStatus(ctx context.Context, id string) (workflows.ChangeStatus, error) {
	var st workflows.ChangeStatus
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := cw.Client().QueryWorkflow(qctx, id, "", workflows.QueryStatus)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

// confirmLanding prints how a person confirms the landing step, and confirms it as the
// demo once ConfirmAfter has passed without one. It returns when the step was first seen
// waiting.
func (cw *changeWorld) confirmLanding(ctx context.Context, st workflows.ChangeStatus, askedAt time.Time) time.Time {
	s, ok := st.Step(StepLanding)
	if !ok || s.State != workflows.StepRunning {
		return time.Time{}
	}
	if cw.opts.Late {
		if askedAt.IsZero() {
			cw.Say("landing: nobody confirms tonight (the client's testers are asleep); decideBy %s rolls everything back",
				st.Clock.DecideBy.Local().Format("15:04:05"))
		}
		return time.Now()
	}
	var items []string
	for _, step := range cw.spec.Steps {
		if step.ID == StepLanding && step.Confirm != nil {
			items = step.Confirm.Checklist
		}
	}
	checklist := map[string]bool{}
	var answers []string
	for _, it := range items {
		checklist[it] = true
		answers = append(answers, fmt.Sprintf("%q:true", it))
	}
	if askedAt.IsZero() {
		cw.Say("landing tests: confirm with the plain temporal CLI (the demo confirms in %s):", cw.opts.ConfirmAfter)
		fmt.Fprintf(cw.out, "          %s workflow update execute --address %s --workflow-id %s --name %s --input '{\"step\":%q,\"by\":\"you\",\"checklist\":{%s}}'\n",
			cmp.Or(cw.opts.TemporalCLI, "temporal"), cw.temporal, st.ChangeID, workflows.UpdateConfirm, StepLanding, strings.Join(answers, ","))
		return time.Now()
	}
	if time.Since(askedAt) < cw.opts.ConfirmAfter {
		return askedAt
	}
	h, err := cw.Client().UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: st.ChangeID, UpdateName: workflows.UpdateConfirm, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.ConfirmRequest{Step: StepLanding, By: "make-demo", Checklist: checklist,
			Comment: "nobody objected within " + cw.opts.ConfirmAfter.String()}},
	})
	if err == nil {
		var answer string
		if err = h.Get(ctx, &answer); err == nil {
			cw.Say("landing: %s", answer)
		}
	}
	if err != nil {
		cw.Say("landing: the demo's confirmation was refused: %v", err)
	}
	return time.Now() // asks again after ConfirmAfter if the step still waits
}

// errNoChange is returned when the world has no Temporal to run a change on.
var errNoChange = errors.New("this world runs no Temporal server and no worker (CloudOnly): no change can run")
