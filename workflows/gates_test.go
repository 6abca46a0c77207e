package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/shipgate/shipgate/internal/release"
)

// Every automated check runs with a heartbeat timeout: a worker killed mid-check is noticed
// in seconds and the check retried, where the gate used to wait out the check's 5 minutes
// (the chaos suite's worker kills found it).
func TestAutomatedChecksHaveAHeartbeatTimeout(t *testing.T) {
	h := newHarness(t, nil)
	checks := 0
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == release.ActivityEvaluateCheck {
			checks++
			require.Equal(t, checkHeartbeatTimeout, info.HeartbeatTimeout, "check activity %s", info.ActivityID)
		}
	})
	h.approveEvery(time.Minute, 30*time.Minute)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, res.Reason)
	require.Positive(t, checks)
}

// Issue 12: the resource-usage probe ran when its gate opened, before the staging deploy
// answered, and so measured the version it replaces. It now runs for the new version on
// staging once the deploy has answered and the window (the seed's 300 s) has passed.
func TestResourceUsageMeasuresAfterTheDeploy(t *testing.T) {
	h := newHarness(t, func(_ *release.Manifest, p *release.Policy) {
		for _, g := range p.Gates {
			for _, c := range g.Checks {
				if c.Name == "resource-usage" {
					c.Params["windowSeconds"] = "300"
				}
			}
		}
	})
	var deployed, measured time.Time
	var req release.CheckRequest
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		switch info.ActivityType.Name {
		case release.ActivitySetTraffic:
			var tr release.TrafficRequest
			require.NoError(t, args.Get(&tr))
			if tr.Environment == "staging" && deployed.IsZero() {
				deployed = h.env.Now()
			}
		case release.ActivityEvaluateCheck:
			var cr release.CheckRequest
			require.NoError(t, args.Get(&cr))
			if cr.Check.Name == "resource-usage" {
				measured, req = h.env.Now(), cr
			}
		}
	})
	var waiting release.CheckStatus
	for m := 1; m <= 30; m++ {
		h.at(time.Duration(m)*time.Minute, func() {
			for _, g := range h.status().Gates {
				for _, c := range g.Checks {
					if c.Name == "resource-usage" && c.State == release.CheckRunning && waiting.State == "" {
						waiting = c // seen while it waits for the window
					}
				}
			}
		})
	}
	h.approveEvery(time.Minute, 30*time.Minute)
	res := h.run()
	require.Equal(t, release.StateSucceeded, res.State, res.Reason)
	require.False(t, deployed.IsZero(), "no staging deploy")
	require.Equal(t, "staging", req.Environment)
	require.Equal(t, "2.0.0", req.Version)
	require.GreaterOrEqual(t, measured.Sub(deployed), 300*time.Second, "measured %v after the deploy", measured.Sub(deployed))
	require.Less(t, measured.Sub(deployed), 310*time.Second)
	require.Equal(t, release.CheckRunning, waiting.State)
	require.Equal(t, "measures 2.0.0 on staging over the 5m0s after its deploy there", waiting.Detail)
}
