package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// RegisterOptions is how the worker (and the tests) register ReleaseWorkflow.
func RegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: WorkflowName}
}

// AnalysisRegisterOptions is how the worker registers AnalysisWorkflow.
func AnalysisRegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: release.WorkflowAnalysis}
}
