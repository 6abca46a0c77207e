package workflows

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/release"
)

// withAnalysis is the default policy with a 1-minute analysis, a 48-hour canary watch and
// 1-hour bakes (to keep the test short; the canary is the long part).
func withAnalysis(onFailure release.FailureAction) func(*release.Manifest, *release.Policy) {
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
			p.OnFailure = map[release.Stage]release.FailureAction{release.StageCanary: onFailure}
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
	require.Equal(t, analysis.Promote, canary.Action)
	require.Equal(t, 48*60, canary.Intervals, "every minute of 48 h measured, across continue-as-new runs")
	for _, a := range st.Analyses[1:] {
		require.Equal(t, analysis.Promote, a.Action, a.Step)
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
	require.Equal(t, analysis.Rollback, st.Analyses[0].Action)
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
	require.Equal(t, analysis.Pause, paused.Analyses[0].Action)
	require.Contains(t, paused.Analyses[0].Reason, "inconclusive")
	require.Equal(t, 5.0, paused.TrafficPercent, "a pause leaves traffic where it is")
	st := h.status()
	require.True(t, strings.HasPrefix(st.Analyses[0].Reason, "accepted by rm-ada"))
}

func TestPolicyCanSayPauseInsteadOfRollback(t *testing.T) {
	h := newHarness(t, withAnalysis(release.FailurePause))
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

// liveFake measures like the real activity, on values the test chooses: verdicts judged by the
// real rules on rendered queries, alerts that fire when alert says so, a compact record. The
// real activity watches the alerts for the whole interval; this one answers at once, because
// the time-skipping environment only skips time while no activity runs (with one running,
// timers fire on the wall clock). The child still waits for its timer, so time moves as in
// production, and an alert answered at once is an alert seen at the interval's start.
type liveFake struct {
	mu     sync.Mutex
	value  func(v analysis.Vars, interval int) float64  // the canary's error ratio
	alert  func(v analysis.Vars, interval int) []string // firing alerts, with labels
	starts map[string][]time.Time                       // per stage: when each interval began
	env    interface{ Now() time.Time }
}

func (f *liveFake) AnalyzeInterval(_ context.Context, req release.AnalyzeRequest) (release.AnalyzeResult, error) {
	n := req.Run.Intervals + 1
	f.mu.Lock()
	f.starts[req.Vars.Stage] = append(f.starts[req.Vars.Stage], f.env.Now())
	f.mu.Unlock()
	var res analysis.IntervalResult
	for _, m := range req.Spec.Metrics {
		q, err := analysis.Render(m.Query, req.Vars.Map())
		if err != nil {
			return release.AnalyzeResult{}, err
		}
		res.Verdicts = append(res.Verdicts, analysis.Judge(m, analysis.Observation{Query: q, Canary: []float64{f.value(req.Vars, n)}}))
	}
	if f.alert != nil {
		res.FiringAlerts = f.alert(req.Vars, n)
	}
	run := req.Run
	d := run.Record(res)
	rec := analysis.NewIntervalRecord(run.Intervals, f.env.Now(), res, d)
	return release.AnalyzeResult{Run: run, Decision: d, Record: &rec}, nil
}

// useLiveFake replaces the harness's analysis activity with a liveFake.
func useLiveFake(h *harness, value func(analysis.Vars, int) float64, alert func(analysis.Vars, int) []string) *liveFake {
	f := &liveFake{value: value, alert: alert, starts: map[string][]time.Time{}, env: h.env}
	h.env.OnActivity(release.ActivityAnalyze, mock.Anything, mock.Anything).Return(f.AnalyzeInterval)
	return f
}

func healthy(analysis.Vars, int) float64 { return 0.001 }

// A firing SLO alert rolls the canary back as soon as it is seen, not when the interval ends.
func TestFiringAlertRollsBackBeforeTheIntervalEnds(t *testing.T) {
	h := newHarness(t, func(m *release.Manifest, p *release.Policy) {
		withAnalysis("")(m, p)
		p.Analysis.Interval = "10m"
		p.Analysis.Alerts = map[string]string{"service": "{{.Service}}"}
	})
	const firesAt = 7 // the 7th canary interval
	f := useLiveFake(h, healthy, func(v analysis.Vars, n int) []string {
		if v.Stage == string(release.StageCanary) && n == firesAt {
			return []string{`ShipgateHighErrorRate{service="payments", severity="page"}`}
		}
		return nil
	})
	h.approveEvery(time.Minute, 30*time.Minute)
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State)
	require.Contains(t, res.Reason, `SLO alert firing: ShipgateHighErrorRate{service="payments", severity="page"}`)
	require.Len(t, f.starts[string(release.StageCanary)], firesAt)
	st := h.status()
	var opened time.Time
	for _, w := range st.Windows {
		if w.Name == release.WindowCanaryWatch {
			opened = w.StartedAt
		}
	}
	took := h.env.Now().Sub(opened)
	require.Less(t, took, firesAt*10*time.Minute, "rolled back before the 7th interval's timer")
	require.Equal(t, (firesAt-1)*10*time.Minute, took, "rolled back when the alert was seen")
	p := h.act.percents()
	require.Equal(t, "production:0", p[len(p)-1])
	require.Equal(t, analysis.Rollback, st.Analyses[0].Action)
	require.Len(t, st.Analyses[0].Recent, 0, "the parent keeps no interval log")
	require.Equal(t, firesAt, st.Analyses[0].Intervals)
}

// While the canary runs, the child's status has the latest verdict per metric and a compact
// interval log; failing verdicts are notified with values and query; the parent's audit gets
// every interval in compact form when the analysis ends.
func TestAnalysisStatusNoticesAndAudit(t *testing.T) {
	h := newHarness(t, func(m *release.Manifest, p *release.Policy) {
		withAnalysis("")(m, p)
		p.Analysis.Metrics[0].FailureLimit = 2
	})
	useLiveFake(h, func(v analysis.Vars, n int) float64 {
		if v.Stage == string(release.StageCanary) && (n == 100 || n == 200) {
			return 0.3
		}
		return 0.001
	}, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	var live release.AnalysisOutcome
	var parent release.Status
	h.at((14*24+10)*time.Hour, func() {
		parent = h.status()
		v, err := h.env.QueryWorkflowByID(parent.Analyses[0].WorkflowID, release.QueryStatus)
		require.NoError(t, err)
		require.NoError(t, v.Get(&live))
	})
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, "two failures are within failureLimit 2")

	require.Equal(t, analysis.Running, parent.Analyses[0].Action)
	require.Equal(t, "release/payments/2.0.0/analysis/canary-watch", parent.Analyses[0].WorkflowID)
	require.Equal(t, analysis.Running, live.Action)
	require.InDelta(t, 10*60, live.Intervals, 2)
	require.Len(t, live.Recent, 30, "the compact log is bounded")
	require.Equal(t, live.Intervals, live.Recent[29].N)
	m := live.Metrics[0]
	require.Equal(t, analysis.Pass, m.Last.Outcome)
	require.Equal(t, `sum(rate(x{service="payments"}[1m]))`, m.Last.Query, "the rendered query")
	require.Equal(t, []float64{0.001}, m.Last.Canary)
	require.Equal(t, 0.01, *m.Last.Threshold)
	require.Contains(t, m.Last.Rule, "<= max 0.01")
	require.Equal(t, 2, m.Failures)
	require.Equal(t, fmt.Sprintf("pass×99 fail×1 pass×99 fail×1 pass×%d", live.Intervals-200), m.TimelineString())

	var notices []string
	for _, n := range h.act.notices {
		if n.Kind == release.NoticeAnalysis {
			notices = append(notices, n.Text)
		}
	}
	require.Len(t, notices, 2, "one notice per failing verdict")
	require.Contains(t, notices[0], "interval 100: error-rate fail: canary 0.3 > max 0.01")
	require.Contains(t, notices[0], `query: sum(rate(x{service="payments"}[1m]))`)
	require.Contains(t, notices[0], "failure 1 of 2 allowed")
	require.Contains(t, notices[1], "failure 2 of 2 allowed")

	st := h.status()
	for _, e := range st.Audit {
		if e.Action == "analysis" && e.Target == release.WindowCanaryWatch {
			require.Len(t, e.Evidence, 1)
			require.Contains(t, e.Evidence[0], "error-rate: 2878 pass, 2 fail, 0 inconclusive, 0 error; timeline pass×99 fail×1 pass×99 fail×1 pass×2680; canary 0.001…0.3")
			require.Contains(t, e.Evidence[0], "query: sum(rate(x{service=\"payments\"}[1m]))")
			return
		}
	}
	t.Fatal("no audit entry for the canary analysis")
}

// The pause of a spent inconclusive budget and the automatic rollback are notified with the
// metric, its values and its query.
func TestAnalysisPauseAndRollbackNotices(t *testing.T) {
	h := newHarness(t, withAnalysis(""))
	useLiveFake(h, func(v analysis.Vars, n int) float64 {
		if v.Stage == string(release.StageCanary) && n == 30 {
			return 0.5
		}
		return 0.001
	}, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	res := h.run()
	require.Equal(t, release.StateRolledBack, res.State)
	var rollback string
	for _, n := range h.act.notices {
		if n.Kind == release.NoticeRollback {
			rollback = n.Text
		}
	}
	require.Contains(t, rollback, "traffic back to 1.9.0")
	require.Contains(t, rollback, "metric error-rate failed 1 times > failureLimit 0: canary 0.5 > max 0.01 [canary=0.5, threshold max 0.01]")
	require.Contains(t, rollback, `query: sum(rate(x{service="payments"}[1m]))`)

	h = newHarness(t, withAnalysis(""))
	useLiveFake(h, func(v analysis.Vars, n int) float64 { return math.NaN() }, nil)
	h.approveEvery(time.Minute, 30*time.Minute)
	h.at((14*24+3)*time.Hour, func() {
		h.signal(release.SignalAbort, release.Command{Actor: "rm-ada", Reason: "end of test"})
	})
	h.run()
	var pause string
	for _, n := range h.act.notices {
		if n.Kind == release.NoticeAnalysis {
			pause = n.Text
		}
	}
	require.Contains(t, pause, "paused: analysis of canary-watch: metric error-rate inconclusive 3 times > inconclusiveLimit 2: query returned only non-finite values")
	require.Contains(t, pause, `query: sum(rate(x{service="payments"}[1m]))`)
}
