package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// Lanes are the activities between releases and their service's production lane
// (release.LaneWorkflowName): a release enters and leaves through them, and the lane asks
// the server through them what became of a release.
type Lanes struct {
	Client client.Client
}

// updateID makes an activity's update idempotent across its retries: a retry after the lane
// answered gets the same answer instead of asking twice.
func updateID(ctx context.Context) string {
	info := activity.GetInfo(ctx)
	return info.WorkflowExecution.RunID + "/" + info.ActivityID
}

// Enter asks the service's lane for production, starting the lane on first use.
func (l *Lanes) Enter(ctx context.Context, req release.LaneRequest) (release.LaneAnswer, error) {
	start := l.Client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       release.LaneWorkflowID(req.Service),
		TaskQueue:                activity.GetInfo(ctx).TaskQueue, // the releases' own
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// a lane that continued as new, or ended some other way, starts again from nothing
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, release.LaneWorkflowName, release.LaneState{Service: req.Service})
	h, err := l.Client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateID: updateID(ctx), UpdateName: release.UpdateLaneEnter,
			Args: []any{req.Entry}, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err != nil {
		return release.LaneAnswer{}, fmt.Errorf("production lane of %s: %w", req.Service, err)
	}
	var a release.LaneAnswer
	return a, h.Get(ctx, &a)
}

// Leave gives the lane up or leaves its queue. A service without a lane has nothing to leave.
func (l *Lanes) Leave(ctx context.Context, req release.LaneRequest) (release.LaneAnswer, error) {
	h, err := l.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: release.LaneWorkflowID(req.Service),
		UpdateID: updateID(ctx), UpdateName: release.UpdateLaneLeave, Args: []any{req.Entry},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return release.LaneAnswer{}, nil
	}
	if err != nil {
		return release.LaneAnswer{}, fmt.Errorf("production lane of %s: %w", req.Service, err)
	}
	var a release.LaneAnswer
	return a, h.Get(ctx, &a)
}

// Verify tells the lane what the server knows of a release execution: whether it runs, how
// it ended, and, once its own status is final (or a restore returned what it left), which
// version it left serving production.
func (l *Lanes) Verify(ctx context.Context, e release.LaneEntry) (release.LaneVerification, error) {
	d, err := l.Client.DescribeWorkflowExecution(ctx, e.Release, e.Run)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return release.LaneVerification{Ended: "not found"}, nil
	}
	if err != nil {
		return release.LaneVerification{}, err
	}
	status := d.GetWorkflowExecutionInfo().GetStatus()
	v := release.LaneVerification{Running: status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}
	if !v.Running {
		v.Ended = control.ExecutionEnd(status)
		if v.Ended == "" {
			v.Ended = "completed"
		}
	}
	q, err := l.Client.QueryWorkflow(ctx, e.Release, e.Run, release.QueryStatus)
	if err != nil {
		return v, fmt.Errorf("release %s: %w", e.Release, err)
	}
	var st release.Status
	if err := q.Get(&st); err != nil {
		return v, err
	}
	v.State, v.Version, v.Previous, v.Mode = st.State, st.Version, st.Previous, st.LaneMode
	if st.State.Final() {
		v.Live = release.LeftLive(st)
		return v, nil
	}
	if !v.Running {
		r, ok, err := control.Restored(ctx, l.Client, e.Release, e.Run)
		if err != nil {
			return v, err
		}
		if ok {
			v.State, v.Live = release.StateRestored, r.Live
		}
	}
	return v, nil
}

// inFlightGrace is how long after a release's end an activity it had running may still land:
// the longest start-to-close timeout of its traffic and contract calls.
const inFlightGrace = 2 * time.Minute

// ReadEnded reads what a restore needs of an ended release: how it ended, its input, its last
// status and its way back (both answered by a worker replaying its history), and whether an
// activity was still running when it ended.
func (l *Lanes) ReadEnded(ctx context.Context, e release.LaneEntry) (release.EndedRelease, error) {
	var er release.EndedRelease
	d, err := l.Client.DescribeWorkflowExecution(ctx, e.Release, e.Run)
	if err != nil {
		return er, fmt.Errorf("release %s run %s: %w", e.Release, e.Run, err)
	}
	info := d.GetWorkflowExecutionInfo()
	if info.GetType().GetName() != release.ReleaseWorkflowName {
		return er, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s is not a release", e.Release), "NotARelease", nil)
	}
	if er.Running = info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING; er.Running {
		return er, nil
	}
	if er.Ended = control.ExecutionEnd(info.GetStatus()); er.Ended == "" {
		er.Ended = "completed"
	}
	q, err := l.Client.QueryWorkflow(ctx, e.Release, e.Run, release.QueryStatus)
	if err != nil {
		return er, fmt.Errorf("release %s: %w", e.Release, err)
	}
	if err := q.Get(&er.Status); err != nil {
		return er, err
	}
	if q, err := l.Client.QueryWorkflow(ctx, e.Release, e.Run, release.QueryWayBack); err == nil {
		var wb release.WayBack
		if q.Get(&wb) == nil {
			er.WayBack = &wb
		}
	}
	pending := map[int64]bool{}
	it := l.Client.GetWorkflowHistory(ctx, e.Release, e.Run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return er, fmt.Errorf("history of %s: %w", e.Release, err)
		}
		switch {
		case ev.GetWorkflowExecutionStartedEventAttributes() != nil:
			p := ev.GetWorkflowExecutionStartedEventAttributes().GetInput()
			if err := converter.GetDefaultDataConverter().FromPayloads(p, &er.Input); err != nil {
				return er, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the input of %s does not decode: %v", e.Release, err), "BadInput", nil)
			}
		case ev.GetActivityTaskScheduledEventAttributes() != nil:
			pending[ev.GetEventId()] = true
		case ev.GetActivityTaskCompletedEventAttributes() != nil:
			delete(pending, ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId())
		case ev.GetActivityTaskFailedEventAttributes() != nil:
			delete(pending, ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId())
		case ev.GetActivityTaskTimedOutEventAttributes() != nil:
			delete(pending, ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId())
		case ev.GetActivityTaskCanceledEventAttributes() != nil:
			delete(pending, ev.GetActivityTaskCanceledEventAttributes().GetScheduledEventId())
		}
	}
	if len(pending) > 0 {
		er.InFlightUntil = info.GetCloseTime().AsTime().Add(inFlightGrace)
	}
	return er, nil
}
