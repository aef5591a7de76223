package workflows

// Status upkeep: the phase, the fleet as last seen, the timeline and the search
// attributes.

import (
	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/timeline"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// maxTimeline bounds the timeline carried in state and returned by the status query.
const maxTimeline = 200

// maxChecks bounds the check results kept in status.
const maxChecks = 20

func (r *release) observe(st fleet.State) {
	var counts []VersionCount
	index := map[string]int{}
	attached := 0
	for _, in := range st.Instances {
		i, ok := index[in.Version]
		if !ok {
			i = len(counts)
			index[in.Version] = i
			counts = append(counts, VersionCount{Version: in.Version})
		}
		counts[i].Total++
		if in.Healthy {
			counts[i].Healthy++
		}
		if in.Attached && in.Healthy {
			counts[i].Attached++
			attached++
		}
	}
	traffic := map[string]int{}
	for _, c := range counts {
		if attached > 0 && c.Attached > 0 {
			traffic[c.Version] = c.Attached * 100 / attached
		}
	}
	r.st.Status.Versions = counts
	if !r.st.Weighted { // weights, not instance counts, share the traffic
		r.st.Status.Traffic = traffic
	}
	f := st
	r.st.Status.Fleet = &f
}

func (r *release) setPhase(ctx workflow.Context, p Phase) {
	r.phaseEnded(ctx)
	switch {
	case p == PhaseRollingBack:
		r.metrics(ctx).Counter(MetricRollbacks).Inc(1)
	case p.Terminal():
		r.countOutcome(ctx, p)
	}
	r.st.Status.Phase = p
	r.st.Status.Phases = append(r.st.Status.Phases, PhaseRecord{Phase: p, Started: workflow.Now(ctx)})
	r.upsertSearchAttributes(ctx)
	if !p.Terminal() && p != PhasePlanning {
		r.notes.send(ctx, timeline.KindPhase, "", "")
	}
}

func (r *release) upsertSearchAttributes(ctx workflow.Context) {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		temporal.NewSearchAttributeKeyKeyword(SAService).ValueSet(r.spec.Service),
		temporal.NewSearchAttributeKeyKeyword(SAEnvironment).ValueSet(r.spec.Environment),
		temporal.NewSearchAttributeKeyKeyword(SAVersion).ValueSet(r.in.Version),
		temporal.NewSearchAttributeKeyKeyword(SAPhase).ValueSet(string(r.st.Status.Phase)),
	)
	if err != nil {
		workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
	}
}

func (r *release) event(ctx workflow.Context, kind timeline.EventKind, by, msg string) {
	r.record(ctx, kind, by, msg)
	r.notes.onEvent(ctx, kind, by, msg)
}

// record puts an event on the timeline (and in the log) without telling anyone.
func (r *release) record(ctx workflow.Context, kind timeline.EventKind, by, msg string) {
	e := Event{Time: workflow.Now(ctx), Phase: r.st.Status.Phase, Kind: kind, By: by, Message: msg}
	r.st.Status.Timeline = append(r.st.Status.Timeline, e)
	if len(r.st.Status.Timeline) > maxTimeline {
		r.st.Status.Timeline = r.st.Status.Timeline[len(r.st.Status.Timeline)-maxTimeline:]
	}
	workflow.GetLogger(ctx).Info(msg, "kind", kind, "by", by)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
