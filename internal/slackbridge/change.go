package slackbridge

// The Confirm and Reject buttons of a change's confirm step. Confirm answers every item
// of the step's checklist as fine, for the person who clicked; Reject opens a form (a
// Slack modal) asking why, and its submission rejects the step with that reason, which
// rolls the change back. The change's own validators decide who may do either (the
// step's approvers, groups, count), as a release's decide for its buttons; the bridge
// first refuses, without sending anything, what cannot be a live zerodown button: an
// unreadable or oversized value, a change that does not exist or is over, a step that is
// no confirm step or waits for nobody.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
	"go.temporal.io/api/serviceerror"

	slacknotify "github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// Identifiers of the reject form, and its bounds.
const (
	// RejectCallbackID names the reject form; its submission comes back with it.
	RejectCallbackID = "zerodown_change_reject"
	reasonBlockID    = "reason"
	reasonActionID   = "reason"
	// maxReason is the longest reason the form takes (Slack's limit for a text input).
	maxReason = 3000
	// maxMetadata bounds the form's private metadata (Slack keeps at most 3,000 characters).
	maxMetadata = 3000
)

// rejectForm is what the reject form carries to its submission: the button's value and
// where to answer the person.
type rejectForm struct {
	Value   string `json:"value"`
	Channel string `json:"channel,omitempty"`
	Thread  string `json:"thread,omitempty"`
}

// identify names the clicker, or says why the click is refused.
func (b *Bridge) identify(cb *slack.InteractionCallback, verb string) (string, string) {
	if b.cfg.Team != "" && cb.Team.ID != b.cfg.Team {
		b.cfg.Logger.Warn("click from another workspace refused", "team", cb.Team.ID, "action", verb)
		return "", ":no_entry: Refused: this zerodown bridge does not serve this Slack workspace."
	}
	who, ok := b.cfg.Users[cb.User.ID]
	if !ok {
		b.cfg.Logger.Warn("click by an unmapped Slack user refused", "slackUser", cb.User.ID, "action", verb)
		return "", fmt.Sprintf(":no_entry: Refused: your Slack account (%s) is not mapped to a zerodown identity, so you cannot %s from Slack. Ask whoever runs the zerodown Slack bridge to add you to its users.", cb.User.ID, verb)
	}
	return who, ""
}

// waitingStep reads the change and returns the confirm step the button names, if it
// waits for people; otherwise why the click is refused.
func (b *Bridge) waitingStep(ctx context.Context, v slacknotify.ChangeActionValue) (workflows.StepStatus, string) {
	if b.cfg.Status == nil {
		return workflows.StepStatus{}, ":no_entry: Refused: this bridge cannot read changes (it has no Temporal status client); use zerodown change confirm|reject."
	}
	qctx, cancel := context.WithTimeout(ctx, b.cfg.UpdateTimeout)
	defer cancel()
	var st workflows.ChangeStatus
	enc, err := b.cfg.Status.QueryWorkflow(qctx, v.ChangeID, "", workflows.QueryStatus)
	if err == nil {
		err = enc.Get(&st)
	}
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return workflows.StepStatus{}, fmt.Sprintf(":no_entry: Refused: there is no change %s.", v.ChangeID)
	case err != nil:
		b.cfg.Logger.Warn("cannot read the change", "change", v.ChangeID, "error", err)
		return workflows.StepStatus{}, fmt.Sprintf(":warning: Could not read %s: %v", v.ChangeID, err)
	case st.ChangeID != v.ChangeID:
		return workflows.StepStatus{}, fmt.Sprintf(":no_entry: Refused: %s is not a change.", v.ChangeID)
	case st.Phase.Terminal():
		return workflows.StepStatus{}, fmt.Sprintf(":no_entry: Refused: %s has already finished (%s); this button belongs to a change that is over.", v.ChangeID, st.Phase)
	}
	s, ok := st.Step(v.Step)
	switch {
	case !ok:
		return s, fmt.Sprintf(":no_entry: Refused: %s has no step %s.", v.ChangeID, v.Step)
	case s.Kind != schemas.StepConfirm:
		return s, fmt.Sprintf(":no_entry: Refused: step %s of %s is a %s step, not a confirm step.", v.Step, v.ChangeID, s.Kind)
	case s.State != workflows.StepRunning:
		return s, fmt.Sprintf(":no_entry: Refused: step %s of %s is not waiting for a confirmation (%s).", v.Step, v.ChangeID, s.State)
	}
	return s, ""
}

// confirmClick confirms the step for the clicker, every checklist item answered fine.
func (b *Bridge) confirmClick(ctx context.Context, cb *slack.InteractionCallback, value, updateID string) string {
	who, refused := b.identify(cb, "confirm changes")
	if refused != "" {
		return refused
	}
	v, err := slacknotify.DecodeChangeActionValue(value)
	if err != nil {
		b.cfg.Logger.Warn("change button refused", "slackUser", cb.User.ID, "error", err)
		return ":no_entry: Refused: " + err.Error() + "."
	}
	step, refused := b.waitingStep(ctx, v)
	if refused != "" {
		return refused
	}
	answers := make(map[string]bool, len(step.Checklist))
	for _, item := range step.Checklist {
		answers[item] = true
	}
	req := workflows.ConfirmRequest{Step: v.Step, By: who, Checklist: answers, Comment: "from Slack"}
	return b.send(ctx, sent{kind: "change", verb: "confirm", workflowID: v.ChangeID, firstRun: v.FirstRunID,
		update: workflows.UpdateConfirm, updateID: updateID, by: who, payload: req})
}

// rejectClick opens the reject form; it returns what to tell the clicker when it cannot.
func (b *Bridge) rejectClick(ctx context.Context, cb *slack.InteractionCallback, value string) string {
	if _, refused := b.identify(cb, "reject changes"); refused != "" {
		return refused
	}
	v, err := slacknotify.DecodeChangeActionValue(value)
	if err != nil {
		b.cfg.Logger.Warn("change button refused", "slackUser", cb.User.ID, "error", err)
		return ":no_entry: Refused: " + err.Error() + "."
	}
	if _, refused := b.waitingStep(ctx, v); refused != "" {
		return refused
	}
	byHand := fmt.Sprintf("zerodown change reject %s %s --reason \"…\"", strings.TrimPrefix(v.ChangeID, "change/"), v.Step)
	if b.cfg.Slack == nil || cb.TriggerID == "" {
		return ":no_entry: A rejection needs a reason, and this bridge cannot open a form to ask for it (it has no bot token): run " + byHand
	}
	meta, _ := json.Marshal(rejectForm{Value: value, Channel: cb.Channel.ID, Thread: cb.Container.ThreadTs})
	if len(meta) > maxMetadata {
		return ":no_entry: Refused: the button's value is too long to carry through the form; run " + byHand
	}
	input := slack.NewPlainTextInputBlockElement(plain("what is wrong"), reasonActionID)
	input.Multiline = true
	input.MaxLength = maxReason
	view := slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      RejectCallbackID,
		Title:           plain("Reject the step"),
		Submit:          plain("Reject"),
		Close:           plain("Cancel"),
		PrivateMetadata: string(meta),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType,
				fmt.Sprintf("Rejecting *%s* rolls the whole of `%s` back, in reverse order.", v.Step, v.ChangeID), false, false), nil, nil),
			slack.NewInputBlock(reasonBlockID, plain("Reason"), nil, input),
		}},
	}
	if _, err := b.cfg.Slack.OpenViewContext(ctx, cb.TriggerID, view); err != nil {
		b.cfg.Logger.Warn("cannot open the reject form", "error", err)
		return fmt.Sprintf(":warning: Could not open the reject form (%v); run %s", err, byHand)
	}
	return ""
}

// rejectSubmitted rejects the step with the reason typed in the form.
func (b *Bridge) rejectSubmitted(ctx context.Context, cb *slack.InteractionCallback, updateID string) {
	var form rejectForm
	if len(cb.View.PrivateMetadata) > maxMetadata || json.Unmarshal([]byte(cb.View.PrivateMetadata), &form) != nil {
		b.cfg.Logger.Warn("reject form without its metadata refused", "slackUser", cb.User.ID)
		return // nobody to answer: the form did not say where it came from
	}
	to := *cb
	to.Channel.ID, to.Container.ThreadTs, to.ResponseURL = form.Channel, form.Thread, ""
	b.answer(ctx, &to, b.reject(ctx, cb, form, updateID))
}

func (b *Bridge) reject(ctx context.Context, cb *slack.InteractionCallback, form rejectForm, updateID string) string {
	who, refused := b.identify(cb, "reject changes")
	if refused != "" {
		return refused
	}
	v, err := slacknotify.DecodeChangeActionValue(form.Value)
	if err != nil {
		return ":no_entry: Refused: " + err.Error() + "."
	}
	var reason string
	if cb.View.State != nil {
		reason = strings.TrimSpace(cb.View.State.Values[reasonBlockID][reasonActionID].Value)
	}
	switch {
	case reason == "":
		return ":no_entry: Refused: a rejection needs a reason: say what is wrong."
	case len(reason) > maxReason:
		return fmt.Sprintf(":no_entry: Refused: the reason is %d bytes, at most %d.", len(reason), maxReason)
	}
	req := workflows.RejectRequest{Step: v.Step, By: who, Reason: reason}
	return b.send(ctx, sent{kind: "change", verb: "reject", workflowID: v.ChangeID, firstRun: v.FirstRunID,
		update: workflows.UpdateReject, updateID: updateID, by: who, payload: req})
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
