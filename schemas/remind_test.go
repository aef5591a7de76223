package schemas_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zerodown/zerodown/schemas"
)

const remindSpec = base + `canary:
  approval:
    required: true
    timeout: 2h
    remind: {before: 15m, mention: ["@oncall", "U123"], escalateAfter: 30m, escalateTo: ["@lead", "S0LEADS"], page: true}
`

func TestRemindLoads(t *testing.T) {
	s, err := schemas.Parse([]byte(remindSpec))
	require.NoError(t, err)
	r := s.Canary.Approval.Remind
	require.NotNil(t, r)
	require.Equal(t, 15*time.Minute, r.Before.D())
	require.Equal(t, []string{"@oncall", "U123"}, r.Mention)
	require.Equal(t, 30*time.Minute, r.EscalateAfter.D())
	require.Equal(t, []string{"@lead", "S0LEADS"}, r.EscalateTo)
	require.True(t, r.Page)
}

// Each refused remind block names its field.
func TestRemindRefused(t *testing.T) {
	for name, tc := range map[string]struct{ remind, field string }{
		"mention not an ID":        {`{mention: ["<!channel>"]}`, "canary.approval.remind.mention[0]"},
		"too many mentions":        {`{mention: [` + strings.Repeat(`"@a",`, 20) + `"@b"]}`, "canary.approval.remind.mention"},
		"nobody":                   {`{before: 5m}`, "canary.approval.remind"},
		"escalateTo without after": {`{escalateTo: ["@lead"]}`, "canary.approval.remind.escalateTo"},
		"escalate after timeout":   {`{escalateAfter: 3h, escalateTo: ["@lead"]}`, "canary.approval.remind.escalateAfter"},
		"before too long":          {`{before: 200h, mention: ["@a"]}`, "canary.approval.remind.before"},
		"unknown field":            {`{mention: ["@a"], ping: true}`, "canary.approval.remind"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := schemas.Parse([]byte(base + "canary:\n  approval:\n    required: true\n    timeout: 2h\n    remind: " + tc.remind + "\n"))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.field)
		})
	}
}

func TestConfirmRemind(t *testing.T) {
	const change = `change: night
environment: prod
steps:
  - { id: before, command: { run: ["true"] } }
  - id: landing
    after: [before]
    confirm:
      approvers: [client]
      timeout: 2h
      remind: %s
`
	c, err := schemas.ParseChange(fmt.Appendf(nil, change, `{mention: ["U0CLIENT"], escalateAfter: 30m, escalateTo: ["@lead"], page: true}`), t.TempDir())
	require.NoError(t, err)
	r := c.Steps[1].Confirm.Remind
	require.Equal(t, []string{"U0CLIENT"}, r.Mention)
	require.Equal(t, 30*time.Minute, r.EscalateAfter.D())

	for remind, field := range map[string]string{
		`{before: 15m, mention: ["U0CLIENT"]}`:              "steps[1].confirm.remind.before",
		`{mention: ["everyone"]}`:                           "steps[1].confirm.remind.mention[0]",
		`{escalateAfter: 2h, escalateTo: ["@lead"]}`:        "steps[1].confirm.remind.escalateAfter",
		`{escalateAfter: 10m, mention: ["U0CLIENT"]}`:       "steps[1].confirm.remind.escalateAfter",
		`{mention: ["U0CLIENT"], escalateTo: ["@a", "@a"]}`: "steps[1].confirm.remind.escalateTo",
	} {
		_, err := schemas.ParseChange(fmt.Appendf(nil, change, remind), t.TempDir())
		require.ErrorContains(t, err, field, remind)
	}
}
