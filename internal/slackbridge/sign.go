package slackbridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/ssh"

	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// The bridge signs, with its own key, the claims of the people it verified (Slack's
// request signature, then its users map), so that a spec with requireSignature can take
// approvals from Slack: the spec lists the bridge's key as a signer with bridge: true.

// signedFor is how long a signature the bridge makes holds: it is sent at once.
const signedFor = 5 * time.Minute

// StatusQuerier reads a release's status; client.Client is one. The bridge needs it to
// sign: a claim names the gate open now.
type StatusQuerier interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
}

// checkSigning refuses a signing key the bridge could not use.
func checkSigning(cfg Config) error {
	if cfg.SigningKey == nil {
		return nil
	}
	if cfg.Status == nil {
		return errors.New("a signing key without a status querier: the bridge could not tell which gate it signs for")
	}
	return nil
}

// sign returns who's signed claim for the update, or nil when the bridge has no key.
func (b *Bridge) sign(ctx context.Context, update, release, firstRun, who string) (*signing.Signed, error) {
	if b.cfg.SigningKey == nil {
		return nil, nil
	}
	if firstRun == "" {
		return nil, errors.New("this button is from an older zerodown and names no run, so it cannot be signed; use zerodown " + update + " --sign")
	}
	v, err := b.cfg.Status.QueryWorkflow(ctx, release, "", workflows.QueryStatus)
	if err != nil {
		return nil, fmt.Errorf("read the status of %s to sign: %w", release, err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		return nil, fmt.Errorf("read the status of %s to sign: %w", release, err)
	}
	gate := ""
	if st.PendingApproval != nil {
		gate = st.PendingApproval.Gate
	}
	claim := signing.Claim{Release: release, RunID: firstRun, Gate: gate, Action: update, Signer: who,
		Expires: b.cfg.Now().Add(signedFor).UTC().Truncate(time.Second)}
	s, err := signing.SignClaim(b.cfg.SigningKey, claim)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// SigningKeyFingerprint is what to compare with the spec's bridge entry.
func SigningKeyFingerprint(key ssh.Signer) string {
	return ssh.FingerprintSHA256(key.PublicKey())
}
