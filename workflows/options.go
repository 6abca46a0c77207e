package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// RegisterOptions is how the worker (and the tests) register ReleaseWorkflow.
func RegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: release.ReleaseWorkflowName}
}

// AnalysisRegisterOptions is how the worker registers AnalysisWorkflow.
func AnalysisRegisterOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: release.AnalysisWorkflowName}
}

// Register registers every shipgate workflow under its name: releases, their analyses, the
// services' production lanes, restores and the policies' lines.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(ReleaseWorkflow, RegisterOptions())
	r.RegisterWorkflowWithOptions(AnalysisWorkflow, AnalysisRegisterOptions())
	r.RegisterWorkflowWithOptions(ServiceLaneWorkflow, workflow.RegisterOptions{Name: release.LaneWorkflowName})
	r.RegisterWorkflowWithOptions(RestoreWorkflow, workflow.RegisterOptions{Name: release.RestoreWorkflowName})
	r.RegisterWorkflowWithOptions(LineWorkflow, LineRegisterOptions())
}
