package workflows

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// Issue 12: a document must differ from the one the release production serves passed the
// same check with. On the dev server, with the real lane and the worker's own check activity
// reading the stack's evidence store: 1.3.0 is released with its runbook; 1.4.0 brings the same
// runbook with only the version changed and its runbook check fails, naming 1.3.0; a recheck
// with a runbook that says something new passes, and the release goes on to production.
// The other checks are the stand-in activities of the way-back stack.
func TestDocumentsDifferFromThePreviousReleaseOnDevServer(t *testing.T) {
	s := newWayBackStack(t)
	store := evstore.Dir{Root: t.TempDir()}
	s.gates, s.real = &activities.Gates{Store: store, Client: s.c}, map[string]bool{"runbook": true}
	ctx := context.Background()
	runbook := func(version, body string) release.Blob {
		data := []byte("# Runbook " + version + "\n\n" + body + "\n")
		b := evstore.NewBlob("docs/runbook.md", data)
		require.NoError(t, store.Put(ctx, b, data))
		return b
	}
	withRunbook := func(b release.Blob) func(*release.Manifest) {
		return func(m *release.Manifest) {
			if m.Blobs == nil {
				m.Blobs = map[string][]release.Blob{}
			}
			m.Blobs["runbook"] = []release.Blob{b}
		}
	}
	const steps = "Restart the service; %s needs no migration."
	first := s.startFrom("1.3.0", "1.2.0", withRunbook(runbook("1.3.0", strings.ReplaceAll(steps, "%s", "1.3.0"))))
	s.drive(first, func(st release.Status) bool { return st.State.Final() })
	require.Equal(t, release.StateSucceeded, s.result(first).State)

	second := s.startFrom("1.4.0", "1.3.0", withRunbook(runbook("1.4.0", strings.ReplaceAll(steps, "%s", "1.4.0"))))
	st := s.drive(second, func(st release.Status) bool {
		cs := runbookCheck(st)
		return cs.State == release.CheckFailed || cs.State == release.CheckPassed
	})
	cs := runbookCheck(st)
	require.Equal(t, release.CheckFailed, cs.State, cs.Detail)
	require.Contains(t, cs.Detail, "differs from runbook.md, which release/payments/1.3.0 passed with, only in its version")

	fresh := runbook("1.4.0", "Restart the service; 1.4.0 runs migration 42 first (takes ~3 min, safe to retry).")
	s.signal(second, release.SignalRecheck, release.Command{Actor: "rm-ada", Evidence: map[string][]release.Blob{"runbook": {fresh}}})
	st = s.drive(second, func(st release.Status) bool { return runbookCheck(st).State == release.CheckPassed })
	require.Contains(t, runbookCheck(st).Detail, "new since release/payments/1.3.0")
	s.drive(second, func(st release.Status) bool { return st.State.Final() })
	require.Equal(t, release.StateSucceeded, s.result(second).State)
}

func runbookCheck(st release.Status) release.CheckStatus {
	for _, g := range st.Gates {
		for _, cs := range g.Checks {
			if cs.Name == "runbook" {
				return cs
			}
		}
	}
	return release.CheckStatus{}
}
