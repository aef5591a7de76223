package schemas_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

const approvalSpec = base + `canary:
  approval:
    required: true
    approvers: [alice, "group:sre"]
    groups:
      sre: [bob, carol]
    count: 2
    fourEyes: true
    gates: [afterSoak, beforeLastBatch]
    timeout: 2h
    onTimeout: abort
`

func TestApprovalPolicyLoads(t *testing.T) {
	s, err := schemas.Parse([]byte(approvalSpec))
	require.NoError(t, err)
	a := s.Canary.Approval
	require.Equal(t, []string{"alice", "group:sre"}, a.Approvers)
	require.Equal(t, map[string][]string{"sre": {"bob", "carol"}}, a.Groups)
	require.Equal(t, 2, a.Count)
	require.True(t, a.FourEyes)
	require.Equal(t, []string{schemas.GateAfterSoak, schemas.GateBeforeLastBatch}, a.Gates)
	require.Equal(t, []string{"alice", "bob", "carol"}, a.People())
	require.Equal(t, "alice, group:sre (bob, carol)", a.ApproversLabel())
	require.True(t, a.HasGate(schemas.GateBeforeLastBatch))
	require.NoError(t, schemas.Validate(s), "Parse and Validate agree")
}

func TestApprovalDefaults(t *testing.T) {
	s, err := schemas.Parse([]byte(base + "canary: {approval: {required: true}}\n"))
	require.NoError(t, err)
	a := s.Canary.Approval
	require.Equal(t, 1, a.Count)
	require.Equal(t, []string{schemas.GateAfterSoak}, a.Gates)
	require.False(t, a.FourEyes)
	require.Nil(t, a.People(), "anyone")
	require.Equal(t, "anyone", a.ApproversLabel())

	// Without required, the defaults are filled but no gate opens.
	s, err = schemas.Parse([]byte(base))
	require.NoError(t, err)
	require.False(t, s.Canary.Approval.HasGate(schemas.GateAfterSoak))
	require.NoError(t, schemas.Validate(s))
}

// A spec stored in a release that started before these fields existed keeps its meaning:
// one approval, after the soak.
func TestApprovalZeroValuesKeepTheOldMeaning(t *testing.T) {
	a := schemas.Approval{Required: true, Approvers: []string{"alice"}}
	require.Equal(t, 1, a.RequiredApprovals())
	require.True(t, a.HasGate(schemas.GateAfterSoak))
	require.False(t, a.HasGate(schemas.GateBeforeLastBatch))
	require.NoError(t, a.CheckApprove("release/board/prod", "alice", "alice", nil), "no four-eyes unless asked")
}

func TestCheckApprove(t *testing.T) {
	const id = "release/board/prod"
	s, err := schemas.Parse([]byte(approvalSpec))
	require.NoError(t, err)
	a := s.Canary.Approval

	require.NoError(t, a.CheckApprove(id, "alice", "ci", nil))
	require.NoError(t, a.CheckApprove(id, "carol", "ci", []string{"alice"}), "a group member")
	require.NoError(t, a.CheckApprove(id, "Bob", "ci", nil), "names are compared without case")

	require.EqualError(t, a.CheckApprove(id, "mallory", "ci", nil),
		"mallory may not approve release/board/prod: approvers are alice, group:sre (bob, carol)")
	require.EqualError(t, a.CheckApprove(id, "bob", "bob", nil),
		"bob started release/board/prod and may not approve it too (canary.approval.fourEyes)")
	require.EqualError(t, a.CheckApprove(id, "BOB ", "bob", nil),
		"BOB  started release/board/prod and may not approve it too (canary.approval.fourEyes)", "case does not dodge four-eyes")
	require.EqualError(t, a.CheckApprove(id, "bob", "", nil),
		"release/board/prod cannot be approved: canary.approval.fourEyes is set but the release does not say who started it")
	require.EqualError(t, a.CheckApprove(id, "alice", "ci", []string{"Alice"}),
		"alice already approved release/board/prod (1 of 2 approvals)")

	require.NoError(t, a.CheckActor(id, "carol", "promote"))
	require.EqualError(t, a.CheckActor(id, "mallory", "promote"),
		"mallory may not promote release/board/prod: approvers are alice, group:sre (bob, carol)")

	anyone := schemas.Approval{Required: true, Count: 2}
	require.NoError(t, anyone.CheckApprove(id, "mallory", "ci", []string{"zoe"}))
	require.EqualError(t, anyone.CheckApprove(id, "zoe", "ci", []string{"zoe"}), "zoe already approved release/board/prod (1 of 2 approvals)")
}

func TestInvalidApprovalPolicies(t *testing.T) {
	cases := []struct {
		name, yaml, path, msg string
	}{
		{"undefined group", "canary: {approval: {required: true, approvers: [alice, \"group:ops\"]}}\n",
			"canary.approval.approvers[1]", `"group:ops" names no group of canary.approval.groups`},
		{"unused group", "canary: {approval: {required: true, approvers: [alice], groups: {sre: [bob]}}}\n",
			"canary.approval.groups.sre", "is never used: add group:sre to canary.approval.approvers"},
		{"group of groups", "canary: {approval: {required: true, approvers: [\"group:sre\"], groups: {sre: [bob, \"group:sre\"]}}}\n",
			"canary.approval.groups.sre[1]", `"group:sre": groups hold people, not other groups`},
		{"empty group", "canary: {approval: {required: true, approvers: [\"group:sre\"], groups: {sre: []}}}\n",
			"canary.approval.groups.sre", "must not be empty"},
		{"member twice", "canary: {approval: {required: true, approvers: [\"group:sre\"], groups: {sre: [bob, bob]}}}\n",
			"canary.approval.groups.sre[1]", `"bob" is listed twice (also at canary.approval.groups.sre[0])`},
		{"count above the people named", "canary: {approval: {required: true, approvers: [alice, \"group:sre\"], groups: {sre: [alice, bob]}, count: 3}}\n",
			"canary.approval.count", "is 3 but canary.approval.approvers name only 2 people (alice, bob); the gate could never open"},
		{"count zero", "canary: {approval: {required: true, count: 0}}\n", "canary.approval.count", "must be at least 1"},
		{"unknown gate", "canary: {approval: {required: true, gates: [beforeDrain]}}\n",
			"canary.approval.gates[0]", `must be one of afterSoak, beforeLastBatch, not "beforeDrain"`},
		{"no gate", "canary: {approval: {required: true, gates: []}}\n", "canary.approval.gates", "must not be empty"},
		{"gate twice", "canary: {approval: {required: true, gates: [afterSoak, afterSoak]}}\n",
			"canary.approval.gates[1]", `"afterSoak" is listed twice (also at canary.approval.gates[0])`},
		{"count without required", "canary: {approval: {count: 2}}\n",
			"canary.approval.count", "is never asked for while canary.approval.required is false; set required: true"},
		{"fourEyes without required", "canary: {approval: {fourEyes: true}}\n",
			"canary.approval.fourEyes", "has no approval to guard while canary.approval.required is false; set required: true"},
		{"groups without required", "canary: {approval: {groups: {sre: [bob]}}}\n",
			"canary.approval.groups", "are never asked while canary.approval.required is false; set required: true"},
		{"gates without required", "canary: {approval: {gates: [beforeLastBatch]}}\n",
			"canary.approval.gates[0]", "is never opened while canary.approval.required is false; set required: true"},
		{"bad group name", "canary: {approval: {required: true, approvers: [\"group:s re\"], groups: {\"s re\": [bob]}}}\n",
			`canary.approval.groups["s re"]`, "is not a group name: use letters, digits, '.', '_' or '-', starting with a letter or digit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := schemas.Parse([]byte(base + tc.yaml))
			var verr *schemas.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Errors, 1, "want exactly one error, got:\n%v", err)
			require.Equal(t, tc.path, verr.Errors[0].Path)
			require.Equal(t, tc.msg, verr.Errors[0].Message)
		})
	}
}
