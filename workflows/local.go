package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// versionLocalActivities (recorded history v12-local-activities): the short calls a release
// makes on its own worker — obtaining its policy, evaluating an evidence check (a blob read
// from the store and a parser), posting a notice or a signoff message — run as local
// activities: each is one marker in the workflow task that asked for it, instead of an
// activity task the server schedules, dispatches through matching, starts and completes
// (three events and a further workflow task each). Measured with bench/releases: ~20 of a
// release's ~23 activities through G1 and G3 were these. What stays a regular activity is
// what may run long or must survive its worker on its own: deploys and traffic (SetTraffic),
// contracts, probes that measure a window, the analysis, joining the policy's line and the
// production lane. Releases started before replay as they ran.
const versionLocalActivities = "local-activities"

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
