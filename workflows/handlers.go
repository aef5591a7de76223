package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/timeline"
)

// request is the payload of a message people send a release; Actor says who sent it.
type request interface {
	Actor() string
}

// message is one thing people can send a release, declared once: it is registered both
// as an update (validated before it is accepted, for callers that want the answer) and
// as a signal of the same name (for fire-and-forget callers), so the two cannot drift.
type message[T request] struct {
	name     string
	validate func(T) error
	apply    func(workflow.Context, T) string
}

// receiver applies one pending signal of a message; a signal that the validator refuses
// is recorded in the timeline and otherwise ignored.
type receiver struct {
	name    string
	receive func(workflow.Context, workflow.ReceiveChannel)
}

// refuser records a refused signal in the timeline of whoever received it.
type refuser func(ctx workflow.Context, by, msg string)

// register sets up the update of m and returns the receiver of its signal.
func register[T request](ctx workflow.Context, refuse refuser, m message[T]) (receiver, error) {
	err := workflow.SetUpdateHandlerWithOptions(ctx, m.name,
		func(ctx workflow.Context, req T) (string, error) { return m.apply(ctx, req), nil },
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req T) error { return m.validate(req) }})
	receive := func(ctx workflow.Context, c workflow.ReceiveChannel) {
		var req T
		c.Receive(ctx, &req)
		if err := m.validate(req); err != nil {
			refuse(ctx, req.Actor(), fmt.Sprintf("%s signal refused: %v", m.name, err))
			return
		}
		m.apply(ctx, req)
	}
	return receiver{name: m.name, receive: receive}, err
}

// registerHandlers sets up the status query and every message, in a fixed order: the
// signal selector serves them in that order, and ranging over a map would not be
// deterministic.
func (r *release) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, r.status(ctx)); err != nil {
		return err
	}
	for _, add := range append([]func() (receiver, error){
		func() (receiver, error) {
			return register(ctx, r.refused, message[ApproveRequest]{UpdateApprove, r.validateApprove, r.onApprove})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[AbortRequest]{UpdateAbort, r.validateAbort, r.onAbort})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[ActorRequest]{UpdatePause, r.validatePause, r.onPause})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[ActorRequest]{UpdateResume, r.validateResume, r.onResume})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[ActorRequest]{UpdatePromote, r.validatePromote, r.onPromote})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[ActorRequest]{UpdateFinalize, r.validateFinalize, r.onFinalize})
		},
		func() (receiver, error) {
			return register(ctx, r.refused, message[RevertRequest]{UpdateRevert, r.validateRevert, r.onRevert})
		},
	}, r.clockHandlers(ctx)...) {
		recv, err := add()
		if err != nil {
			return err
		}
		r.receivers = append(r.receivers, recv)
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		sel := workflow.NewSelector(ctx)
		for _, recv := range r.receivers {
			sel.AddReceive(workflow.GetSignalChannel(ctx, recv.name), func(c workflow.ReceiveChannel, _ bool) { recv.receive(ctx, c) })
		}
		for {
			sel.Select(ctx)
		}
	})
	return nil
}

// refused records a signal the release refused.
func (r *release) refused(ctx workflow.Context, by, msg string) {
	r.event(ctx, timeline.KindRefused, by, msg)
}

// drainSignals applies signals that arrived but were not yet handled, before the run
// continues as new, so none is lost.
func (r *release) drainSignals(ctx workflow.Context) {
	for _, recv := range r.receivers {
		c := workflow.GetSignalChannel(ctx, recv.name)
		for c.Len() > 0 {
			recv.receive(ctx, c)
		}
	}
}

func (r *release) status(ctx workflow.Context) func() (Status, error) {
	return func() (Status, error) {
		s := r.st.Status
		if s.Phase == PhaseSoaking && !s.Paused && !s.SoakEndsAt.IsZero() {
			s.SoakRemaining = max(0, s.SoakEndsAt.Sub(workflow.Now(ctx)))
		}
		return s, nil
	}
}
