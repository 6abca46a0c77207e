package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// BreakCanary waits until the release's canary takes traffic, makes the demo service fail half
// of the canary version's requests, and measures the time until the canary's share of
// production traffic is back at 0 % — with nobody acting. It clears the fault afterwards.
func BreakCanary(ctx context.Context, c client.Client, id, demoURL string, out io.Writer) (time.Duration, error) {
	var st release.Status
	for {
		var err error
		if st, err = control.Status(ctx, c, id); err == nil && st.Stage == release.StageCanary && st.TrafficPercent > 0 {
			break
		}
		if st.State.Final() {
			return 0, fmt.Errorf("release ended %s before its canary", st.State)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// let the analysis see some healthy intervals first
	time.Sleep(time.Second)
	body, _ := json.Marshal(map[string]any{"version": st.Version, "errorRate": 0.5})
	resp, err := http.Post(demoURL+"/v1/faults", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("setting the fault: HTTP %d", resp.StatusCode)
	}
	start := time.Now()
	fmt.Fprintf(out, "%s   FAULT: demo service now fails 50 %% of %s's requests\n", start.Format("15:04:05"), st.Version)
	defer func() {
		req, _ := http.NewRequest(http.MethodDelete, demoURL+"/v1/faults/"+st.Version, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	for {
		var state struct {
			Environments map[string]struct {
				Canary        string  `json:"canary"`
				CanaryPercent float64 `json:"canaryPercent"`
			} `json:"environments"`
		}
		resp, err := http.Get(demoURL + "/v1/traffic")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&state)
			resp.Body.Close()
		}
		if err == nil && state.Environments["production"].CanaryPercent == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > 2*time.Minute {
			return time.Since(start), fmt.Errorf("canary still takes traffic 2 minutes after the fault")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
