package workflows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// The line alone, time-skipped: who may stop and restart it, what it refuses before its history
// and after, and to whom it relays.
func TestLineDecidesAndRelays(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	// the environment's default bound is 3 s of wall clock: a starved machine took longer
	// (TestContractsRollbackRevertsProxy at load 20); it is a bound on hangs, not a speed test
	env.SetTestTimeout(2 * time.Minute)
	env.RegisterWorkflowWithOptions(LineWorkflow, LineRegisterOptions())
	_, pol := testInput(t, nil)
	env.RegisterActivityWithOptions(func(_ context.Context, req release.PolicyRequest) (release.PolicyResult, error) {
		return release.PolicyResult{Name: req.Name, Policy: *pol}, nil
	}, activity.RegisterOptions{Name: release.ActivityLoadPolicy})
	var mu sync.Mutex
	relayed := map[string][]string{}
	record := func(args mock.Arguments) {
		mu.Lock()
		defer mu.Unlock()
		lc := args.Get(4).(release.LineCommand)
		relayed[args.String(1)] = append(relayed[args.String(1)], lc.Action)
	}
	env.OnSignalExternalWorkflow(mock.Anything, "release/a/1.0.0", "", release.SignalLine, mock.Anything).Run(record).Return(nil)
	env.OnSignalExternalWorkflow(mock.Anything, "release/gone/1.0.0", "", release.SignalLine, mock.Anything).Run(record).Return(errors.New("workflow execution already completed"))

	lineCmd := func(action, actor, reason string) release.LineCommand {
		cmd := release.Command{Actor: actor, Channel: release.ChannelCLI, Reason: reason}
		require.NoError(t, control.Sign(testKeys.MustSigner(actor), action, &cmd, release.Binding{Release: release.LineID("default")}, env.Now()))
		return release.LineCommand{Action: action, Command: cmd}
	}
	type verdict struct {
		entry    release.AuditEntry
		rejected error
	}
	var verdicts []verdict
	send := func(at time.Duration, lc func() release.LineCommand) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(release.UpdateLineCommand, fmt.Sprint(at), &testsuite.TestUpdateCallback{
				OnReject: func(err error) { verdicts = append(verdicts, verdict{rejected: err}) },
				OnComplete: func(v any, err error) {
					require.NoError(t, err)
					verdicts = append(verdicts, verdict{entry: v.(release.AuditEntry)})
				},
			}, lc())
		}, at)
	}
	var joined release.LineState
	for i, id := range []string{"release/a/1.0.0", "release/gone/1.0.0", "release/a/1.0.0"} {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(release.UpdateJoin, fmt.Sprint("join", i), &testsuite.TestUpdateCallback{
				OnComplete: func(v any, err error) { require.NoError(t, err); joined = v.(release.LineState) },
			}, id)
		}, time.Duration(i+1)*time.Second)
	}
	var freeze release.LineCommand
	send(time.Minute, func() release.LineCommand { return lineCmd(release.ActionFreeze, "bob", "I want to") })
	send(2*time.Minute, func() release.LineCommand {
		lc := lineCmd(release.ActionFreeze, "oc-cy", "incident 9")
		lc.Command.Signature = ""
		return lc
	})
	send(3*time.Minute, func() release.LineCommand {
		freeze = lineCmd(release.ActionFreeze, "oc-cy", "incident 9")
		return freeze
	})
	send(4*time.Minute, func() release.LineCommand { return freeze }) // replayed
	send(5*time.Minute, func() release.LineCommand { return lineCmd(release.ActionFreeze, "rm-ada", "again") })
	send(6*time.Minute, func() release.LineCommand { return lineCmd(release.ActionUnfreeze, "rm-bo", "") })
	send(7*time.Minute, func() release.LineCommand { return lineCmd(release.ActionUnfreeze, "rm-bo", "incident 9 over") })
	var beforeLeave release.LineState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(release.QueryLine)
		require.NoError(t, err)
		require.NoError(t, v.Get(&beforeLeave))
		env.SignalWorkflow(release.SignalLeave, "release/a/1.0.0")
	}, 30*time.Minute)
	var final release.LineState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(release.QueryLine)
		require.NoError(t, err)
		require.NoError(t, v.Get(&final))
		env.CancelWorkflow()
	}, time.Hour)
	env.ExecuteWorkflow(LineWorkflow, release.LineInput{Policy: "default"})

	require.Equal(t, 2, joined.Members, "a release that joins twice is one member")
	require.Len(t, verdicts, 7)
	says := func(i int, accepted bool, part string) {
		t.Helper()
		require.Equal(t, accepted, verdicts[i].entry.Accepted, "verdict %d: %+v", i, verdicts[i])
		require.Contains(t, verdicts[i].entry.Reason, part, "verdict %d", i)
	}
	says(0, false, "bob may not stop or restart the line")
	require.ErrorContains(t, verdicts[1].rejected, "not signed", "an unsigned command never reaches the line's history")
	says(2, true, "incident 9")
	says(3, false, "not after the line's latest command")
	says(4, false, "already stopped")
	says(5, false, "needs a reason")
	says(6, true, "incident 9 over")
	// the ended release got the freeze, failed to take it, and was dropped
	require.Equal(t, map[string][]string{"release/a/1.0.0": {"freeze", "unfreeze"}, "release/gone/1.0.0": {"freeze"}}, relayed)
	require.Equal(t, 1, beforeLeave.Members)
	require.Equal(t, 0, final.Members, "a release that ended left")
	require.False(t, final.Frozen())
	require.Len(t, final.Audit, 6, "every decided command is in the line's audit log")
	require.Equal(t, "oc-cy", final.Audit[1].Actor)
}
