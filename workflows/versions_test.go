package workflows

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// TestVersionHistories keeps versions.go honest: each change id's history carries its marker,
// and no recorded history carries a marker that versions.go does not list.
func TestVersionHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories: %v", err)
	}
	markers := map[string][]string{} // history → change ids
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		markers[name] = versionMarkers(t, f)
		for _, id := range markers[name] {
			if _, ok := versionHistories[id]; !ok {
				t.Errorf("%s carries change id %q, which versions.go does not list", name, id)
			}
		}
	}
	for id, h := range versionHistories {
		switch {
		case h == "":
			continue
		case markers[h] == nil && !slices.Contains(files, filepath.Join("testdata", "histories", h+".json")):
			t.Errorf("change id %q: history %s is not in testdata/histories", id, h)
		case !slices.Contains(markers[h], id):
			t.Errorf("change id %q: history %s has no marker for it (it has %v)", id, h, markers[h])
		}
	}
}

// versionMarkers lists the change ids of the version markers in a recorded history.
func versionMarkers(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range hist.GetEvents() {
		m := e.GetMarkerRecordedEventAttributes()
		if m == nil || m.GetMarkerName() != "Version" {
			continue
		}
		var id string
		if err := converter.GetDefaultDataConverter().FromPayloads(m.GetDetails()["change-id"], &id); err != nil {
			t.Fatalf("%s: event %d: %v", path, e.GetEventId(), err)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}
