package workflows

// The go/no-go call: before anything changes, the named people answer go or no-go. One
// no-go, or too few go by the timeout, defers the release or the change.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timeline"
)

// Answers of the go/no-go call.
const (
	AnswerGo   = "go"
	AnswerNoGo = "no-go"
)

// call holds the go/no-go call of the spec, if it has one.
func (k *clock) call(ctx workflow.Context) error {
	g := k.goNoGo
	if g == nil || k.st.GoNoGo != nil && k.st.GoNoGo.Decided {
		return nil
	}
	now := workflow.Now(ctx)
	opens, err := g.OpensAt(now)
	if err != nil {
		return err
	}
	if k.st.GoNoGo == nil {
		k.st.GoNoGo = &GoNoGoStatus{OpensAt: opens, Required: g.RequiredGo(), People: g.Policy().People()}
	}
	call := k.st.GoNoGo
	if wait := call.OpensAt.Sub(now); wait > 0 {
		k.waiting(ctx, "waiting for the go/no-go call at "+call.OpensAt.Format("Mon 15:04")+" "+g.Timezone, call.OpensAt)
		if err := workflow.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	k.doneWaiting()
	timeout := g.TimeoutOrDefault()
	call.Open, call.ClosesAt = true, workflow.Now(ctx).Add(timeout)
	k.event(ctx, timeline.KindGoNoGoAsked, "", fmt.Sprintf("go/no-go: %d go needed from %s within %s; one no-go defers", call.Required, g.Policy().ApproversLabel(), timeout))
	decided, err := workflow.AwaitWithTimeout(ctx, timeout, func() bool { return call.noGo() != nil || call.goes() >= call.Required })
	call.Open, call.Decided = false, true
	if err != nil {
		return err
	}
	if no := call.noGo(); no != nil {
		return &deferred{reason: fmt.Sprintf("no-go from %s: %s", no.By, no.Reason)}
	}
	if !decided {
		return &deferred{reason: fmt.Sprintf("go/no-go: %d of %d go after %s", call.goes(), call.Required, timeout)}
	}
	k.event(ctx, timeline.KindGo, "", fmt.Sprintf("go: %d of %d", call.goes(), call.Required))
	return nil
}

func (s *GoNoGoStatus) goes() int {
	n := 0
	for _, a := range s.Answers {
		if a.Answer == AnswerGo {
			n++
		}
	}
	return n
}

func (s *GoNoGoStatus) noGo() *GoNoGoAnswer {
	for i := range s.Answers {
		if s.Answers[i].Answer == AnswerNoGo {
			return &s.Answers[i]
		}
	}
	return nil
}

func (k *clock) validateGoNoGo(req GoNoGoRequest) error {
	if err := requireBy(req.By); err != nil {
		return err
	}
	if err := k.closed(); err != nil {
		return err
	}
	if req.Answer != AnswerGo && req.Answer != AnswerNoGo {
		return fmt.Errorf("answer: %q; say %s or %s", clipped(req.Answer), AnswerGo, AnswerNoGo)
	}
	if strings.TrimSpace(req.Reason) == "" && req.Answer == AnswerNoGo {
		return errors.New("reason is required with no-go: say why")
	}
	if len(req.Reason) > maxCommentLen {
		return fmt.Errorf("reason: %d bytes, at most %d", len(req.Reason), maxCommentLen)
	}
	call := k.st.GoNoGo
	if k.goNoGo == nil {
		return errors.New("this spec has no go/no-go call")
	}
	if call == nil || !call.Open {
		if call != nil && call.Decided {
			return errors.New("the go/no-go call is over")
		}
		opens := ""
		if call != nil {
			opens = " (it opens " + call.OpensAt.Format("Mon 15:04") + " " + k.goNoGo.Timezone + ")"
		}
		return errors.New("the go/no-go call is not open yet" + opens)
	}
	if err := k.goNoGo.Policy().CheckActor(k.id, req.By, "answer the go/no-go call of"); err != nil {
		return err
	}
	if slices.ContainsFunc(call.Answers, func(a GoNoGoAnswer) bool { return schemas.SamePerson(a.By, req.By) }) {
		return fmt.Errorf("%s has already answered", req.By)
	}
	return nil
}

func (k *clock) onGoNoGo(ctx workflow.Context, req GoNoGoRequest) string {
	call := k.st.GoNoGo
	call.Answers = append(call.Answers, GoNoGoAnswer{By: req.By, Answer: req.Answer, Reason: req.Reason, At: workflow.Now(ctx)})
	msg := req.Answer + orEmpty(": ", req.Reason)
	kind := timeline.KindGo
	if req.Answer == AnswerNoGo {
		kind = timeline.KindNoGo
	}
	k.event(ctx, kind, req.By, msg)
	return fmt.Sprintf("%s from %s (%d of %d go)", req.Answer, req.By, call.goes(), call.Required)
}
