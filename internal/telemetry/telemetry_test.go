package telemetry

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

func TestSDKMetricsExportsWithTags(t *testing.T) {
	m := NewMetrics()
	h := NewSDKMetrics(m.Registry)
	h.WithTags(map[string]string{"namespace": "default", "task-queue": "shipgate"}).Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(1)
	h.Timer("temporal_activity_execution_latency").Record(1500 * time.Millisecond)
	h.Gauge("temporal_num_pollers").Update(3)
	out, err := testutil.CollectAndFormat(m.Registry, expfmt.TypeTextPlain, "temporal_request", "temporal_activity_execution_latency_seconds", "temporal_num_pollers")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`temporal_request{namespace="default",task_queue="shipgate"} 2`,
		`temporal_request{namespace="default",task_queue=""} 1`,
		`temporal_activity_execution_latency_seconds_sum 1.5`,
		`temporal_num_pollers 3`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestReleasesCollectorCaches(t *testing.T) {
	calls := 0
	c := NewReleasesCollector(func(context.Context) (map[StageState]int, error) {
		calls++
		return map[StageState]int{{"canary", "waiting"}: 2, {"testnet", "blocked"}: 1}, nil
	}, time.Hour)
	if n := testutil.CollectAndCount(c, "shipgate_releases"); n != 2 {
		t.Fatalf("want 2 series, got %d", n)
	}
	testutil.CollectAndCount(c, "shipgate_releases")
	if calls != 1 {
		t.Fatalf("visibility asked %d times within the ttl", calls)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP shipgate_releases Running releases by stage and state.
# TYPE shipgate_releases gauge
shipgate_releases{stage="canary",state="waiting"} 2
shipgate_releases{stage="testnet",state="blocked"} 1
`), "shipgate_releases"); err != nil {
		t.Fatal(err)
	}
}
