package workflows_test

import (
	"strings"
	"testing"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/timerules"
	"github.com/zerodown/zerodown/workflows"
)

var fuzzPhases = []workflows.Phase{
	workflows.PhasePlanning, workflows.PhaseCanary, workflows.PhaseSoaking, workflows.PhaseAwaitingApproval,
	workflows.PhasePromoting, workflows.PhaseDraining, workflows.PhaseSucceeded, workflows.PhaseRollingBack,
	workflows.PhaseRolledBack, workflows.PhaseFailed,
}

var fuzzUpdates = []string{workflows.UpdateApprove, workflows.UpdateAbort, workflows.UpdatePause, workflows.UpdateResume, workflows.UpdatePromote,
	workflows.UpdateGoNoGo, workflows.UpdateStartNow, workflows.UpdateExtend}

// byApprovers are the updates only the spec's approvers may send.
var byApprovers = map[string]bool{workflows.UpdateApprove: true, workflows.UpdateGoNoGo: true, workflows.UpdateStartNow: true, workflows.UpdateExtend: true}

// abortedBit in the phase byte says the release was aborted already (kept in the same byte
// so that the recorded corpus stays valid).
const abortedBit = 0x80

// FuzzUpdatePayload sends arbitrary payloads to every update's validator in every phase.
// Nothing may panic; a refusal always says why; nothing is accepted once the release has
// ended, while it rolls back or after an abort; and only a listed approver ever approves.
func FuzzUpdatePayload(f *testing.F) {
	for _, p := range []string{
		`{"by":"alice"}`, `{"by":"alice","comment":"ok"}`, `{"by":""}`, `{"by":"mallory"}`, `{}`, `null`, `[]`, `"alice"`,
		`{"by":123}`, `{"by":"alice","reason":"` + strings.Repeat("x", 300) + `"}`, `{"by":"\u0000"}`, `{`, ``,
		`{"by":"alice","answer":"go"}`, `{"by":"mallory","answer":"no-go","reason":"no"}`, `{"by":"bob","answer":"maybe"}`,
		`{"by":"alice","reason":"hotfix"}`, `{"by":"alice","extra":"1h","reason":"the client agreed"}`, `{"by":"bob","extra":"-1h","reason":"x"}`,
		`{"by":"alice","extra":"100000h","reason":"x"}`, `{"by":"mallory","extra":"1h","reason":"x"}`,
	} {
		for i := range fuzzUpdates {
			// Every phase, with and without a pending gate, and once after an abort: the
			// refusals at the end must be seen by the plain test run, not only by fuzzing.
			for ph := range fuzzPhases {
				f.Add(uint8(i), uint8(ph), true, false, []byte(p))
				f.Add(uint8(i), uint8(ph), false, true, []byte(p))
				f.Add(uint8(i), uint8(ph)|abortedBit, true, false, []byte(p))
			}
		}
	}
	s := spec()
	s.Canary.Approval = schemas.Approval{Required: true, Approvers: []string{"alice", "bob"}}
	s.Window = []timerules.Window{{Days: []string{"tue"}, From: "01:30", Until: "05:00", Timezone: "Europe/London"}}
	s.Deadline = &timerules.Deadline{DecideBy: "06:00", DoneBy: "07:00", Timezone: "Europe/London"}
	s.GoNoGo = &schemas.GoNoGo{Approvers: []string{"alice", "bob"}}
	f.Fuzz(func(t *testing.T, update, phase uint8, pending, paused bool, payload []byte) {
		name := fuzzUpdates[int(update)%len(fuzzUpdates)]
		ph := fuzzPhases[int(phase&^abortedBit)%len(fuzzPhases)]
		aborted := phase&abortedBit != 0
		ok, err := workflows.ValidateUpdate(s, ph, pending, paused, aborted, name, payload)
		if workflows.IsUndecodable(err) {
			return // the SDK refuses it before the workflow sees it
		}
		if ok && err != nil {
			t.Fatalf("%s in %s: invariant broken: %v", name, ph, err)
		}
		if !ok && (err == nil || strings.TrimSpace(err.Error()) == "") {
			t.Fatalf("%s in %s refused without a reason", name, ph)
		}
		if ok && (ph.Terminal() || ph == workflows.PhaseRollingBack || aborted) {
			t.Fatalf("%s accepted in %s (aborted %v) with %q", name, ph, aborted, payload)
		}
		// Names match regardless of case (Slack and SSO spell them either way).
		named := strings.ToLower(string(payload))
		if ok && byApprovers[name] && !strings.Contains(named, "alice") && !strings.Contains(named, "bob") &&
			!strings.Contains(named, `\u`) {
			t.Fatalf("%s accepted for someone not listed: %q", name, payload)
		}
	})
}
