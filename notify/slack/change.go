package slack

// A change's thread: its parent message is the change's table of steps, redrawn with
// every event; its confirm steps are answered with the Confirm and Reject buttons of the
// reply that asks for them. Its releases reply in the same thread (Request.ReplyOnly).

import (
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/zerodown/zerodown/notify"
)

// maxStepSections bounds the sections of the step table (Slack allows 50 blocks a message).
const maxStepSections = 40

func changeTitle(e notify.Event) string {
	return clip(fmt.Sprintf("change %s in %s", e.Change.Name, e.Environment), maxHeaderText)
}

var stepEmoji = map[string]string{
	"waiting": ":white_circle:", "running": ":large_blue_circle:", "done": ":heavy_check_mark:",
	"finalized": ":white_check_mark:", "failed": ":x:", "cancelled": ":heavy_minus_sign:",
	"rolling-back": ":rewind:", "rolled-back": ":leftwards_arrow_with_hook:", "not-undone": ":warning:",
	"skipped": ":heavy_minus_sign:",
}

// changeParentBlocks draws the change: its phase, who started it, and each step's state.
func changeParentBlocks(e notify.Event) []slackapi.Block {
	c := e.Change
	fields := []*slackapi.TextBlockObject{mrkdwn("*Phase*\n" + phaseEmoji(e.Phase) + " " + string(e.Phase))}
	if e.StartedBy != "" {
		fields = append(fields, mrkdwn("*Started by*\n"+escape(e.StartedBy)))
	}
	if !e.Started.IsZero() {
		fields = append(fields, mrkdwn("*Started*\n"+slackDate(e.Started)))
	}
	if !e.Ended.IsZero() && !e.Started.IsZero() {
		fields = append(fields, mrkdwn("*Took*\n"+e.Ended.Sub(e.Started).Round(time.Second).String()))
	}
	blocks := []slackapi.Block{slackapi.NewHeaderBlock(plain(changeTitle(e)))}
	if c.Description != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(escape(c.Description)), nil, nil))
	}
	blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil))
	blocks = append(blocks, stepSections(c)...)
	if e.Error != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(":warning: "+escape(e.Error)), nil, nil))
	}
	ctx := "`" + escape(e.ReleaseID) + "`"
	if !e.Time.IsZero() {
		ctx += " · updated " + slackDate(e.Time)
	}
	return append(blocks, slackapi.NewContextBlock("", mrkdwn(ctx)))
}

// stepSections are the step table, one line a step, cut into sections under Slack's
// limits.
func stepSections(c *notify.Change) []slackapi.Block {
	var blocks []slackapi.Block
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 && len(blocks) < maxStepSections {
			blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(cur.String()), nil, nil))
		}
		cur.Reset()
	}
	for _, s := range c.Steps {
		line := fmt.Sprintf("%s `%s` %s: *%s*", stepEmoji[s.State], escape(s.ID), escape(s.Kind), escape(s.State))
		if s.Detail != "" {
			line += " · " + escape(clip(s.Detail, notify.MaxStepDetail))
		}
		if cur.Len()+len(line)+1 > maxSectionText-100 {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
	}
	flush()
	if c.Hidden > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(fmt.Sprintf("… and %d more step(s): zerodown change status", c.Hidden))))
	}
	return blocks
}

// confirmBlocks ask for a confirmation: the prompt, the checklist, who may answer, and
// the Confirm and Reject buttons.
func confirmBlocks(e notify.Event, cf notify.Confirm) []slackapi.Block {
	var b strings.Builder
	if cf.Prompt != "" {
		b.WriteString(escape(cf.Prompt) + "\n")
	}
	for _, item := range cf.Checklist {
		b.WriteString("• " + escape(item) + "\n")
	}
	if len(cf.Checklist) > 0 {
		b.WriteString("_Confirm answers every item as fine; if one is not, reject with the reason._\n")
	}
	need := fmt.Sprintf("%d confirmation(s)", max(1, cf.Required))
	if cf.Approvers != "" {
		need += " from " + escape(cf.Approvers)
	}
	b.WriteString("Needs " + need)
	if !cf.Deadline.IsZero() {
		b.WriteString(", by " + slackDate(cf.Deadline))
		if cf.OnTimeout != "" {
			b.WriteString(", then " + escape(cf.OnTimeout))
		}
	}
	v := ChangeActionValue{ChangeID: e.ReleaseID, FirstRunID: e.FirstRunID, Step: cf.Step}
	confirm := slackapi.NewButtonBlockElement(ActionConfirm, v.Encode(), plain("Confirm")).WithStyle(slackapi.StylePrimary)
	reject := slackapi.NewButtonBlockElement(ActionReject, v.Encode(), plain("Reject…")).WithStyle(slackapi.StyleDanger)
	return []slackapi.Block{
		slackapi.NewSectionBlock(mrkdwn(clip(b.String(), maxSectionText)), nil, nil),
		slackapi.NewActionBlock("zerodown_confirm_"+cf.Step, confirm, reject),
	}
}
