package workflows

import (
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// TestReplayRecordedHistories replays every recorded history against today's workflow code: a
// change that alters commands without workflow.GetVersion fails here, before it breaks running
// releases. Record a new history with SHIPGATE_RECORD_HISTORY=<name>.json go test ./starter/;
// analysis-*.json are runs of the AnalysisWorkflow child, recorded with
// SHIPGATE_RECORD_ANALYSIS_HISTORY=analysis-<name>.json go test -run TestAnalysisOnDevServer ./workflows/;
// v9-way-back-*.json are the way back's failure and cancellation paths, recorded with
// SHIPGATE_RECORD_WAYBACK_HISTORY=1 go test -run TestWayBackOnDevServer ./workflows/;
// v10-lane-*.json (a queued release, a service's lane) and restore-*.json likewise with
// -run 'TestLaneQueues|TestRestore'; v12-local-activities.json, v12-start-age.json and
// v13-local-join.json (a release under the benchmark's policy, start to succeeded) with
// go run ./bench/releases -n 1 -soak 5s -record FILE.
//
// A release replays as the execution it was: its workflow id (release/<service>/<version>, from
// its input) and run id, because it checks that it runs under its release's id and that each
// command was signed for its run.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/histories")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			file, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			hist, err := client.HistoryFromJSON(file, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{OriginalExecution: execution(t, hist.GetEvents()[0])}); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}

// execution is the workflow id and run id the history was recorded under, as far as they can
// be told from its first event: a release's id from its manifest, the run id as recorded.
func execution(t *testing.T, first *historypb.HistoryEvent) workflow.Execution {
	t.Helper()
	attrs := first.GetWorkflowExecutionStartedEventAttributes()
	ex := workflow.Execution{RunID: attrs.GetOriginalExecutionRunId()}
	if attrs.GetWorkflowType().GetName() == release.RestoreWorkflowName {
		var in release.RestoreInput
		if err := converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in); err != nil {
			t.Fatal(err)
		}
		ex.ID = release.RestoreWorkflowID(in.Release, in.Run)
		return ex
	}
	if attrs.GetWorkflowType().GetName() != release.ReleaseWorkflowName {
		return ex
	}
	var in release.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in); err != nil {
		t.Fatal(err)
	}
	ex.ID = in.Manifest.ID()
	return ex
}
