package workflows

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/release"
)

// The production step and leaving a stage wait on one rule (holds): a step waits for the
// windows opened so far, leaving waits for every window of the stage; a window counts in the
// stage it recorded, not the one its name suggests.
func TestStepAndLeaveWaitOnTheSameRule(t *testing.T) {
	win := func(name string, stage release.Stage, state release.WindowState) release.WindowStatus {
		return release.WindowStatus{Name: name, Stage: stage, State: state}
	}
	w := &rel{st: release.Status{Stage: release.StageProduction, Windows: []release.WindowStatus{
		win(release.WindowTestnetSoak, release.StageTestnet, release.WindowDone),
		win(release.WindowCanaryWatch, release.StageCanary, release.WindowDone),
		win(govDelayWindow("Counter"), release.StageCanary, release.WindowOpen),
		win(release.StepWindow(5), release.StageProduction, release.WindowDone),
		win(release.StepWindow(25), release.StageProduction, release.WindowPending),
		win(release.StepWindow(100), release.StageProduction, release.WindowPending),
	}}}
	require.Empty(t, w.stepBlockers(), "the 5 %% bake is over: the next step may go")
	require.Equal(t, []string{"window production-25", "window production-100"}, w.blockers(release.StageProduction))
	require.Equal(t, []string{"window " + govDelayWindow("Counter")}, w.blockers(release.StageCanary),
		"a governed window opened at the canary holds the canary, whatever its name")

	w.st.Windows[4].State = release.WindowOpen
	w.st.Paused = true
	w.st.Issues = []release.Issue{{N: 1, Severity: "high", Title: "slow refunds"}}
	w.wayOut = true
	w.st.Analyses = []release.AnalysisOutcome{{Step: release.StepWindow(5), Action: analysis.Pause}}
	require.Equal(t, []string{"analysis of production-5", "window production-25", "open high issue #1: slow refunds", "paused"}, w.stepBlockers())
}
