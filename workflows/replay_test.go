package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/zerodown/zerodown/schemas"
	"github.com/zerodown/zerodown/workflows"
)

// TestReplayRecordedHistories replays every history recorded in testdata/histories (one
// folder per set of workflow code, see historySet) with
// today's workflow code. A failure means a change would break releases in flight: guard
// it with workflow.GetVersion. Record new histories with `make record-histories`.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories: run make record-histories")
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			require.NoError(t, err)
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			require.NoError(t, err)
			require.NoError(t, replay(t, h))
		})
	}
}

// replay replays a history under the workflow ID it ran with: releases and changes check
// that their ID matches their input, so the replayer's stand-in ID would change their
// course. The ID is not in the history; it follows from the input.
func replay(t *testing.T, h *historypb.History) error {
	started := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	payloads := started.GetInput().GetPayloads()
	require.NotEmpty(t, payloads, "a history without input")
	var id string
	switch started.GetWorkflowType().GetName() {
	case workflows.ChangeWorkflowName:
		var in workflows.ChangeInput
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(payloads[0], &in))
		id = schemas.ChangeID(in.Spec.Name)
	default:
		var in workflows.ReleaseInput
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(payloads[0], &in))
		id = in.Spec.ID()
	}
	return newReplayer(t).ReplayWorkflowHistoryWithOptions(quietReplayLogger(), h,
		worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}})
}

func newReplayer(t *testing.T) worker.WorkflowReplayer {
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{})
	require.NoError(t, err)
	r.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflow.RegisterOptions{Name: workflows.ReleaseWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ChangeWorkflow, workflow.RegisterOptions{Name: workflows.ChangeWorkflowName})
	return r
}

func quietReplayLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func listRequest(query string) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Query: query}
}
