package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays every recorded history against today's workflow code: a
// change that alters commands without workflow.GetVersion fails here, before it breaks running
// releases. Record a new history with SHIPGATE_RECORD_HISTORY=<name>.json go test ./starter/;
// analysis-*.json are runs of the AnalysisWorkflow child, recorded with
// SHIPGATE_RECORD_ANALYSIS_HISTORY=analysis-<name>.json go test -run TestAnalysisOnDevServer ./workflows/.
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
			r.RegisterWorkflowWithOptions(ReleaseWorkflow, RegisterOptions())
			r.RegisterWorkflowWithOptions(AnalysisWorkflow, AnalysisRegisterOptions())
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}
