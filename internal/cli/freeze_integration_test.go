package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/zerodown/zerodown/activities"
	"github.com/zerodown/zerodown/freeze"
	"github.com/zerodown/zerodown/internal/cli"
	"github.com/zerodown/zerodown/internal/testharness"
	"github.com/zerodown/zerodown/signing"
)

// freezeList reads the freezes of env through `zerodown freeze list -o json`.
func freezeList(t *testing.T, e *env, env string) freeze.Ledger {
	t.Helper()
	r := e.run(t, "freeze", "list", "--env", env, "-o", "json")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	var l freeze.Ledger
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &l))
	return l
}

// TestFreezeThroughTheCLI declares, lists, extends, overrides and lifts a freeze on a
// real dev server, checks what the FreezeState activity tells a release at each step,
// and that hostile requests are refused naming the field, with nothing recorded.
func TestFreezeThroughTheCLI(t *testing.T) {
	srv := testharness.StartServer(t)
	testharness.StartWorker(t, srv.Client, nil)
	e := &env{addr: srv.Address}
	reader := &activities.Freezes{Client: srv.Client}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	state := func(target string) freeze.State {
		t.Helper()
		st, err := reader.FreezeState(ctx, "prod", target)
		require.NoError(t, err)
		return st
	}

	// Nobody froze prod yet: not frozen, and the list says so.
	require.False(t, state("").Frozen)
	r := e.run(t, "freeze", "list", "--env", "prod")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "prod: no freeze in force or to come")

	r = e.run(t, "freeze", "declare", "--env", "prod", "--until", "4h", "--reason", "Black Friday", "--by", "carol")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "declared prod-1: prod frozen from")
	// A second, upcoming freeze joins the same workflow.
	r = e.run(t, "freeze", "declare", "--env", "prod", "--from", "2d", "--until", "3d", "--reason", "holidays", "--by", "dave")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "declared prod-2")

	l := freezeList(t, e, "prod")
	require.Len(t, l.Freezes, 2)
	require.Equal(t, "prod-1", l.Freezes[0].ID)
	require.Equal(t, "carol", l.Freezes[0].By)
	require.Equal(t, "Black Friday", l.Freezes[0].Reason)
	require.WithinDuration(t, time.Now().Add(4*time.Hour), l.Freezes[0].Until, time.Minute)
	r = e.run(t, "freeze", "list", "--env", "prod")
	require.Regexp(t, `prod-1\s+in force\s+.*carol\s+Black Friday`, r.stdout)
	require.Regexp(t, `prod-2\s+upcoming\s+.*dave\s+holidays`, r.stdout)

	st := state("release/board/prod")
	require.True(t, st.Frozen)
	require.Equal(t, []string{"prod-1"}, st.IDs)
	require.Equal(t, "Black Friday", st.Reason)
	require.False(t, st.Overridden)
	require.Equal(t, l.Freezes[0].Until, st.Until)

	// Hostile and mistaken requests are refused, naming the field; nothing changes.
	for _, tc := range []struct {
		argv []string
		want string
		code int
	}{
		{[]string{"declare", "--env", "prod", "--from", "2026-12-24T18:00:00Z", "--until", "2026-12-24T10:00:00Z", "--reason", "x"}, "until: 2026-12-24T10:00:00Z is not after from", cli.ExitRefused},
		{[]string{"declare", "--env", "prod", "--until", "4h", "--reason", strings.Repeat("r", 100<<10)}, "reason: 102400 bytes, at most 4096", cli.ExitRefused},
		{[]string{"lift", "prod-99", "--env", "prod", "--reason", "x"}, `id: prod has no freeze "prod-99"`, cli.ExitRefused},
		{[]string{"extend", "prod-99", "--env", "prod", "--until", "5h", "--reason", "x"}, `id: prod has no freeze "prod-99"`, cli.ExitRefused},
		{[]string{"extend", "prod-1", "--env", "prod", "--until", "2000-01-01T00:00:00Z", "--reason", "x"}, "until: 2000-01-01T00:00:00Z is not after from", cli.ExitRefused},
		{[]string{"override", "--env", "prod", "--target", "board", "--reason", "x"}, `target: "board" is neither`, cli.ExitUsage},
		{[]string{"declare", "--env", "prod", "--until", "tomorrow", "--reason", "x"}, `--until "tomorrow"`, cli.ExitUsage},
		{[]string{"declare", "--env", "prod/../x", "--until", "4h", "--reason", "x"}, "--env: environment:", cli.ExitUsage},
		{[]string{"declare", "--env", "prod", "--until", "4h"}, "--reason is required", cli.ExitUsage},
	} {
		r := e.run(t, append([]string{"freeze"}, tc.argv...)...)
		require.Equal(t, tc.code, r.code, "want %q: %s", tc.want, r.stderr)
		require.Contains(t, r.stderr, tc.want)
	}
	require.Len(t, freezeList(t, e, "prod").Freezes, 2)

	// Extend: the end moves, and the release sees the new end.
	r = e.run(t, "freeze", "extend", "prod-1", "--env", "prod", "--until", "6h", "--reason", "checkout still hot", "--by", "carol")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "prod-1 now ends")
	require.WithinDuration(t, time.Now().Add(6*time.Hour), state("").Until, time.Minute)

	// Override: recorded in the freeze, with who and why; only that release may pass.
	r = e.run(t, "freeze", "override", "--env", "prod", "--id", "prod-1", "--target", "release/board/prod", "--reason", "payment outage fix", "--by", "erin")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "release/board/prod may pass prod-1 (override by erin)")
	st = state("release/board/prod")
	require.True(t, st.Frozen)
	require.True(t, st.Overridden)
	require.Equal(t, "erin", st.Overrides[0].By)
	require.Equal(t, "payment outage fix", st.Overrides[0].Reason)
	require.False(t, state("release/other/prod").Overridden)
	r = e.run(t, "freeze", "list", "--env", "prod")
	require.Contains(t, r.stdout, "release/board/prod may pass: payment outage fix")

	// A signed override: the freeze keeps the signature, which the release can verify
	// against its approvers' keys as of the override's time (and ssh-keygen too).
	key, erin := sshKey(t, "erin")
	r = e.run(t, "freeze", "override", "--env", "prod", "--id", "prod-1", "--target", "release/web/prod", "--reason", "hotfix", "--by", "erin", "--sign", key)
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	st = state("release/web/prod")
	require.True(t, st.Overridden)
	sig := st.Overrides[0].Signature
	require.NotNil(t, sig)
	require.Equal(t, signing.ActionOverride, sig.Action)
	require.Equal(t, "release/web/prod", sig.Release)
	v, err := sig.VerifyFor(signing.Expected{Release: "release/web/prod", Action: signing.ActionOverride, Signer: "erin"}, []signing.AllowedSigner{erin}, st.Overrides[0].At)
	require.NoError(t, err)
	require.Equal(t, "erin", v.Name)
	keygenAccepts(t, sig, erin)
	r = e.run(t, "freeze", "list", "--env", "prod")
	require.Regexp(t, `erin, signed\s+release/web/prod may pass: hotfix`, r.stdout)

	// Lift: prod is free at once; the upcoming freeze stays.
	r = e.run(t, "freeze", "lift", "prod-1", "--env", "prod", "--reason", "sale over", "--by", "carol")
	require.Equal(t, cli.ExitSucceeded, r.code, r.stderr)
	require.Contains(t, r.stdout, "lifted prod-1 (declared by carol)")
	require.False(t, state("").Frozen)
	l = freezeList(t, e, "prod")
	require.Len(t, l.Freezes, 1)
	require.Equal(t, "prod-2", l.Freezes[0].ID)
	var kinds []string
	for _, ev := range l.Events {
		kinds = append(kinds, ev.Kind+" "+ev.ID+" by "+ev.By)
	}
	require.Equal(t, []string{"declared prod-1 by carol", "declared prod-2 by dave", "extended prod-1 by carol", "overridden prod-1 by erin", "overridden prod-1 by erin", "lifted prod-1 by carol"}, kinds)

	// The workflow's history is the audit: each accepted update with who sent it.
	it := srv.Client.GetWorkflowHistory(ctx, freeze.WorkflowID("prod"), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var accepted []string
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil {
			accepted = append(accepted, a.GetAcceptedRequest().GetInput().GetName())
		}
	}
	require.Equal(t, []string{"declare", "declare", "extend", "override", "override", "lift"}, accepted)
}
