package slackbridge_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/zerodown/zerodown/fleet"
	"github.com/zerodown/zerodown/fleet/memory"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/slackbridge"
	"github.com/zerodown/zerodown/internal/testharness"
	slacknotify "github.com/zerodown/zerodown/notify/slack"
	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/signing"
	"github.com/zerodown/zerodown/workflows"
)

// A bridge with a signing key signs each click for the person it mapped, for the
// release, its first run and the gate open now; the spec's bridge entry verifies it.
func TestBridgeSignsForTheClicker(t *testing.T) {
	srv := testharness.StartServer(t)
	f := memory.New()
	f.Seed("v1", 4)
	testharness.StartWorker(t, srv.Client, fleet.Registry{schemas.ProviderMemory: f.Factory})

	keyPath := filepath.Join(t.TempDir(), "bridge")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "zerodown-slack-bridge", "-f", keyPath).CombinedOutput()
	require.NoError(t, err, "ssh-keygen: %s", out)
	key, closeKey, err := signing.OpenSigner(keyPath)
	require.NoError(t, err)
	defer closeKey()
	pub, err := os.ReadFile(keyPath + ".pub")
	require.NoError(t, err)
	bridgeSigner, err := signing.NewAllowedSigner("slack-bridge", string(pub), true)
	require.NoError(t, err)

	answers := newAnswers(t)
	b, err := slackbridge.New(slackbridge.Config{
		SigningSecret: secret, Users: map[string]string{"U0ALICE": "alice"},
		Temporal: srv.Client, Status: srv.Client, SigningKey: key,
		ResponseURLPrefix: answers.URL, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	web := httptest.NewServer(b)
	t.Cleanup(func() { web.Close(); b.Close(context.Background()) })

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := schemas.Parse([]byte(e2eSpec))
	require.NoError(t, err)
	run, err := srv.Client.ExecuteWorkflow(ctx, cli.StartOptions(s, "v2"), workflows.ReleaseWorkflowName,
		workflows.ReleaseInput{Spec: *s, Version: "v2", StartedBy: "ci"})
	require.NoError(t, err)
	waitPhase(ctx, t, srv.Client, s.ID(), workflows.PhaseAwaitingApproval)

	w := &world{c: srv.Client, fleet: f, answers: answers, url: web.URL}
	require.Equal(t, ":white_check_mark: release/board/slack: approved by alice.",
		w.press(t, s.ID(), slacknotify.ActionApprove, "U0ALICE", run.GetRunID()))
	require.NoError(t, run.Get(ctx, nil))

	// The approve update's input, as the release received it.
	var req struct {
		By        string          `json:"by"`
		Signature *signing.Signed `json:"signature"`
	}
	it := srv.Client.GetWorkflowHistory(ctx, s.ID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	found := false
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil {
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(a.GetAcceptedRequest().GetInput().GetArgs(), &req))
			found = true
		}
	}
	require.True(t, found, "no update in the history")
	require.Equal(t, "alice", req.By)
	require.NotNil(t, req.Signature, "the bridge did not sign")
	v, err := req.Signature.VerifyFor(signing.Expected{Release: s.ID(), RunID: run.GetRunID(), Gate: schemas.GateAfterSoak,
		Action: signing.ActionApprove, Signer: "alice"}, []signing.AllowedSigner{bridgeSigner}, time.Now())
	require.NoError(t, err)
	require.Equal(t, "alice (verified by slack-bridge, "+slackbridge.SigningKeyFingerprint(key)+")", v.String())
}

func TestSigningKeyNeedsStatus(t *testing.T) {
	key, closeKey, err := signing.OpenSigner(func() string {
		p := filepath.Join(t.TempDir(), "k")
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return p
	}())
	require.NoError(t, err)
	defer closeKey()
	_, err = slackbridge.New(slackbridge.Config{SigningSecret: secret, Users: map[string]string{"U0ALICE": "alice"},
		Temporal: &fakeTemporal{}, SigningKey: key})
	require.ErrorContains(t, err, "a signing key without a status querier")
}
