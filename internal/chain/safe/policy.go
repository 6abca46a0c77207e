package safe

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/release"
)

// FromPolicy turns a policy chain's governance (validated by release: checksummed addresses,
// threshold within the owners, whole seconds of delay) into the addresses and the expectation
// Check compares with the chain.
func FromPolicy(ch release.Chain, worker common.Address) (Governance, Expect) {
	g := ch.Governance
	gov := Governance{ChainID: ch.ChainID, Safe: common.HexToAddress(g.Safe), Timelock: common.HexToAddress(g.Timelock), MultiSend: common.HexToAddress(g.MultiSend)}
	want := Expect{Threshold: uint64(g.Threshold), MinDelay: uint64(g.MinDelay.D().Seconds()), Worker: worker}
	for _, o := range g.Owners {
		want.Owners = append(want.Owners, common.HexToAddress(o))
	}
	return gov, want
}

// CheckPolicy reads a governed chain's Safe and timelock and compares them with the policy:
// the check a release passes on a governed chain before any transaction.
func CheckPolicy(ctx context.Context, b chain.Backend, ch release.Chain, worker common.Address) (*State, error) {
	if ch.Governance == nil {
		return nil, fmt.Errorf("chain %s: no governance in the policy", ch.Name)
	}
	gov, want := FromPolicy(ch, worker)
	st, err := ReadState(ctx, b, gov, worker)
	if err != nil {
		return nil, fmt.Errorf("chain %s: %w", ch.Name, err)
	}
	if err := Check(gov, st, want); err != nil {
		return st, fmt.Errorf("chain %s: %w", ch.Name, err)
	}
	return st, nil
}
