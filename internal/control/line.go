package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"github.com/shipgate/shipgate/internal/release"
)

// lineStart starts a policy's line when it is not running yet (and uses the running one when
// it is).
func lineStart(c client.Client, policy string) client.WithStartWorkflowOperation {
	return c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: release.LineID(policy), TaskQueue: release.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "stop-the-line switch of policy " + policy,
	}, release.LineWorkflowName, release.LineInput{Policy: policy})
}

// JoinLine adds a release to its policy's line and returns the line's state: one
// update-with-start, so a freeze either happened before the join (and is in the answer) or
// after it (and is relayed to the release).
func JoinLine(ctx context.Context, c client.Client, req release.JoinLineRequest) (release.LineState, error) {
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: lineStart(c, req.Policy),
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: release.UpdateJoin, Args: []any{req.Release},
			WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	var st release.LineState
	if err == nil {
		err = h.Get(ctx, &st)
	}
	if err != nil {
		return release.LineState{}, fmt.Errorf("joining line %s: %w", release.LineID(req.Policy), err)
	}
	return st, nil
}

// SendLine signs a freeze or unfreeze for the line of policy and returns the line's verdict.
func SendLine(ctx context.Context, c client.Client, signer ssh.Signer, policy, action string, cmd release.Command) (release.AuditEntry, error) {
	if err := Sign(signer, action, &cmd, release.Binding{Release: release.LineID(policy)}, time.Now()); err != nil {
		return release.AuditEntry{}, err
	}
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: lineStart(c, policy),
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: release.UpdateLineCommand,
			Args: []any{release.LineCommand{Action: action, Command: cmd}}, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	var e release.AuditEntry
	if err == nil {
		err = h.Get(ctx, &e)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && strings.HasPrefix(app.Message(), "refused: ") {
		return release.AuditEntry{Actor: cmd.Actor, Channel: cmd.Channel, Action: action, Reason: app.Message()}, nil
	}
	if err != nil {
		return release.AuditEntry{}, fmt.Errorf("line %s: %s: %w", release.LineID(policy), action, err)
	}
	return e, nil
}

// Lines returns the state of every running line, by policy.
func Lines(ctx context.Context, c client.Client) ([]release.LineState, error) {
	var out []release.LineState
	err := List(ctx, c, fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", release.LineWorkflowName),
		func(e *workflowpb.WorkflowExecutionInfo) error {
			v, err := c.QueryWorkflow(ctx, e.GetExecution().GetWorkflowId(), "", release.QueryLine)
			if err != nil {
				return nil // a line that ended between the list and the query has nothing to show
			}
			var st release.LineState
			if v.Get(&st) == nil {
				out = append(out, st)
			}
			return nil
		})
	return out, err
}
