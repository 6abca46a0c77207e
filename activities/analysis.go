package activities

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/analysis/prom"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// DefaultAlertPoll is how often the alerts API is asked during an interval.
const DefaultAlertPoll = time.Second

// Analysis measures canary and production-step metrics in Prometheus.
type Analysis struct {
	PrometheusURL string
	HTTP          *http.Client
	Metrics       *telemetry.Metrics
	// AlertPoll is the time between two reads of the alerts API while an interval runs
	// (DefaultAlertPoll when zero).
	AlertPoll time.Duration
}

// AnalyzeInterval measures one interval and folds it into the run. With req.Until set it first
// watches the policy's SLO alerts until then, heartbeating, and measures at once when one fires:
// the run then rolls back without waiting for the interval's end. An unreachable Prometheus is
// an inconclusive/error verdict inside the run, never a pass and never a crash.
func (a *Analysis) AnalyzeInterval(ctx context.Context, req release.AnalyzeRequest) (release.AnalyzeResult, error) {
	client, err := prom.New(a.PrometheusURL, a.HTTP)
	if err != nil {
		return release.AnalyzeResult{}, nonRetryable(err, "AnalysisConfig")
	}
	fired, err := a.watch(ctx, client, req)
	if err != nil {
		return release.AnalyzeResult{}, err
	}
	now := time.Now()
	res := client.MeasureAll(ctx, req.Spec, req.Vars, now)
	// an alert seen by the watch counts even if it resolved before the measurement
	for _, f := range fired {
		if !slices.Contains(res.FiringAlerts, f) {
			res.FiringAlerts = append(res.FiringAlerts, f)
		}
	}
	run := req.Run
	dec := run.Record(res)
	rec := analysis.NewIntervalRecord(run.Intervals, now, res, dec)
	out := release.AnalyzeResult{Run: run, Decision: dec, Record: &rec}
	for _, v := range res.Verdicts {
		out.Summary = append(out.Summary, summarize(v))
		if a.Metrics != nil {
			a.Metrics.AnalysisVerdicts.WithLabelValues(v.Metric, string(v.Outcome)).Inc()
		}
	}
	for _, al := range res.FiringAlerts {
		out.Summary = append(out.Summary, "alert firing: "+al)
	}
	activity.GetLogger(ctx).Info("analysis interval", "decision", dec.Action, "reason", dec.Reason, "verdicts", out.Summary)
	return out, nil
}

// watch polls the alerts until req.Until (no watch without it), heartbeating so a lost worker
// is noticed within the heartbeat timeout and the interval retried elsewhere. Without alerts in
// the policy it only waits. It returns the firing alerts, named with their labels.
func (a *Analysis) watch(ctx context.Context, client *prom.Client, req release.AnalyzeRequest) ([]string, error) {
	if req.Until.IsZero() {
		return nil, nil
	}
	every := a.AlertPoll
	if every <= 0 {
		every = DefaultAlertPoll
	}
	if len(req.Spec.Alerts) == 0 {
		for time.Now().Before(req.Until) {
			activity.RecordHeartbeat(ctx)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(min(every, time.Until(req.Until))):
			}
		}
		return nil, nil
	}
	vars := req.Vars
	if vars.Interval == "" {
		vars.Interval = req.Spec.Interval
	}
	match, err := prom.AlertMatch(req.Spec.Alerts, vars)
	if err != nil {
		return nil, nil // the measurement reports the template error as an alerts error
	}
	failed := 0
	alerts, err := client.WatchAlerts(ctx, match, req.Until, every, func(err error) {
		if err != nil {
			failed++
		}
		activity.RecordHeartbeat(ctx, failed)
	})
	if err != nil {
		return nil, err
	}
	if failed > 0 {
		activity.GetLogger(ctx).Warn("alerts could not be read during the interval", "failedPolls", failed)
	}
	var names []string
	for _, al := range alerts {
		names = append(names, al.String())
	}
	return names, nil
}

// summarize is one compact line per verdict for the audit log: metric, outcome, values, rule.
func summarize(v analysis.Verdict) string {
	s := fmt.Sprintf("%s %s canary=%v", v.Metric, v.Outcome, v.Canary)
	if len(v.BaselineSamples) > 0 {
		s += fmt.Sprintf(" baseline(n=%d)", len(v.BaselineSamples))
	}
	if v.Threshold != nil {
		s += fmt.Sprintf(" %s %g", v.Direction, *v.Threshold)
	}
	if v.DryRun {
		s += " (dry run)"
	}
	return s + ": " + v.Rule
}
