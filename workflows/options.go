package workflows

import "go.temporal.io/sdk/workflow"

// RegisterOptions is how the worker (and the tests) register ReleaseWorkflow.
func RegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: WorkflowName}
}
