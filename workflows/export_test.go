package workflows

import (
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/zerodown/zerodown/schemas"
)

// ValidateUpdate decodes payload the way the SDK decodes an update's argument and runs
// the validator of the named update against a release in the given phase. It exists for
// the fuzz test: validators are where untrusted input (Slack, CLI, temporal CLI) lands.
func ValidateUpdate(spec schemas.Spec, phase Phase, pending, paused, aborted bool, name string, payload []byte) (accepted bool, err error) {
	r := &release{spec: spec, st: &ReleaseState{Key: spec.ID() + "/run-1", Status: Status{ReleaseID: spec.ID(), Phase: phase, Paused: paused, PausedBy: "someone"}},
		now: func() time.Time { return fuzzNow }}
	if aborted {
		r.abort = &AbortRequest{By: "someone"}
	}
	if pending {
		r.st.Status.PendingApproval = &PendingApproval{Approvers: spec.Canary.Approval.Approvers}
	}
	// The clock's messages: a pending gate stands for an open go/no-go call and a deadline
	// still ahead.
	r.clock = r.newClock()
	if pending {
		r.st.Status.Clock.GoNoGo = &GoNoGoStatus{Open: true, Required: 1, OpensAt: fuzzNow}
		r.st.Status.Clock.DecideBy, r.st.Status.Clock.DoneBy = fuzzNow.Add(time.Hour), fuzzNow.Add(2*time.Hour)
	}
	p := &commonpb.Payload{Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON)}, Data: payload}
	dc := converter.GetDefaultDataConverter()
	decode := func(v any) error {
		if err := dc.FromPayload(p, v); err != nil {
			return fmt.Errorf("%w: %v", errUndecodable, err)
		}
		return nil
	}
	switch name {
	case UpdateApprove:
		var req ApproveRequest
		if err := decode(&req); err != nil {
			return false, err
		}
		err = r.validateApprove(req)
		if err == nil && (!pending || req.By == "") {
			return true, errors.New("approve accepted without a pending gate or without a name")
		}
	case UpdateAbort:
		var req AbortRequest
		if err := decode(&req); err != nil {
			return false, err
		}
		err = r.validateAbort(req)
	case UpdatePause, UpdateResume, UpdatePromote:
		var req ActorRequest
		if err := decode(&req); err != nil {
			return false, err
		}
		err = map[string]func(ActorRequest) error{UpdatePause: r.validatePause, UpdateResume: r.validateResume, UpdatePromote: r.validatePromote}[name](req)
	case UpdateGoNoGo:
		var req GoNoGoRequest
		if err := decode(&req); err != nil {
			return false, err
		}
		err = r.clock.validateGoNoGo(req)
	case UpdateStartNow:
		var req StartNowRequest
		if err := decode(&req); err != nil {
			return false, err
		}
		err = r.clock.validateStartNow(req)
	case UpdateExtend:
		var req ExtendRequest
		if err := decode(&req); err != nil {
			return false, err
		}
		err = r.clock.validateExtend(req)
	default:
		return false, fmt.Errorf("unknown update %q", name)
	}
	return err == nil, err
}

var errUndecodable = errors.New("payload does not decode")

// fuzzNow is the workflow time validators see in ValidateUpdate.
var fuzzNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// IsUndecodable tells a payload the SDK would refuse before any validator runs.
func IsUndecodable(err error) bool { return errors.Is(err, errUndecodable) }
