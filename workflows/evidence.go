package workflows

import (
	"fmt"
	"sort"

	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// evidenceStored refuses an input whose evidence or artifacts are not all blobs.
func (w *rel) evidenceStored(ctx workflow.Context) error {
	if workflow.GetVersion(ctx, versionEvidenceStore, workflow.DefaultVersion, 1) < 1 {
		return nil
	}
	return release.ValidateStored("workflow input manifest", &w.in.Manifest)
}

// takeEvidence replaces the evidence of the checks a recheck brings new evidence for. Each must
// be an automated evidence check of a gate the recheck reruns, with valid blobs; nothing is
// replaced unless all are.
func (w *rel) takeEvidence(ev map[string][]release.Blob, rerun map[string]bool) (string, bool) {
	for _, name := range sortedChecks(ev) {
		gi, ci := w.findCheck(name)
		if gi < 0 {
			return fmt.Sprintf("refused: the policy has no check %q", name), false
		}
		if c := w.pol.Gates[gi].Checks[ci]; c.Kind != release.KindEvidence {
			return fmt.Sprintf("refused: %s is a %s check: it reads no evidence", name, c.Kind), false
		}
		if !rerun[w.st.Gates[gi].ID] {
			return fmt.Sprintf("refused: %s belongs to gate %s, which this recheck does not run", name, w.st.Gates[gi].ID), false
		}
		if len(ev[name]) == 0 {
			return fmt.Sprintf("refused: no evidence given for %s", name), false
		}
		for i, b := range ev[name] {
			if err := b.Validate(); err != nil {
				return fmt.Sprintf("refused: evidence %s[%d]: %v", name, i, err), false
			}
		}
	}
	if len(ev) == 0 {
		return "", true
	}
	blobs := map[string][]release.Blob{}
	for k, v := range w.in.Manifest.Blobs {
		blobs[k] = v
	}
	for k, v := range ev {
		blobs[k] = append([]release.Blob(nil), v...)
		delete(w.in.Manifest.Evidence, k)
	}
	w.in.Manifest.Blobs = blobs
	return "", true
}

func sortedChecks(ev map[string][]release.Blob) []string {
	out := make([]string, 0, len(ev))
	for k := range ev {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
