package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/release"
)

// withAnalysis is the default policy with a 1-minute analysis, a 48-hour canary watch and
// 1-hour bakes (to keep the test short; the canary is the long part).
func withAnalysis(onFailure string) func(*release.Manifest, *release.Policy) {
	return func(_ *release.Manifest, p *release.Policy) {
		limit := 0.01
		p.Analysis = &analysis.Spec{Interval: "1m", Metrics: []analysis.Metric{{
			Name: "error-rate", Query: `sum(rate(x{service="{{.Service}}"}[{{.Interval}}]))`, Threshold: &limit,
			Direction: analysis.Max, FailureLimit: 0, InconclusiveLimit: 2}}}
		p.Windows.CanaryWatchMin = release.Duration(48 * time.Hour)
		p.Windows.CanaryWatchMax = release.Duration(48 * time.Hour)
		for i := range p.Rollout.Steps {
			p.Rollout.Steps[i].Bake = release.Duration(time.Hour)
		}
		if onFailure != "" {
			p.OnFailure = map[release.Stage]string{release.StageCanary: onFailure}
		}
	}
}

func TestCanaryAnalysis48HoursToPromotion(t *testing.T) {
	h := newHarness(t, withAnalysis(""))
	h.approveEvery(time.Minute, 30*time.Minute)
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State)
	st := h.status()
	require.Len(t, st.Analyses, 4)
	canary := st.Analyses[0]
	require.Equal(t, release.WindowCanaryWatch, canary.Step)
	require.Equal(t, "promote", canary.Action)
	require.Equal(t, 48*60, canary.Intervals, "every minute of 48 h measured, across continue-as-new runs")
	for _, a := range st.Analyses[1:] {
		require.Equal(t, "promote", a.Action, a.Step)
		require.Equal(t, 60, a.Intervals, a.Step)
	}
	require.GreaterOrEqual(t, h.env.Now().Sub(start), (14*24+48+3)*time.Hour)
	require.Equal(t, 48*60+3*60, h.act.calls)
}

func TestCanaryFailureAtHour30RollsBackWithoutAnyone(t *testing.T) {
	h := newHarness(t, withAnalysis(""))
	h.act.verdict = func(v analysis.Vars, interval int) analysis.Outcome {
		if v.Stage == string(release.StageCanary) && interval > 30*60 {
			return analysis.Fail
		}
		return analysis.Pass
	}
	h.approveEvery(time.Minute, 30*time.Minute)
	start := h.env.Now()
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State)
	require.Equal(t, release.StageCanary, res.Stage)
	require.Contains(t, res.Reason, "analysis of canary-watch failed")
	require.Contains(t, res.Reason, "error-rate")
	p := h.act.percents()
	require.Equal(t, "production:0", p[len(p)-1])
	require.InDelta(t, float64((14*24+30)*time.Hour), float64(h.env.Now().Sub(start)), float64(2*time.Hour))
	st := h.status()
	require.Equal(t, 0.0, st.TrafficPercent)
	require.Equal(t, "rollback", st.Analyses[0].Action)
	require.True(t, h.auditHas(st, "analysis", release.WindowCanaryWatch, false, "rollback"))
	require.True(t, h.auditHas(st, "rollback", "", true, "analysis of canary-watch failed"), "the rollback is audited")
}

func TestInconclusiveBudgetPausesForAPerson(t *testing.T) {
	h := newHarness(t, withAnalysis(""))
	h.act.verdict = func(v analysis.Vars, interval int) analysis.Outcome {
		if v.Stage == string(release.StageCanary) && interval >= 60 && interval < 64 {
			return analysis.Inconclusive // Prometheus had no data for a few minutes
		}
		return analysis.Pass
	}
	h.approveEvery(time.Minute, 30*time.Minute)
	var paused release.Status
	h.at((14*24+5)*time.Hour, func() { paused = h.status() })
	h.at((14*24+6)*time.Hour, func() {
		h.signal(release.SignalResume, release.Command{Actor: "rm-ada", Reason: "Prometheus was being upgraded"})
	})
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, "resume accepted the paused analysis")
	require.Equal(t, release.StatePaused, paused.State)
	require.Equal(t, "pause", paused.Analyses[0].Action)
	require.Contains(t, paused.Analyses[0].Reason, "inconclusive")
	require.Equal(t, 5.0, paused.TrafficPercent, "a pause leaves traffic where it is")
	st := h.status()
	require.True(t, strings.HasPrefix(st.Analyses[0].Reason, "accepted by rm-ada"))
}

func TestPolicyCanSayPauseInsteadOfRollback(t *testing.T) {
	h := newHarness(t, withAnalysis("pause"))
	h.act.verdict = func(v analysis.Vars, _ int) analysis.Outcome {
		if v.Stage == string(release.StageCanary) {
			return analysis.Fail
		}
		return analysis.Pass
	}
	h.approveEvery(time.Minute, 30*time.Minute)
	var paused release.Status
	h.at((14*24+2)*time.Hour, func() {
		paused = h.status()
		h.signal(release.SignalRollback, release.Command{Actor: "rm-ada", Reason: "confirmed regression"})
	})
	res := h.run()
	require.Equal(t, release.StatePaused, paused.State)
	require.Equal(t, release.StateRolledBack, res.State)
	require.Contains(t, res.Reason, "rm-ada")
}
