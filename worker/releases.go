package main

import (
	"context"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// releaseCounter counts running releases by their stage and state search attributes, for the
// shipgate_releases gauge.
func releaseCounter(c client.Client) telemetry.ReleaseCounter {
	return func(ctx context.Context) (map[telemetry.StageState]int, error) {
		out := map[telemetry.StageState]int{}
		err := control.List(ctx, c, "WorkflowType = '"+release.ReleaseWorkflowName+"' AND ExecutionStatus = 'Running'",
			func(e *workflowpb.WorkflowExecutionInfo) error {
				out[telemetry.StageState{Stage: control.Keyword(e, release.SearchAttrStage), State: control.Keyword(e, release.SearchAttrState)}]++
				return nil
			})
		return out, err
	}
}
