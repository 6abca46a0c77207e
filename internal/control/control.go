// Package control is the client side of a release: start it, read its status, and send it a
// command and wait for the workflow's verdict. The CLI, the demo and the tests share it.
package control

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/crypto/ssh"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/release"
)

// Start starts a release workflow from a loaded input, signed by actor with signer, with its
// search attributes set from the first event on, so `list` finds it at once. The signed
// start binds the release, the manifest and the policy name; the workflow checks it.
func Start(ctx context.Context, c client.Client, signer ssh.Signer, actor string, in release.Input, conflict enumspb.WorkflowIdConflictPolicy) (client.WorkflowRun, error) {
	m := in.Manifest
	if in.PolicyName == "" {
		in.PolicyName = release.DefaultPolicyName
	}
	start := release.Command{Actor: actor, Channel: release.ChannelCLI, Policy: in.PolicyName, Manifest: release.ManifestDigest(&m)}
	if err := Sign(signer, release.ActionStart, &start, release.Binding{Release: m.ID()}, time.Now()); err != nil {
		return nil, err
	}
	in.Start = &start
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       m.ID(),
		TaskQueue:                release.TaskQueue,
		WorkflowIDConflictPolicy: conflict,
		// without this the SDK quietly returns the running release instead of refusing
		WorkflowExecutionErrorWhenAlreadyStarted: conflict == enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:                            fmt.Sprintf("%s %s (from %s) by %s, policy %s", m.Service, m.Version, m.PreviousVersion, m.Author, in.PolicyName),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			temporal.NewSearchAttributeKeyKeyword(release.SearchAttrService).ValueSet(m.Service),
			temporal.NewSearchAttributeKeyKeyword(release.SearchAttrVersion).ValueSet(m.Version),
			temporal.NewSearchAttributeKeyKeyword(release.SearchAttrStage).ValueSet(string(release.StageDevelopment)),
			temporal.NewSearchAttributeKeyKeyword(release.SearchAttrState).ValueSet(string(release.StateRunning)),
		),
	}, "ReleaseWorkflow", in)
}

// Admitted waits until the release has been admitted (policy obtained, start verified, input
// valid) and returns nil, or returns the workflow's reason for refusing it.
func Admitted(ctx context.Context, c client.Client, run client.WorkflowRun) error {
	deadline := time.Now().Add(30 * time.Second)
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
		st, err := Status(ctx, c, run.GetID())
		if err == nil && st.State == release.StateFailed {
			return errors.New(st.Reason)
		}
		if err == nil && len(st.Gates) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("release %s: not admitted after 30 s (is a worker running?)", run.GetID())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// Status queries a release's status, with each running analysis replaced by the analysis
// child's own view (latest verdict per metric, recent intervals): the release workflow hears
// from its analyses only when they end, since a signal per interval would overrun its history.
//
// A release whose execution did not complete cleanly (terminated, timed out) says so in
// Execution: its published state is only where it stopped.
func Status(ctx context.Context, c client.Client, id string) (release.Status, error) {
	resp, err := c.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{WorkflowID: id, QueryType: release.QueryStatus,
		QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY})
	if err != nil {
		return release.Status{}, fmt.Errorf("release %s: %w", id, err)
	}
	v, end := resp.QueryResult, ""
	if rej := resp.QueryRejected; rej != nil {
		end = ExecutionEnd(rej.GetStatus())
		if v, err = c.QueryWorkflow(ctx, id, "", release.QueryStatus); err != nil {
			return release.Status{}, fmt.Errorf("release %s (%s): %w", id, end, err)
		}
	}
	var st release.Status
	if err := v.Get(&st); err != nil {
		return release.Status{}, err
	}
	st.Execution = end
	for i, a := range st.Analyses {
		if a.Action != analysis.Running || a.WorkflowID == "" {
			continue
		}
		if live, ok := analysisStatus(ctx, c, a.WorkflowID); ok && live.Action == analysis.Running {
			live.Step = a.Step
			st.Analyses[i] = live
		}
	}
	return st, nil
}

// analysisStatus asks a running analysis child for its view. It is best effort: a child that
// has just ended or not yet started leaves the release's own entry in place.
func analysisStatus(ctx context.Context, c client.Client, id string) (release.AnalysisOutcome, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := c.QueryWorkflow(ctx, id, "", release.QueryStatus)
	if err != nil {
		return release.AnalysisOutcome{}, false
	}
	var out release.AnalysisOutcome
	if err := v.Get(&out); err != nil {
		return release.AnalysisOutcome{}, false
	}
	return out, true
}

// Send signs a command with signer and delivers it, and returns the workflow's verdict on it
// (its audit entry): the workflow, not the client, verifies the signature and checks
// membership and separation of duties. It is an update, so the verdict comes back in the same
// call; a command the workflow refuses before it reaches history comes back refused too.
func Send(ctx context.Context, c client.Client, signer ssh.Signer, id, signal string, cmd release.Command) (release.AuditEntry, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return release.AuditEntry{}, fmt.Errorf("release %s: %w", id, err)
	}
	info := d.GetWorkflowExecutionInfo()
	if status := info.GetStatus(); status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		// An ended release takes no command: say how it ended instead of the SDK's words.
		how := ExecutionEnd(status)
		if how == "" {
			how = "completed"
		}
		reason := fmt.Sprintf("refused: release %s has ended (%s); no command acts on it any more", id, how)
		if status == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED || status == enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT {
			reason += fmt.Sprintf(": it was stopped from outside, so nothing returned its traffic or proxies; `status` shows where it stopped, `starter restore %s --as YOU --reason WHY` returns them", id)
		}
		return release.AuditEntry{Actor: cmd.Actor, Channel: cmd.Channel, Action: signal, Reason: reason}, nil
	}
	run := info.GetExecution().GetRunId()
	if err := Sign(signer, signal, &cmd, release.Binding{Release: id, Run: run}, time.Now()); err != nil {
		return release.AuditEntry{}, err
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, RunID: run, UpdateName: release.UpdateDecide, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{release.Decide{Signal: signal, Command: cmd}},
	})
	if err == nil {
		var e release.AuditEntry
		if err = h.Get(ctx, &e); err == nil {
			return e, nil
		}
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) && strings.HasPrefix(app.Message(), "refused: ") {
		// refused by the update's validator: never written to the release's history
		return release.AuditEntry{Actor: cmd.Actor, Channel: cmd.Channel, Action: signal, Reason: app.Message()}, nil
	}
	// Releases started before the decide update (their workers know no such handler) take the
	// signal, and the verdict is read back from the audit log.
	if !strings.Contains(err.Error(), "unknown update") {
		return release.AuditEntry{}, fmt.Errorf("release %s: %s: %w", id, signal, err)
	}
	return sendSignal(ctx, c, id, signal, cmd)
}

func sendSignal(ctx context.Context, c client.Client, id, signal string, cmd release.Command) (release.AuditEntry, error) {
	before, err := Status(ctx, c, id)
	if err != nil {
		return release.AuditEntry{}, err
	}
	if err := c.SignalWorkflow(ctx, id, "", signal, cmd); err != nil {
		return release.AuditEntry{}, fmt.Errorf("release %s: %w", id, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for delay := 10 * time.Millisecond; ; delay = min(delay*2, 250*time.Millisecond) {
		st, err := Status(ctx, c, id)
		if err != nil {
			return release.AuditEntry{}, err
		}
		for _, e := range st.Audit[min(len(before.Audit), len(st.Audit)):] {
			if e.Action == signal && e.Actor == cmd.Actor && e.Channel == cmd.Channel {
				return e, nil
			}
		}
		if time.Now().After(deadline) {
			return release.AuditEntry{}, fmt.Errorf("release %s: no decision on %s after 30 s (is a worker running?)", id, signal)
		}
		select {
		case <-ctx.Done():
			return release.AuditEntry{}, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// ExecutionEnd names how a workflow execution ended when the workflow did not end it itself
// cleanly ("terminated", "timed_out", "failed", "canceled", "continued_as_new"); "" while it
// runs or when it completed (the release's own state then says how).
func ExecutionEnd(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED:
		return ""
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed_out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued_as_new"
	}
	return "failed"
}

// UILink is the Temporal Web UI page of a workflow.
func UILink(uiBase, namespace, id string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", uiBase, url.PathEscape(namespace), url.PathEscape(id))
}

// Restored says whether a restore of one run of a release has returned what the release left
// (its status says restored), and which version production serves since.
func Restored(ctx context.Context, c client.Client, releaseID, run string) (release.RestoreResult, bool, error) {
	v, err := c.QueryWorkflow(ctx, release.RestoreWorkflowID(releaseID, run), "", release.QueryStatus)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return release.RestoreResult{}, false, nil
	}
	if err != nil {
		return release.RestoreResult{}, false, fmt.Errorf("restore of %s: %w", releaseID, err)
	}
	var st release.Status
	if err := v.Get(&st); err != nil {
		return release.RestoreResult{}, false, err
	}
	if st.State != release.StateRestored {
		return release.RestoreResult{}, false, nil
	}
	return release.RestoreResult{State: st.State, Live: release.LeftLive(st), Note: st.Reason}, true, nil
}

// Restore starts the restore of the last run of an ended release (release.RestoreInput),
// signed, and waits for it: production traffic and switched proxies back to the version live
// before it, or to cmd.To. It returns the restore's result; a refusal comes back as an error
// that says why.
func Restore(ctx context.Context, c client.Client, signer ssh.Signer, id string, cmd release.Command) (release.RestoreResult, error) {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return release.RestoreResult{}, fmt.Errorf("release %s: %w", id, err)
	}
	run := d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	if err := Sign(signer, release.ActionRestore, &cmd, release.Binding{Release: id, Run: run}, time.Now()); err != nil {
		return release.RestoreResult{}, err
	}
	wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		// the release's own task queue: the workers that ran it know its policy and backends
		ID: release.RestoreWorkflowID(id, run), TaskQueue: d.GetWorkflowExecutionInfo().GetTaskQueue(),
		// a refused or failed restore may be run again; a running one is joined
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
	}, release.RestoreWorkflowName, release.RestoreInput{Release: id, Run: run, Command: &cmd})
	if err != nil {
		return release.RestoreResult{}, fmt.Errorf("restore of %s: %w", id, err)
	}
	var res release.RestoreResult
	if err := wr.Get(ctx, &res); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return res, errors.New(app.Message())
		}
		return res, fmt.Errorf("restore of %s: %w", id, err)
	}
	return res, nil
}

// Lane reads a service's production lane (release.LaneState); ok is false for a service none
// of whose releases has reached its canary yet.
func Lane(ctx context.Context, c client.Client, service string) (release.LaneState, bool, error) {
	v, err := c.QueryWorkflow(ctx, release.LaneWorkflowID(service), "", release.QueryLane)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return release.LaneState{}, false, nil
	}
	if err != nil {
		return release.LaneState{}, false, fmt.Errorf("production lane of %s: %w", service, err)
	}
	var ls release.LaneState
	if err := v.Get(&ls); err != nil {
		return ls, false, err
	}
	return ls, true, nil
}
