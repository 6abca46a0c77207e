package safe

import (
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// Send sends one transaction from the deploying key (sign, broadcast, wait) and returns it
// signed; a creation has ContractAddress set.
type Send func(ctx context.Context, opKey string, to *common.Address, data []byte) (*chain.SignedTx, error)

// DeployGovernance deploys, on a dev or test chain, what a governed chain has: Safe v1.5.0
// (singleton and proxy factory) with a Safe proxy of owners and threshold, MultiSendCallOnly,
// and a TimelockController with the delay whose proposer and canceller is the Safe, whose
// executor is executor, and with no admin. It is for geth --dev chains, simulated chains and
// the demo: real governance contracts exist once per chain and are never deployed by shipgate.
// opPrefix keeps the transactions' operation keys apart in the sender's nonce store.
func DeployGovernance(ctx context.Context, b chain.Backend, from common.Address, send Send, opPrefix string, owners []common.Address, threshold, delay uint64, executor common.Address) (Governance, error) {
	var g Governance
	id, err := b.ChainID(ctx)
	if err != nil {
		return g, err
	}
	g.ChainID = id.Uint64()
	create := func(name string, args ...any) (common.Address, error) {
		a := mustArtifact(name)
		enc, err := a.ABI.Pack("", args...)
		if err != nil {
			return common.Address{}, fmt.Errorf("constructor of %s: %w", name, err)
		}
		s, err := send(ctx, opPrefix+"/"+name, nil, append(slices.Clone(a.Bytecode), enc...))
		if err != nil {
			return common.Address{}, fmt.Errorf("deploy %s: %w", name, err)
		}
		return *s.ContractAddress, nil
	}
	singleton, err := create(NameSafe)
	if err != nil {
		return g, err
	}
	factory, err := create(NameProxyFactory)
	if err != nil {
		return g, err
	}
	if g.MultiSend, err = create(NameMultiSend); err != nil {
		return g, err
	}
	setup, err := safeABI().Pack("setup", owners, new(big.Int).SetUint64(threshold), common.Address{}, []byte{}, common.Address{}, common.Address{}, new(big.Int), common.Address{})
	if err != nil {
		return g, err
	}
	fa := mustArtifact(NameProxyFactory).ABI
	data, err := fa.Pack("createProxyWithNonce", singleton, setup, big.NewInt(1))
	if err != nil {
		return g, err
	}
	out, err := b.CallContract(ctx, ethereum.CallMsg{From: from, To: &factory, Data: data}, nil)
	if err != nil {
		return g, fmt.Errorf("create Safe proxy: %w", err)
	}
	vals, err := fa.Unpack("createProxyWithNonce", out)
	if err != nil {
		return g, fmt.Errorf("create Safe proxy: %w", err)
	}
	if _, err := send(ctx, opPrefix+"/safe-proxy", &factory, data); err != nil {
		return g, fmt.Errorf("create Safe proxy: %w", err)
	}
	g.Safe = vals[0].(common.Address)
	g.Timelock, err = create(NameTimelock, new(big.Int).SetUint64(delay), []common.Address{g.Safe}, []common.Address{executor}, common.Address{})
	return g, err
}

// ApproveHashData is the calldata of an owner's Safe.approveHash(hash): what an owner's own
// wallet sends to approve a proposal on chain.
func ApproveHashData(hash common.Hash) ([]byte, error) {
	return safeABI().Pack("approveHash", [32]byte(hash))
}
