package safe

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// ProxyAdminOf is the ProxyAdmin a governed upgrade of a transparent proxy calls
// (upgradeAndCall): the one named (a shared ProxyAdmin of OpenZeppelin 4.x style, from the
// policy), else the one in the proxy's EIP-1967 admin slot (OpenZeppelin 5.x deploys one per
// proxy). Either way it must be owned by the timelock: otherwise the scheduled upgrade would
// revert at execution, after the owners' approvals and the delay, or the proxy is not governed.
func ProxyAdminOf(ctx context.Context, b chain.Backend, proxy, named, timelock common.Address) (common.Address, error) {
	admin := named
	if admin == (common.Address{}) {
		var err error
		if admin, err = chain.ReadAdmin(ctx, b, proxy); err != nil {
			return common.Address{}, err
		}
		if admin == (common.Address{}) {
			return common.Address{}, fmt.Errorf("transparent proxy %s: its EIP-1967 admin slot is empty (a UUPS proxy?) and the policy names no proxyAdmin", proxy.Hex())
		}
	}
	a := &mustArtifact(NameProxyAdmin).ABI
	v, err := callView(ctx, b, admin, a, "owner")
	if err != nil {
		return common.Address{}, fmt.Errorf("ProxyAdmin %s of proxy %s: %w", admin.Hex(), proxy.Hex(), err)
	}
	if owner := v[0].(common.Address); owner != timelock {
		return common.Address{}, fmt.Errorf("ProxyAdmin %s of proxy %s is owned by %s, not the timelock %s: the upgrade would not be governed", admin.Hex(), proxy.Hex(), owner.Hex(), timelock.Hex())
	}
	return admin, nil
}
