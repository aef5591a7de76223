package workflows

// Signed requests: a signature proves who sent a request (docs/approvals.md). The checks
// are pure (signing verifies with the keys the spec embeds), so validators run them; the
// handlers run them again to record who was verified, at the same workflow time.

import (
	"fmt"

	"github.com/zerodown/zerodown/signing"
)

// gateOpen is the gate a signature must name: the pending one, or none.
func (r *release) gateOpen() string {
	if p := r.st.Status.PendingApproval; p != nil {
		return p.Gate
	}
	return ""
}

// signer checks the signature of a request for action as the spec's approval policy
// says: required for approve and promote with requireSignature, verified whenever it is
// there and the spec lists signers. The zero Verified means an unsigned request.
func (r *release) signer(sig *signing.Signed, action, by string) (signing.Verified, error) {
	want := signing.Expected{Release: r.st.Status.ReleaseID, RunID: r.firstRunID(), Gate: r.gateOpen(), Action: action, Signer: by}
	v, err := r.spec.Canary.Approval.CheckSignature(sig, want, r.now())
	if err != nil {
		return v, fmt.Errorf("signature refused: %w", err)
	}
	return v, nil
}

// starter checks the signature of the release's start, which names no run or gate.
func (r *release) starter(sig *signing.Signed) (signing.Verified, error) {
	want := signing.Expected{Release: r.st.Status.ReleaseID, Action: signing.ActionStart, Signer: r.in.StartedBy}
	v, err := r.spec.Canary.Approval.CheckSignature(sig, want, r.now())
	if err != nil {
		return v, fmt.Errorf("start signature refused: %w", err)
	}
	return v, nil
}

// fourEyesByKey refuses an approval signed with the key that signed the start, under any
// name, and a second approval with a key that already approved this gate.
func (r *release) fourEyesByKey(v signing.Verified, pending *PendingApproval) error {
	if v.Name == "" {
		return nil
	}
	if r.spec.Canary.Approval.FourEyes && r.st.Starter.Name != "" && v.SameSigner(r.st.Starter) {
		return fmt.Errorf("%s signed with the key that started %s (%s): canary.approval.fourEyes needs someone else",
			v, r.st.Status.ReleaseID, r.st.Starter)
	}
	for _, earlier := range pending.Signers {
		if v.SameSigner(earlier) {
			return fmt.Errorf("%s already approved this gate as %s", v, earlier)
		}
	}
	return nil
}

// who names the sender in the timeline: verified when the request was signed.
func who(v signing.Verified, by string) string {
	if v.Name != "" {
		return v.String()
	}
	return by
}
