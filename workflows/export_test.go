package workflows

import (
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/zerodown/zerodown/schemas"
)

// ValidateUpdate decodes payload the way the SDK decodes an update's argument and runs
// the validator of the named update against a release in the given phase. It exists for
// the fuzz test: validators are where untrusted input (Slack, CLI, temporal CLI) lands.
func ValidateUpdate(spec schemas.Spec, phase Phase, pending, paused, aborted bool, name string, payload []byte) (accepted bool, err error) {
	r := &release{spec: spec, st: &ReleaseState{Status: Status{ReleaseID: spec.ID(), Phase: phase, Paused: paused, PausedBy: "someone"}}}
	if aborted {
		r.abort = &AbortRequest{By: "someone"}
	}
	if pending {
		r.st.Status.PendingApproval = &PendingApproval{Approvers: spec.Canary.Approval.Approvers}
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
	default:
		return false, fmt.Errorf("unknown update %q", name)
	}
	return err == nil, err
}

var errUndecodable = errors.New("payload does not decode")

// IsUndecodable tells a payload the SDK would refuse before any validator runs.
func IsUndecodable(err error) bool { return errors.Is(err, errUndecodable) }
