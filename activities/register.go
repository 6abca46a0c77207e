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

// RegisterPolicies registers the activity that hands releases the worker's policies.
func RegisterPolicies(w worker.ActivityRegistry, p *Policies) {
	w.RegisterActivityWithOptions(p.LoadPolicy, activity.RegisterOptions{Name: release.ActivityLoadPolicy})
}

// RegisterAnalysis registers the canary analysis activity.
func RegisterAnalysis(w worker.ActivityRegistry, a *Analysis) {
	w.RegisterActivityWithOptions(a.AnalyzeInterval, activity.RegisterOptions{Name: release.ActivityAnalyze})
}

// RegisterContracts registers the contract activities.
func RegisterContracts(w worker.ActivityRegistry, c *Contracts) {
	w.RegisterActivityWithOptions(c.Plan, activity.RegisterOptions{Name: release.ActivityContractsPlan})
	w.RegisterActivityWithOptions(c.Sign, activity.RegisterOptions{Name: release.ActivityContractsSign})
	w.RegisterActivityWithOptions(c.Broadcast, activity.RegisterOptions{Name: release.ActivityContractsBroadcast})
	w.RegisterActivityWithOptions(c.Confirm, activity.RegisterOptions{Name: release.ActivityContractsConfirm})
	w.RegisterActivityWithOptions(c.Record, activity.RegisterOptions{Name: release.ActivityContractsRecord})
	w.RegisterActivityWithOptions(c.Propose, activity.RegisterOptions{Name: release.ActivityGovernancePropose})
	w.RegisterActivityWithOptions(c.Watch, activity.RegisterOptions{Name: release.ActivityGovernanceWatch})
	w.RegisterActivityWithOptions(c.ProposeCancel, activity.RegisterOptions{Name: release.ActivityGovernanceCancel})
	w.RegisterActivityWithOptions(c.CheckSignature, activity.RegisterOptions{Name: release.ActivityGovernanceCheckSignature})
}

// RegisterLanes registers the production lane and restore activities.
func RegisterLanes(w worker.ActivityRegistry, l *Lanes) {
	w.RegisterActivityWithOptions(l.Enter, activity.RegisterOptions{Name: release.ActivityLaneEnter})
	w.RegisterActivityWithOptions(l.Leave, activity.RegisterOptions{Name: release.ActivityLaneLeave})
	w.RegisterActivityWithOptions(l.Verify, activity.RegisterOptions{Name: release.ActivityLaneVerify})
	w.RegisterActivityWithOptions(l.ReadEnded, activity.RegisterOptions{Name: release.ActivityReadEnded})
}

// RegisterLine registers the activity that joins releases to their policy's line.
func RegisterLine(w worker.ActivityRegistry, l *Line) {
	w.RegisterActivityWithOptions(l.JoinLine, activity.RegisterOptions{Name: release.ActivityJoinLine})
}
