package activities

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/analysis/prom"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// Analysis measures canary and production-step metrics in Prometheus.
type Analysis struct {
	PrometheusURL string
	HTTP          *http.Client
	Metrics       *telemetry.Metrics
}

// AnalyzeInterval measures one interval and folds it into the run. An unreachable Prometheus
// is an inconclusive/error verdict inside the run, never a pass and never a crash.
func (a *Analysis) AnalyzeInterval(ctx context.Context, req release.AnalyzeRequest) (release.AnalyzeResult, error) {
	client, err := prom.New(a.PrometheusURL, a.HTTP)
	if err != nil {
		return release.AnalyzeResult{}, nonRetryable(err, "AnalysisConfig")
	}
	res := client.MeasureAll(ctx, req.Spec, req.Vars, time.Now())
	run := req.Run
	dec := run.Record(res)
	out := release.AnalyzeResult{Run: run, Decision: dec}
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
