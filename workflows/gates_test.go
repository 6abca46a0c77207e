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
