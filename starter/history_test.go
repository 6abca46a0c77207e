package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/devstack"
)

// recordHistory saves the release's history for the replay test when SHIPGATE_RECORD_HISTORY
// names a file name (e.g. v1-lifecycle.json); every change to workflow code records one.
// It always reports the history's size, the number the history budget is about.
func recordHistory(t testing.TB, c client.Client, id string) {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	t.Logf("history of %s: %d events", id, len(hist.Events))
	if len(hist.Events) >= 2000 {
		t.Errorf("history of a full lifecycle has %d events: over the 2,000 budget", len(hist.Events))
	}
	name := os.Getenv("SHIPGATE_RECORD_HISTORY")
	if name == "" {
		return
	}
	writeHistory(t, hist, name)
}

// recordHistoryAs saves the release's history as name when SHIPGATE_RECORD_HISTORY is set
// (tests that record a second history beside the lifecycle's).
func recordHistoryAs(t testing.TB, c client.Client, id, name string) {
	t.Helper()
	if os.Getenv("SHIPGATE_RECORD_HISTORY") == "" {
		return
	}
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	writeHistory(t, hist, name)
}

func writeHistory(t testing.TB, hist *historypb.History, name string) {
	t.Helper()
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := devstack.RepoRoot()
	path := filepath.Join(root, "workflows", "testdata", "histories", filepath.Base(strings.TrimSpace(name)))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s", path)
}
