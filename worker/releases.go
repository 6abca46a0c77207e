package main

import (
	"context"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/shipgate/shipgate/internal/telemetry"
	"github.com/shipgate/shipgate/workflows"
)

// releaseCounter counts running releases by their ReleaseStage and ReleaseState search
// attributes, for the shipgate_releases gauge.
func releaseCounter(c client.Client) telemetry.ReleaseCounter {
	return func(ctx context.Context) (map[telemetry.StageState]int, error) {
		out := map[telemetry.StageState]int{}
		var token []byte
		for {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query:         "WorkflowType = '" + workflows.WorkflowName + "' AND ExecutionStatus = 'Running'",
				NextPageToken: token,
			})
			if err != nil {
				return nil, err
			}
			for _, e := range resp.GetExecutions() {
				fields := e.GetSearchAttributes().GetIndexedFields()
				var stage, state string
				_ = converter.GetDefaultDataConverter().FromPayload(fields["ReleaseStage"], &stage)
				_ = converter.GetDefaultDataConverter().FromPayload(fields["ReleaseState"], &state)
				out[telemetry.StageState{Stage: stage, State: state}]++
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				return out, nil
			}
		}
	}
}
