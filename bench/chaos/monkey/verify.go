package monkey

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/zerodown/zerodown/internal/demo"
	"github.com/zerodown/zerodown/internal/localcloud/api"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// verify checks what a release left, from the local cloud's own records (every instance
// ever launched, with its launch key): the outcome, exactly the desired fleet of the
// right version and nothing else alive, each step of the plan launched once, and no
// process of a terminated instance still running. old is the fleet that served when
// the release began.
func verify(ctx context.Context, w *demo.World, spec schemas.Spec, rel *Release, final string, old []string) error {
	st, err := w.CloudState(ctx)
	if err != nil {
		return err
	}
	bad := func(format string, args ...any) { rel.Problems = append(rel.Problems, fmt.Sprintf(format, args...)) }
	if rel.Got != rel.Want {
		bad("ended %s, want %s", rel.Got, rel.Want)
	}
	desired := spec.Target.Instances
	rel.Fleet = map[string]int{}
	live, serving := 0, 0
	for _, in := range st.Instances {
		if !alive(in) {
			if demo.ProcessAlive(in.PID) {
				bad("instance %s is %s but its process %d still runs", in.ID, in.Status, in.PID)
			}
			continue
		}
		live++
		rel.Fleet[in.Version]++
		if in.Version == final && in.Healthy && in.Attached {
			serving++
		}
	}
	if live != desired || serving != desired {
		bad("fleet: %d live instance(s) %v, %d of them healthy attached %s; want exactly %d", live, rel.Fleet, serving, final, desired)
	}

	// Launch keys are <release id>/<first run id>/<step>; the plan says how many each needs.
	prefix := spec.ID() + "/" + rel.RunID + "/"
	rel.Steps = map[string]int{}
	var oldLost int
	for _, in := range st.Instances {
		if step, ok := strings.CutPrefix(in.LaunchKey, prefix); ok {
			rel.Steps[step]++
		} else if in.Status == api.StatusExited && slices.Contains(old, in.ID) {
			oldLost++ // an old instance died on its own: a rollback relaunches it
		}
	}
	plan := workflows.NewPlan(spec, desired)
	want := func(step string) (int, bool) {
		switch {
		case step == "canary":
			return plan.Canary, true
		case step == "rollback":
			return oldLost, true
		case strings.HasPrefix(step, "batch-"):
			i, err := strconv.Atoi(strings.TrimPrefix(step, "batch-"))
			if err == nil && i >= 1 && i <= len(plan.Batches) {
				return plan.Batches[i-1].Launch, true
			}
		}
		return 0, false
	}
	if rel.Want == workflows.PhaseSucceeded { // every step ran
		for _, step := range planSteps(plan) {
			if _, ok := rel.Steps[step]; !ok {
				bad("step %s launched nothing", step)
			}
		}
	}
	for _, step := range slices.Sorted(maps.Keys(rel.Steps)) {
		n, known := want(step)
		rel.LaunchesGot += rel.Steps[step]
		rel.LaunchesWant += n
		switch {
		case !known:
			bad("launch key step %q is in no plan", step)
		case rel.Steps[step] != n:
			bad("step %s launched %d instance(s), its plan needs %d", step, rel.Steps[step], n)
		}
	}
	return nil
}

func planSteps(p workflows.Plan) []string {
	steps := []string{"canary"}
	for i, b := range p.Batches {
		if b.Launch > 0 {
			steps = append(steps, fmt.Sprintf("batch-%d", i+1))
		}
	}
	return steps
}

// serving lists the instances that are live and attached: the fleet a release starts from.
func serving(ctx context.Context, w *demo.World) ([]string, error) {
	st, err := w.CloudState(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, in := range st.Instances {
		if alive(in) && in.Attached {
			ids = append(ids, in.ID)
		}
	}
	return ids, nil
}

// alive reports whether an instance still runs or may still run.
func alive(in api.Instance) bool {
	return in.Status == api.StatusPending || in.Status == api.StatusRunning || in.Status == api.StatusStopping
}
