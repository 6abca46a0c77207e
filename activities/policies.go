package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/release"
)

// Policies hands a release the worker's policy it names. The workflow records the answer, so
// a running release never changes policy; a caller can only name a policy, never supply one.
type Policies struct {
	Store *policies.Store
}

// LoadPolicy loads and validates the named policy. A missing or invalid policy is not retried:
// the workflow refuses the release with the error, which names the file, line and field.
func (p *Policies) LoadPolicy(_ context.Context, req release.PolicyRequest) (release.PolicyResult, error) {
	res, err := p.Store.Get(req.Name)
	if err != nil {
		return release.PolicyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "PolicyRefused", nil)
	}
	return res, nil
}
