package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/release"
)

// cost is what one part of a release's history asked of the server.
type cost struct {
	Events        int            `json:"events"`
	WorkflowTasks int            `json:"workflowTasks"` // completed workflow tasks
	Activities    int            `json:"activities"`    // activity tasks scheduled
	LocalActs     int            `json:"localActivities"`
	Timers        int            `json:"timers"`
	Updates       int            `json:"updates"` // updates accepted (signed commands)
	Signals       int            `json:"signals"`
	Upserts       int            `json:"searchAttributeUpserts"`
	ByActivity    map[string]int `json:"byActivity"`
}

func (c *cost) add(o cost) {
	c.Events += o.Events
	c.WorkflowTasks += o.WorkflowTasks
	c.Activities += o.Activities
	c.LocalActs += o.LocalActs
	c.Timers += o.Timers
	c.Updates += o.Updates
	c.Signals += o.Signals
	c.Upserts += o.Upserts
	if c.ByActivity == nil {
		c.ByActivity = map[string]int{}
	}
	for k, v := range o.ByActivity {
		c.ByActivity[k] += v
	}
}

// releaseCost splits a release's history at the search-attribute upserts that move it into
// staging and into testnet: G1 is everything before staging (admission, G1's checks and
// signoffs), G3 from there until the testnet soak opened (the staging deploy, G3, the testnet
// deploy), which is the end of the history of a release still soaking.
type releaseCost struct {
	G1, G3 cost
}

// historyCost reads one release's history (the run the id names now) and counts its events.
func historyCost(ctx context.Context, c client.Client, id string) (releaseCost, error) {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var rc releaseCost
	part := &rc.G1
	part.ByActivity = map[string]int{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return rc, fmt.Errorf("history of %s: %w", id, err)
		}
		if stage := upsertedStage(ev); stage == string(release.StageStaging) {
			part = &rc.G3
			part.ByActivity = map[string]int{}
		} else if stage != "" && stage != string(release.StageDevelopment) && stage != string(release.StageTestnet) {
			break // past the soak: not part of the ramp
		}
		countEvent(part, ev)
	}
	return rc, nil
}

func countEvent(c *cost, ev *historypb.HistoryEvent) {
	c.Events++
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
		c.WorkflowTasks++
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		c.Activities++
		c.ByActivity[ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()]++
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		if ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
			c.LocalActs++
		}
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		c.Timers++
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		c.Updates++
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		c.Signals++
	case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
		c.Upserts++
	}
}

// upsertedStage is the ReleaseStage an upsert event sets, or "".
func upsertedStage(ev *historypb.HistoryEvent) string {
	if ev.GetEventType() != enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES {
		return ""
	}
	p := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["ReleaseStage"]
	if p == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(p.GetData(), &s); err != nil {
		return ""
	}
	return s
}

// byActivity prints activity counts per release, largest first.
func byActivity(m map[string]int, n int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var parts []string
	for _, e := range l {
		parts = append(parts, fmt.Sprintf("%s %.1f", e.k, float64(e.v)/float64(n)))
	}
	return strings.Join(parts, ", ")
}
