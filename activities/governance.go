package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/chain/safe"
	"github.com/shipgate/shipgate/internal/release"
)

// checkGovernance compares a governed chain's Safe and timelock with the policy (owners,
// threshold, minimum delay, roles, and that the worker's key is neither an owner nor a
// proposer): Plan runs it first, so a release whose policy disagrees with the chain is refused
// before any transaction. A disagreement is not retried: the policy or the chain must change.
func (c *Contracts) checkGovernance(ctx context.Context, b chain.Backend, ch release.Chain) error {
	if ch.Governance == nil {
		return nil
	}
	key, err := c.loadKey(ch)
	if err != nil {
		return err
	}
	st, err := safe.CheckPolicy(ctx, b, ch, key.Address)
	if err != nil {
		if errors.Is(err, safe.ErrMismatch) {
			return temporal.NewNonRetryableApplicationError(err.Error(), "GovernanceMismatch", err)
		}
		return fmt.Errorf("governance: %w", err)
	}
	if c.Log != nil {
		c.Log.Info("governance matches the policy", zap.String("chain", ch.Name), zap.String("safe", ch.Governance.Safe),
			zap.Uint64("threshold", st.Threshold), zap.Int("owners", len(st.Owners)), zap.Uint64("minDelaySeconds", st.MinDelay), zap.Uint64("safeNonce", st.Nonce))
	}
	return nil
}
