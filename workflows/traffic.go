package workflows

// Traffic steps: the canary takes the shares of canary.traffic one step after the
// other while it soaks, and the balancer goes back to sharing by instance count on
// every way out.

import (
	"fmt"
	"strconv"
	"time"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// stepped says the release takes traffic steps: the spec asks for them and there is an
// old version to share the traffic with.
func (r *release) stepped() bool {
	prev := r.st.Status.PreviousVersion
	return r.v.traffic && len(r.spec.Canary.Traffic) > 0 && prev != "" && prev != r.in.Version
}

// trafficStep is the index of the step the soak is in.
func (r *release) trafficStep() int {
	per := r.spec.Canary.StepSoakOrDefault()
	i := 0
	if per > 0 {
		i = int(r.st.SoakElapsed / per)
	}
	return min(i, len(r.spec.Canary.Traffic)-1)
}

// untilNextStep is how much soak is left in the current step.
func (r *release) untilNextStep() time.Duration {
	per := r.spec.Canary.StepSoakOrDefault()
	return per*(r.st.SoakElapsed/per+1) - r.st.SoakElapsed
}

// enterTrafficStep gives the canary the share of the step the soak is in, if it does not
// have it yet.
func (r *release) enterTrafficStep(ctx workflow.Context) error {
	if !r.stepped() {
		return nil
	}
	i := r.trafficStep()
	w := r.spec.Canary.Traffic[i]
	if r.st.Weighted && r.st.Status.CanaryWeight == w {
		return nil
	}
	if err := r.setCanaryWeight(ctx, w); err != nil {
		return err
	}
	r.st.Status.TrafficStep, r.st.Status.TrafficSteps = i+1, len(r.spec.Canary.Traffic)
	r.event(ctx, timeline.KindTraffic, "", fmt.Sprintf("the canary takes %d%% of requests (step %d of %d)", w, i+1, len(r.spec.Canary.Traffic)))
	return nil
}

// canaryOff takes the canary to 0 % at once: the first thing done when a stepped
// release fails, before anything else is decided.
func (r *release) canaryOff(ctx workflow.Context) {
	if !r.st.Weighted || r.st.Status.CanaryWeight == 0 {
		return
	}
	if err := r.setCanaryWeight(ctx, 0); err != nil {
		workflow.GetLogger(ctx).Error("canary not taken to 0%", "error", err)
		return
	}
	r.event(ctx, timeline.KindTraffic, "", "the canary takes 0% of requests")
}

// clearWeights lets the balancer share by instance count again.
func (r *release) clearWeights(ctx workflow.Context) error {
	if !r.st.Weighted {
		return nil
	}
	in := activities.WeightsInput{Target: r.spec.Target, Weights: map[string]int{}}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.SetWeights, in).Get(ctx, nil); err != nil {
		return err
	}
	r.st.Weighted = false
	r.st.Status.CanaryWeight, r.st.Status.TrafficStep = 0, 0
	r.upsertCanaryWeight(ctx, "")
	return nil
}

func (r *release) setCanaryWeight(ctx workflow.Context, w int) error {
	weights := map[string]int{r.st.Status.PreviousVersion: 100 - w, r.in.Version: w}
	in := activities.WeightsInput{Target: r.spec.Target, Weights: weights}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, shortOptions()), a.SetWeights, in).Get(ctx, nil); err != nil {
		return err
	}
	r.st.Weighted = true
	r.st.Status.CanaryWeight = w
	r.st.Status.Traffic = weights
	r.upsertCanaryWeight(ctx, strconv.Itoa(w)+"%")
	return nil
}

// upsertCanaryWeight shows the share in the Temporal UI; only stepped releases set it,
// so a namespace set up before it existed runs other releases unchanged.
func (r *release) upsertCanaryWeight(ctx workflow.Context, v string) {
	key := temporal.NewSearchAttributeKeyKeyword(SACanaryWeight)
	upd := key.ValueSet(v)
	if v == "" {
		upd = key.ValueUnset()
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, upd); err != nil {
		workflow.GetLogger(ctx).Warn("search attribute not updated", "error", err)
	}
}
