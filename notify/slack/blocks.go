package slack

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/zerodown/zerodown/notify"
	"github.com/zerodown/zerodown/timeline"
)

// Limits of Block Kit that a long message or changelog must stay under.
const (
	maxSectionText = 3000
	maxHeaderText  = 150
	// maxChangelog bounds the changelog posted in the thread; a longer one is cut, and
	// says so, rather than failing the post.
	maxChangelog = 12000
)

// part is one message posted in the thread for an event; id tells it from the event's
// other messages when a retry checks what was already posted.
type part struct {
	id        string
	text      string // fallback text: notifications, screen readers
	blocks    []slackapi.Block
	broadcast bool // also shown in the channel, for what people must not miss
}

// escape makes text safe in mrkdwn: a changelog or a reason saying "<!channel>" must not
// ping the channel, nor "<http://x|y>" forge a link.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func mrkdwn(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, clip(s, maxSectionText), false, false)
}

func plain(s string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, s, true, false)
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// slackDate renders t in each reader's own time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

func phaseEmoji(phase timeline.Phase) string {
	switch phase {
	case timeline.PhaseSucceeded:
		return ":white_check_mark:"
	case timeline.PhaseRolledBack:
		return ":leftwards_arrow_with_hook:"
	case timeline.PhaseFailed:
		return ":x:"
	case timeline.PhaseRollingBack:
		return ":rewind:"
	case timeline.PhaseAwaitingApproval:
		return ":raised_hand:"
	case timeline.PhaseSoaking:
		return ":hourglass_flowing_sand:"
	case timeline.PhasePromoting:
		return ":arrow_double_up:"
	}
	return ":gear:"
}

func terminal(phase timeline.Phase) bool {
	return phase == timeline.PhaseSucceeded || phase == timeline.PhaseRolledBack || phase == timeline.PhaseFailed
}

func title(e notify.Event) string {
	if e.Change != nil {
		return changeTitle(e)
	}
	return clip(fmt.Sprintf("%s %s to %s", e.Service, e.Version, e.Environment), maxHeaderText)
}

// parentText is the parent message's fallback text, also what a notification shows.
func parentText(e notify.Event) string {
	return fmt.Sprintf("%s: %s", title(e), e.Phase)
}

// parentBlocks draws the release's parent message from the event's status snapshot.
func parentBlocks(e notify.Event) []slackapi.Block {
	if e.Change != nil {
		return changeParentBlocks(e)
	}
	phase := phaseEmoji(e.Phase) + " " + string(e.Phase)
	if e.Paused {
		phase += " (paused)"
	}
	versions := escape(e.Version)
	if e.PreviousVersion != "" {
		versions = escape(e.PreviousVersion) + " → " + versions
	}
	fields := []*slackapi.TextBlockObject{
		mrkdwn("*Phase*\n" + phase),
		mrkdwn("*Version*\n" + versions),
	}
	if e.StartedBy != "" {
		fields = append(fields, mrkdwn("*Started by*\n"+escape(e.StartedBy)))
	}
	if !e.Started.IsZero() {
		fields = append(fields, mrkdwn("*Started*\n"+slackDate(e.Started)))
	}
	if e.Batches > 0 {
		fields = append(fields, mrkdwn(fmt.Sprintf("*Promote*\nbatch %d of %d", e.Batch, e.Batches)))
	}
	if t := trafficLabel(e.Traffic); t != "" {
		fields = append(fields, mrkdwn("*Traffic*\n"+t))
	}
	if e.Waiting != "" {
		fields = append(fields, mrkdwn("*Waiting*\n"+escape(e.Waiting)))
	}
	if !e.DecideBy.IsZero() && e.Ended.IsZero() {
		// Slack renders the date in each reader's zone; the time left is as of this post,
		// and every event redraws it.
		fields = append(fields, mrkdwn(fmt.Sprintf("*Deadline*\ndecide by %s (%s left)", slackDate(e.DecideBy), max(time.Until(e.DecideBy), 0).Round(time.Minute))))
	}
	if !e.Ended.IsZero() && !e.Started.IsZero() {
		fields = append(fields, mrkdwn("*Took*\n"+e.Ended.Sub(e.Started).Round(time.Second).String()))
	}
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(plain(title(e))),
		slackapi.NewSectionBlock(nil, fields, nil),
	}
	if a := e.Approval; a != nil && !terminal(e.Phase) {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(":raised_hand: "+approvalLine(a)), nil, nil))
	}
	if e.Error != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(":warning: "+escape(e.Error)), nil, nil))
	}
	ctx := "`" + escape(e.ReleaseID) + "`"
	if !e.Time.IsZero() {
		ctx += " · updated " + slackDate(e.Time)
	}
	blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(ctx)))
	if buttons := phaseButtons(e); len(buttons) > 0 {
		blocks = append(blocks, slackapi.NewActionBlock("zerodown_release_actions", buttons...))
	}
	return blocks
}

func trafficLabel(traffic map[string]int) string {
	type share struct {
		version string
		pct     int
	}
	var shares []share
	for v, p := range traffic {
		shares = append(shares, share{v, p})
	}
	slices.SortFunc(shares, func(a, b share) int {
		return cmp.Or(cmp.Compare(b.pct, a.pct), cmp.Compare(a.version, b.version))
	})
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = fmt.Sprintf("%s %d%%", escape(s.version), s.pct)
	}
	return strings.Join(parts, " · ")
}

func approvalLine(a *notify.Approval) string {
	gate := "Waiting for approval"
	switch a.Gate {
	case "afterSoak":
		gate += " after the soak"
	case "beforeLastBatch":
		gate += " before the last batch"
	}
	need := max(1, a.Required)
	s := fmt.Sprintf("*%s*: %d of %d", gate, len(a.ApprovedBy), need)
	if len(a.ApprovedBy) > 0 {
		s += " (approved by " + escape(strings.Join(a.ApprovedBy, ", ")) + ")"
	}
	if a.Approvers != "" {
		s += "\nApprovers: " + escape(a.Approvers)
	}
	if !a.Deadline.IsZero() {
		s += "\nDeadline: " + slackDate(a.Deadline)
		if a.OnTimeout != "" {
			s += ", then " + escape(a.OnTimeout)
		}
	}
	return s
}

// phaseButtons are the actions that make sense in the release's phase, so that nobody is
// offered a button the release would refuse anyway.
func phaseButtons(e notify.Event) []slackapi.BlockElement {
	v := ActionValue{ReleaseID: e.ReleaseID, FirstRunID: e.FirstRunID}
	switch {
	case terminal(e.Phase), e.Phase == timeline.PhaseRollingBack:
		return nil
	case e.Phase == timeline.PhaseAwaitingApproval:
		return []slackapi.BlockElement{approveButton(v), abortButton(e, v)}
	case e.Phase == timeline.PhaseSoaking:
		return []slackapi.BlockElement{promoteButton(v), abortButton(e, v)}
	}
	return []slackapi.BlockElement{abortButton(e, v)}
}

func approveButton(v ActionValue) *slackapi.ButtonBlockElement {
	return slackapi.NewButtonBlockElement(ActionApprove, v.Encode(), plain("Approve")).WithStyle(slackapi.StylePrimary)
}

func promoteButton(v ActionValue) *slackapi.ButtonBlockElement {
	return slackapi.NewButtonBlockElement(ActionPromote, v.Encode(), plain("Promote now"))
}

// abortButton asks for confirmation: an abort rolls the fleet back and cannot be undone.
func abortButton(e notify.Event, v ActionValue) *slackapi.ButtonBlockElement {
	confirm := slackapi.NewConfirmationBlockObject(plain("Abort this release?"),
		mrkdwn(fmt.Sprintf("%s goes back to %s on every instance.", escape(e.Environment), escape(cmp.Or(e.PreviousVersion, "the old version")))),
		plain("Abort and roll back"), plain("Cancel"))
	return slackapi.NewButtonBlockElement(ActionAbort, v.Encode(), plain("Abort")).WithStyle(slackapi.StyleDanger).WithConfirm(confirm)
}

var kindEmoji = map[timeline.EventKind]string{
	timeline.KindStarted:           ":rocket:",
	timeline.KindCanary:            ":hatching_chick:",
	timeline.KindTraffic:           ":level_slider:",
	timeline.KindCheckFailed:       ":warning:",
	timeline.KindSoakSkipped:       ":fast_forward:",
	timeline.KindApprovalRequested: ":raised_hand:",
	timeline.KindApproved:          ":+1:",
	timeline.KindApprovalTimeout:   ":alarm_clock:",
	timeline.KindAborted:           ":octagonal_sign:",
	timeline.KindPaused:            ":double_vertical_bar:",
	timeline.KindResumed:           ":arrow_forward:",
	timeline.KindPromoted:          ":fast_forward:",
	timeline.KindBatch:             ":arrow_double_up:",
	timeline.KindFlip:              ":twisted_rightwards_arrows:",
	timeline.KindHalted:            ":no_entry:",
	timeline.KindRollback:          ":rewind:",
	timeline.KindSucceeded:         ":white_check_mark:",
	timeline.KindRolledBack:        ":leftwards_arrow_with_hook:",
	timeline.KindFailed:            ":x:",
	timeline.KindHeld:              ":pause_button:",
	timeline.KindStepStarted:       ":arrow_forward:",
	timeline.KindStepDone:          ":heavy_check_mark:",
	timeline.KindStepFailed:        ":x:",
	timeline.KindConfirmAsked:      ":raised_hand:",
	timeline.KindConfirmed:         ":+1:",
	timeline.KindRejected:          ":-1:",
	timeline.KindUndone:            ":leftwards_arrow_with_hook:",
	timeline.KindContracted:        ":scissors:",
	timeline.KindContractRefused:   ":no_entry:",
	timeline.KindReminder:          ":alarm_clock:",
	timeline.KindEscalated:         ":rotating_light:",
}

// broadcastKinds also appear in the channel: a request for a decision, and the outcome.
var broadcastKinds = map[timeline.EventKind]bool{
	timeline.KindApprovalRequested: true,
	timeline.KindGoNoGoAsked:       true,
	timeline.KindDeferred:          true,
	timeline.KindSucceeded:         true,
	timeline.KindRolledBack:        true,
	timeline.KindFailed:            true,
	timeline.KindHalted:            true,
	timeline.KindConfirmAsked:      true,
	timeline.KindReminder:          true,
	timeline.KindEscalated:         true,
}

// eventText says what happened when the workflow gave no message.
func eventText(e notify.Event) string {
	if e.Message != "" {
		return e.Message
	}
	switch e.Kind {
	case timeline.KindStarted:
		from := cmp.Or(e.PreviousVersion, "(none)")
		return fmt.Sprintf("release of %s %s to %s started: %s → %s, %d instance(s)", e.Service, e.Version, e.Environment, from, e.Version, e.Desired)
	case timeline.KindSucceeded:
		return fmt.Sprintf("released %s to %s in %s", e.Version, e.Environment, e.Ended.Sub(e.Started).Round(time.Second))
	}
	return string(e.Kind)
}

// replyParts are the thread messages of an event: the event itself, and for the start, the
// changelog. A phase change only redraws the parent.
func replyParts(e notify.Event, labelled bool) []part {
	if e.Kind == timeline.KindPhase {
		return nil
	}
	emoji := kindEmoji[e.Kind]
	if emoji == "" {
		emoji = ":small_blue_diamond:"
	}
	text := eventText(e)
	label := ""
	if labelled {
		label = "*" + escape(title(e)) + "*: "
	}
	calls := mentions(e.Mentions)
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(emoji+" "+calls+label+escape(text)), nil, nil)}
	var ctx []string
	if e.By != "" {
		ctx = append(ctx, "by *"+escape(e.By)+"*")
	}
	if e.Kind == timeline.KindApprovalRequested && e.Approval != nil {
		ctx = append(ctx, approvalLine(e.Approval))
	}
	if len(ctx) > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(strings.Join(ctx, " · "))))
	}
	if e.Change != nil && e.Change.Confirm != nil && e.Kind == timeline.KindConfirmAsked {
		blocks = append(blocks, confirmBlocks(e, *e.Change.Confirm)...)
	}
	if e.Kind == timeline.KindApprovalRequested && e.Change == nil {
		v := ActionValue{ReleaseID: e.ReleaseID, FirstRunID: e.FirstRunID}
		blocks = append(blocks, slackapi.NewActionBlock("zerodown_approval_actions", approveButton(v), abortButton(e, v)))
	}
	parts := []part{{id: "event", text: clip(calls+title(e)+": "+text, maxSectionText), blocks: blocks, broadcast: broadcastKinds[e.Kind]}}
	if e.Kind == timeline.KindStarted && strings.TrimSpace(e.Changelog) != "" {
		parts = append(parts, changelogPart(e))
	}
	return parts
}

// changelogPart cuts the changelog into sections at line ends, each under Slack's limit,
// and the whole under maxChangelog.
func changelogPart(e notify.Event) part {
	lines := strings.Split(strings.TrimRight(e.Changelog, "\n"), "\n")
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(":memo: *Changelog* of "+escape(e.Version)), nil, nil)}
	var cur strings.Builder
	total, shown := 0, 0
	flush := func() {
		if strings.TrimSpace(cur.String()) != "" { // Slack refuses an empty section
			blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(cur.String()), nil, nil))
		}
		cur.Reset()
	}
	const room = maxSectionText - 100 // leaves room for the cut marker
	for _, line := range lines {
		l := clip(escape(line), room)
		if total+len(l) > maxChangelog {
			break
		}
		if cur.Len()+len(l)+1 > room {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
		total += len(l) + 1
		shown++
	}
	flush()
	if rest := len(lines) - shown; rest > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(fmt.Sprintf("… and %d more line(s), not shown", rest))))
	}
	return part{id: "changelog", text: clip(title(e)+" changelog:\n"+e.Changelog, 300), blocks: blocks}
}
