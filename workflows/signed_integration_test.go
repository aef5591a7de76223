package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/timeline"
	"github.com/zerodown/zerodown/workflows"
)

// sshKey is a key pair made by the real ssh-keygen.
type sshKey struct{ private, public string }

func newSSHKey(t *testing.T, name string) sshKey {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
	pub, err := os.ReadFile(path + ".pub")
	require.NoError(t, err)
	return sshKey{private: path, public: strings.TrimSpace(string(pub))}
}

// keygenSigned signs a claim with `ssh-keygen -Y sign` itself, as a person without zerodown
// would.
func keygenSigned(t *testing.T, k sshKey, c signing.Claim) *signing.Signed {
	t.Helper()
	file := filepath.Join(t.TempDir(), "claim")
	require.NoError(t, os.WriteFile(file, c.Message(), 0o600))
	out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", signing.Namespace, "-f", k.private, file).CombinedOutput()
	require.NoError(t, err, "ssh-keygen -Y sign: %s", out)
	sig, err := os.ReadFile(file + ".sig")
	require.NoError(t, err)
	return &signing.Signed{Claim: c, Sig: string(sig)}
}

// Signed approvals on a real dev server, sent with the plain temporal CLI: a signature
// made by ssh-keygen is accepted; forged, replayed, expired and unlisted ones are refused
// with the reason; four-eyes refuses the key that signed the start under any name.
func TestSignedApprovalsOnDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Temporal dev server")
	}
	srv := testharness.StartServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: f.Factory})
	exe, err := testharness.TemporalCLI()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	alice, bob, mallory := newSSHKey(t, "alice"), newSSHKey(t, "bob"), newSSHKey(t, "mallory")
	s := integrationSpec()
	s.Canary.Approval = schemas.Approval{
		Required: true, Approvers: []string{"alice", "bob"}, FourEyes: true, RequireSignature: true,
		Timeout: schemas.Duration(time.Hour), OnTimeout: schemas.OnTimeoutAbort,
		// alice's key is listed twice: as herself and as the ops account she starts with.
		Signers: []schemas.Signer{{Name: "alice", Key: alice.public}, {Name: "ops", Key: alice.public}, {Name: "bob", Key: bob.public}},
	}
	require.NoError(t, schemas.Validate(&s))

	// ops (alice's key) starts the release, signed.
	startClaim := signing.Claim{Release: s.ID(), Action: signing.ActionStart, Signer: "ops", Expires: time.Now().Add(10 * time.Minute)}
	in := workflows.ReleaseInput{Spec: s, Version: "v2", StartedBy: "ops", Signature: keygenSigned(t, alice, startClaim)}
	run, err := srv.Client.ExecuteWorkflow(ctx, cli.StartOptions(&s, "v2"), workflows.ReleaseWorkflowName, in)
	require.NoError(t, err)
	waitPhase(ctx, t, srv.Client, s.ID(), workflows.PhaseAwaitingApproval)
	firstRun := run.GetRunID()

	approve := func(req workflows.ApproveRequest) (string, error) {
		payload, err := json.Marshal(req)
		require.NoError(t, err)
		out, err := exec.CommandContext(ctx, exe, "workflow", "update", "execute", "--address", srv.Address,
			"--workflow-id", s.ID(), "--name", workflows.UpdateApprove, "--input", string(payload)).CombinedOutput()
		return string(out), err
	}
	claim := func(signer string) signing.Claim {
		return signing.Claim{Release: s.ID(), RunID: firstRun, Gate: schemas.GateAfterSoak, Action: signing.ActionApprove,
			Signer: signer, Expires: time.Now().Add(10 * time.Minute)}
	}
	refused := func(req workflows.ApproveRequest, reason string) {
		t.Helper()
		out, err := approve(req)
		require.Error(t, err, "accepted: %s", out)
		require.Contains(t, out, reason)
	}

	refused(workflows.ApproveRequest{By: "bob"}, "must be signed")
	forged := keygenSigned(t, bob, claim("bob"))
	forged.Expires = forged.Expires.Add(time.Hour) // the claim edited after signing
	refused(workflows.ApproveRequest{By: "bob", Signature: forged}, "signature refused")
	other := claim("bob")
	other.Release = "release/other/prod"
	refused(workflows.ApproveRequest{By: "bob", Signature: keygenSigned(t, bob, other)}, "release")
	gate := claim("bob")
	gate.Gate = schemas.GateBeforeLastBatch
	refused(workflows.ApproveRequest{By: "bob", Signature: keygenSigned(t, bob, gate)}, "gate")
	expired := claim("bob")
	expired.Expires = time.Now().Add(-time.Minute)
	refused(workflows.ApproveRequest{By: "bob", Signature: keygenSigned(t, bob, expired)}, "expired")
	refused(workflows.ApproveRequest{By: "bob", Signature: keygenSigned(t, mallory, claim("bob"))}, "signature refused")
	// alice did not start it by name, but her key did: four-eyes compares keys.
	refused(workflows.ApproveRequest{By: "alice", Signature: keygenSigned(t, alice, claim("alice"))}, "signed with the key that started")

	out, err := approve(workflows.ApproveRequest{By: "bob", Comment: "lgtm", Signature: keygenSigned(t, bob, claim("bob"))})
	require.NoError(t, err, out)
	require.Contains(t, out, "approved by bob (verified, SHA256:")

	var st workflows.Status
	require.NoError(t, run.Get(ctx, &st))
	require.Equal(t, workflows.PhaseSucceeded, st.Phase)
	require.Contains(t, st.StartedByVerified, "ops (verified, SHA256:")
	require.True(t, hasEvent(st, timeline.KindApproved, ""))
	for _, e := range st.Timeline {
		if e.Kind == timeline.KindApproved {
			require.Contains(t, e.By, "bob (verified, SHA256:")
		}
	}
}
