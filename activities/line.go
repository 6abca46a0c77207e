package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// Line joins releases to their policy's line (the stop-the-line workflow), starting the line
// when it is not running yet.
type Line struct {
	Client client.Client
}

// JoinLine adds the release to the line of its policy and returns the line's state.
func (l *Line) JoinLine(ctx context.Context, req release.JoinLineRequest) (release.LineState, error) {
	if !release.ValidPolicyName(req.Policy) {
		return release.LineState{}, fmt.Errorf("policy name %q: not a worker policy name", req.Policy)
	}
	return control.JoinLine(ctx, l.Client, req)
}
