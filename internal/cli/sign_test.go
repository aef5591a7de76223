package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"golang.org/x/crypto/ssh"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// signedRequest is the JSON the workflow receives: the request's fields and "signature".
type signedRequest struct {
	By        string          `json:"by"`
	Comment   string          `json:"comment"`
	StartedBy string          `json:"startedBy"`
	Signature *signing.Signed `json:"signature"`
}

// sshKey makes a key pair with the real ssh-keygen; it returns the private key's path
// and the allowed signer for name.
func sshKey(t *testing.T, name string) (string, signing.AllowedSigner) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_"+name)
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
	pub, err := os.ReadFile(path + ".pub")
	require.NoError(t, err)
	a, err := signing.NewAllowedSigner(name, string(pub), false)
	require.NoError(t, err)
	return path, a
}

// keygenAccepts runs ssh-keygen -Y verify over the claim's message.
func keygenAccepts(t *testing.T, s *signing.Signed, a signing.AllowedSigner) {
	t.Helper()
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed_signers")
	require.NoError(t, os.WriteFile(allowed, []byte(a.Name+" "+string(ssh.MarshalAuthorizedKey(a.Key))), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sig"), []byte(s.Sig), 0o600))
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", a.Name, "-n", signing.Namespace, "-s", filepath.Join(dir, "sig"))
	cmd.Stdin = bytes.NewReader(s.Claim.Message())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ssh-keygen -Y verify: %s", out)
}

// zerodown sign prints the update input for the plain temporal CLI, signed so that both
// zerodown and ssh-keygen accept it, and only for what it names.
func TestSignPrintsTheUpdateInput(t *testing.T) {
	key, alice := sshKey(t, "alice")
	r := zerodown(t, nil, "sign", "--release", "board/prod", "--run", "run-1", "--gate", schemas.GateAfterSoak,
		"--by", "alice", "--key", key, "--comment", "graphs look fine", "--expires", "30m")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Equal(t, 1, strings.Count(r.stdout, "\n"), "one line, for --input")

	var got signedRequest
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Equal(t, "alice", got.By)
	require.Equal(t, "graphs look fine", got.Comment)
	s := got.Signature
	require.NotNil(t, s)
	require.Equal(t, signing.Claim{Release: "release/board/prod", RunID: "run-1", Gate: schemas.GateAfterSoak, Action: signing.ActionApprove,
		Signer: "alice", Expires: s.Expires}, s.Claim)
	require.WithinDuration(t, time.Now().Add(30*time.Minute), s.Expires, time.Minute)

	want := signing.Expected{Release: "release/board/prod", RunID: "run-1", Gate: schemas.GateAfterSoak, Action: signing.ActionApprove, Signer: "alice"}
	v, err := s.VerifyFor(want, []signing.AllowedSigner{alice}, time.Now())
	require.NoError(t, err)
	require.Equal(t, "alice", v.Name)
	keygenAccepts(t, s, alice)

	want.Gate = schemas.GateBeforeLastBatch
	_, err = s.VerifyFor(want, []signing.AllowedSigner{alice}, time.Now())
	require.ErrorIs(t, err, signing.ErrMismatch)

	for _, bad := range [][]string{
		{"--action", "merge"},
		{"--expires", "48h"},
		{"--run", ""},
	} {
		argv := append([]string{"sign", "--release", "board/prod", "--run", "run-1", "--key", key}, bad...)
		r := zerodown(t, nil, argv...)
		require.Equal(t, cli.ExitUsage, r.code, "%v", bad)
	}
	r = zerodown(t, nil, "sign", "--release", "board/prod", "--run", "run-1", "--key", filepath.Join(t.TempDir(), "none"))
	require.Equal(t, cli.ExitError, r.code)
	require.Contains(t, r.stderr, "--sign ")
}

// On a real release: start --sign and approve --sign send signatures for this release,
// its first run and the open gate, and `zerodown sign` output goes through the plain
// temporal CLI. (The workflow verifies them once its validators are wired; here the
// requests themselves are checked, from the workflow's history.)
func TestSignedRequestsReachTheRelease(t *testing.T) {
	srv := testharness.StartServer(t)
	mem := memory.New()
	mem.Seed("v1", 4)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: mem.Factory})
	e := &env{addr: srv.Address, mem: mem}
	ciKey, ci := sshKey(t, "ci")
	aliceKey, alice := sshKey(t, "alice")
	bobKey, bob := sshKey(t, "bob")
	allowed := []signing.AllowedSigner{ci, alice, bob}

	good, err := os.ReadFile(goodSpec)
	require.NoError(t, err)
	twoApprovals := strings.Replace(string(good), "approvers: [alice, bob],", "approvers: [alice, bob], count: 2,", 1)
	require.NotEqual(t, string(good), twoApprovals)
	spec := filepath.Join(t.TempDir(), "release.yaml")
	writeFile(t, spec, twoApprovals)

	waited := e.start(t, "start", "-f", spec, "--version", "v2", "--by", "ci", "--sign", ciKey, "--wait")
	e.waitPhase(t, "board/prod", workflows.PhaseAwaitingApproval)
	const id = "release/board/prod"
	ctx := context.Background()
	d, err := srv.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	firstRun := d.GetWorkflowExecutionInfo().GetFirstRunId()

	// bob signs with the plain tools: zerodown sign, then temporal workflow update execute.
	r := e.run(t, "sign", "--release", "board/prod", "--run", firstRun, "--gate", schemas.GateAfterSoak, "--by", "bob", "--key", bobKey)
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	temporal, err := testharness.TemporalCLI()
	require.NoError(t, err)
	out, err := exec.Command(temporal, "workflow", "update", "execute", "--address", srv.Address, "--workflow-id", id,
		"--name", workflows.UpdateApprove, "--input", strings.TrimSpace(r.stdout)).CombinedOutput()
	require.NoError(t, err, "temporal workflow update execute: %s", out)

	r = e.run(t, "approve", "board/prod", "--by", "alice", "--sign", aliceKey)
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "approved release/board/prod (by alice, signed)")
	res := <-waited
	require.Equal(t, cli.ExitSucceeded, res.code, res.stderr)

	start, updates := signedInputs(t, srv.Client, id, firstRun)
	require.NotNil(t, start.Signature, "start --sign sent no signature")
	require.Equal(t, "ci", start.StartedBy)
	v, err := start.Signature.VerifyFor(signing.Expected{Release: id, Action: signing.ActionStart, Signer: "ci"}, allowed, time.Now())
	require.NoError(t, err)
	require.Equal(t, "ci", v.Name)

	require.Len(t, updates, 2)
	for i, who := range []string{"bob", "alice"} {
		u := updates[i]
		require.Equal(t, who, u.By)
		require.NotNil(t, u.Signature, "%s's approval carried no signature", who)
		v, err := u.Signature.VerifyFor(signing.Expected{Release: id, RunID: firstRun, Gate: schemas.GateAfterSoak, Action: signing.ActionApprove, Signer: who}, allowed, time.Now())
		require.NoError(t, err, who)
		require.Equal(t, who, v.Name)
		require.False(t, v.SameSigner(mustVerify(t, start.Signature, allowed)), "four-eyes tells %s from the starter", who)
	}
}

func mustVerify(t *testing.T, s *signing.Signed, allowed []signing.AllowedSigner) signing.Verified {
	t.Helper()
	v, err := signing.Verify(s.Sig, s.Claim, allowed, time.Now())
	require.NoError(t, err)
	return v
}

// signedInputs decodes the release's start input and its approve updates' inputs, in
// order, from the history of its first run.
func signedInputs(t *testing.T, c client.Client, id, runID string) (signedRequest, []signedRequest) {
	t.Helper()
	dc := converter.GetDefaultDataConverter()
	var start signedRequest
	var updates []signedRequest
	it := c.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			require.NoError(t, dc.FromPayloads(a.GetInput(), &start))
		}
		if a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil && a.GetAcceptedRequest().GetInput().GetName() == workflows.UpdateApprove {
			var u signedRequest
			require.NoError(t, dc.FromPayloads(a.GetAcceptedRequest().GetInput().GetArgs(), &u))
			updates = append(updates, u)
		}
	}
	return start, updates
}
