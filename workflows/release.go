package workflows

import "go.temporal.io/sdk/workflow"

// ReleaseWorkflow releases in.Version of in.Spec.
func ReleaseWorkflow(ctx workflow.Context, in ReleaseInput) (Status, error) {
	return Status{}, nil
}
