package activities

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/shipgate/shipgate/internal/release"
)

// Register registers the activities under the names the workflow calls them by.
func Register(w worker.ActivityRegistry, g *Gates, t *Traffic, n *Notify) {
	w.RegisterActivityWithOptions(g.EvaluateCheck, activity.RegisterOptions{Name: release.ActivityEvaluateCheck})
	w.RegisterActivityWithOptions(t.SetTraffic, activity.RegisterOptions{Name: release.ActivitySetTraffic})
	w.RegisterActivityWithOptions(n.Notify, activity.RegisterOptions{Name: release.ActivityNotify})
	w.RegisterActivityWithOptions(n.SignoffMessage, activity.RegisterOptions{Name: release.ActivitySignoffMessage})
}

// RegisterAnalysis registers the canary analysis activity.
func RegisterAnalysis(w worker.ActivityRegistry, a *Analysis) {
	w.RegisterActivityWithOptions(a.AnalyzeInterval, activity.RegisterOptions{Name: release.ActivityAnalyze})
}
