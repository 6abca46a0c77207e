package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"

	"github.com/shipgate/shipgate/internal/evidence"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// previousEvidence finds what the release production serves passed the same check with, for
// checks that compare with it (documents). Production is what the service's lane says is live,
// never the manifest's previousVersion, which the release manager writes; the evidence is what
// that release's own status recorded it read, fetched from the store by digest. nil: no earlier
// release of the service is in production, or it never passed this check.
func (g *Gates) previousEvidence(ctx context.Context, req release.CheckRequest) (*evidence.Previous, error) {
	if g.Client == nil {
		return nil, nonRetryable(errors.New("the worker has no Temporal client to read the release production serves"), "NoClient")
	}
	var lane release.LaneState
	if err := g.query(ctx, release.LaneWorkflowID(req.Service), release.QueryLane, &lane); err != nil || lane.Live == "" {
		return nil, notFoundIsNone(err)
	}
	id := release.WorkflowID(req.Service, lane.Live)
	if id == req.ReleaseID {
		return nil, nil // this release is live already: nothing earlier to compare with
	}
	var st release.Status
	if err := g.query(ctx, id, release.QueryStatus, &st); err != nil {
		return nil, notFoundIsNone(err)
	}
	for _, gs := range st.Gates {
		for _, cs := range gs.Checks {
			if cs.Name != req.Check.Name || cs.State != release.CheckPassed || len(cs.Evidence) == 0 {
				continue
			}
			prev := &evidence.Previous{Release: id, Version: st.Version}
			for _, e := range cs.Evidence {
				prev.SHA256 = append(prev.SHA256, e.SHA256)
				data, err := g.Store.Get(ctx, release.Blob{Name: e.Location, SHA256: e.SHA256, Size: e.Bytes})
				switch {
				case err == nil:
					prev.Files = append(prev.Files, evidence.File{Name: e.Location, Data: data})
				case !evstore.Permanent(err):
					return nil, fmt.Errorf("reading %s's evidence %s: %w", id, e.Location, err)
				} // gone from the store (or from before it): compared by digest only
			}
			return prev, nil
		}
	}
	return nil, nil
}

// query asks workflow id (its latest run) a query and decodes the answer into out.
func (g *Gates) query(ctx context.Context, id, name string, out any) error {
	v, err := g.Client.QueryWorkflow(ctx, id, "", name)
	if err != nil {
		return fmt.Errorf("asking %s for its %s: %w", id, name, err)
	}
	return v.Get(out)
}

// notFoundIsNone turns "no such workflow" into no error: there is nothing earlier.
func notFoundIsNone(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}
