package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// quick runs a short activity: a local activity since versionLocalActivities, with the same
// timeouts, retries and summary; before it, the regular activity it was. A local activity
// has no heartbeat: a worker that dies while one runs loses its workflow task, and the task
// (and the call) is retried on another worker after the workflow task timeout.
func quick(ctx workflow.Context, local bool, o workflow.ActivityOptions, name string, args ...any) workflow.Future {
	if !local {
		return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, o), name, args...)
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: o.ScheduleToCloseTimeout,
		StartToCloseTimeout:    o.StartToCloseTimeout,
		RetryPolicy:            o.RetryPolicy,
		Summary:                o.Summary,
	})
	return workflow.ExecuteLocalActivity(lctx, name, args...)
}
