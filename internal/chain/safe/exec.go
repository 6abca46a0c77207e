package safe

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// Phase is where a proposal stands on chain.
type Phase string

// Proposal phases, in order; Rejected and Cancelled end a proposal without an upgrade.
const (
	PhaseAwaitingApprovals Phase = "awaiting-approvals" // Safe nonce not used yet, threshold not met
	PhaseApproved          Phase = "approved"           // threshold met, Safe tx not executed
	PhaseScheduled         Phase = "scheduled"          // Safe tx executed: both operations wait out the delay
	PhaseReady             Phase = "ready"              // delay over, upgrade not executed
	PhaseUpgraded          Phase = "upgraded"           // upgrade executed; revert ready
	PhaseReverted          Phase = "reverted"           // the prepared revert executed
	PhaseRejected          Phase = "rejected"           // the Safe used the proposal's nonce for another transaction
	PhaseCancelled         Phase = "cancelled"          // the Safe executed it, then cancelled the upgrade
)

// Progress is a proposal's on-chain state, read by the watch activity.
type Progress struct {
	Phase     Phase            `json:"phase"`
	Approved  []common.Address `json:"approved"` // owners whose approveHash is on chain
	Threshold uint64           `json:"threshold"`
	SafeNonce uint64           `json:"safeNonce"`
	Upgrade   OperationState   `json:"upgrade"`
	Revert    OperationState   `json:"revert"`
	// ReadyAt is the unix time the upgrade operation becomes executable (0: not scheduled).
	ReadyAt uint64 `json:"readyAt"`
	// Refused is the Safe's refusal of the approvals counted (Approved meets the threshold,
	// yet the Safe would not execute with them): the proposal still awaits approvals.
	Refused string `json:"refused,omitempty"`
}

// OpState reads a timelock operation's state.
func OpState(ctx context.Context, b chain.Backend, timelock common.Address, id common.Hash) (OperationState, uint64, error) {
	v, err := callView(ctx, b, timelock, timelockABI(), "getOperationState", [32]byte(id))
	if err != nil {
		return 0, 0, err
	}
	ts, err := callView(ctx, b, timelock, timelockABI(), "getTimestamp", [32]byte(id))
	if err != nil {
		return 0, 0, err
	}
	return OperationState(v[0].(uint8)), ts[0].(*big.Int).Uint64(), nil
}

// Approvals returns the owners whose approveHash of hash is on chain (in the Safe's owner order).
func Approvals(ctx context.Context, b chain.Backend, safe common.Address, hash common.Hash) ([]common.Address, uint64, error) {
	v, err := callView(ctx, b, safe, safeABI(), "getOwners")
	if err != nil {
		return nil, 0, err
	}
	owners := v[0].([]common.Address)
	var approved []common.Address
	for _, o := range owners {
		a, err := callView(ctx, b, safe, safeABI(), "approvedHashes", o, [32]byte(hash))
		if err != nil {
			return nil, 0, err
		}
		if a[0].(*big.Int).Sign() != 0 {
			approved = append(approved, o)
		}
	}
	t, err := callView(ctx, b, safe, safeABI(), "getThreshold")
	if err != nil {
		return nil, 0, err
	}
	return approved, t[0].(*big.Int).Uint64(), nil
}

// ReadProgress reads where p stands; offChain counts owners' EIP-712 signatures handed in
// (already checked to recover to owners) toward the threshold besides approveHash.
func ReadProgress(ctx context.Context, b chain.Backend, p *Proposal, offChain []Signature) (*Progress, error) {
	pr := &Progress{}
	var err error
	if pr.Upgrade, pr.ReadyAt, err = OpState(ctx, b, p.Timelock, p.Upgrade.ID); err != nil {
		return nil, err
	}
	if pr.Revert, _, err = OpState(ctx, b, p.Timelock, p.Revert.ID); err != nil {
		return nil, err
	}
	if pr.SafeNonce, err = Nonce(ctx, b, p.SafeTx.Safe); err != nil {
		return nil, err
	}
	sigs, threshold, _, err := validSignatures(ctx, b, p.SafeTx.Safe, p.SafeTxHash, offChain)
	if err != nil {
		return nil, err
	}
	pr.Threshold = threshold
	for _, s := range sigs {
		pr.Approved = append(pr.Approved, s.Owner)
	}
	// counted enough: approved only if the Safe itself would execute it now, so that the
	// worker's execution, which makes the same check, is not refused right after
	if pr.SafeNonce == p.SafeTx.Nonce && uint64(len(sigs)) >= threshold {
		if pr.Refused, err = refusedApprovals(ctx, b, p.SafeTx, p.SafeTxHash, offChain); err != nil {
			return nil, err
		}
	}
	switch {
	case pr.Revert == OpDone:
		pr.Phase = PhaseReverted
	case pr.Upgrade == OpDone:
		pr.Phase = PhaseUpgraded
	case pr.Upgrade == OpReady:
		pr.Phase = PhaseReady
	case pr.Upgrade == OpWaiting:
		pr.Phase = PhaseScheduled
	case pr.SafeNonce > p.SafeTx.Nonce && safeExecuted(ctx, b, p):
		pr.Phase = PhaseCancelled // scheduled once (the timestamp went), now unset
	case pr.SafeNonce > p.SafeTx.Nonce:
		pr.Phase = PhaseRejected
	case uint64(len(pr.Approved)) >= pr.Threshold && pr.Refused == "":
		pr.Phase = PhaseApproved
	default:
		pr.Phase = PhaseAwaitingApprovals
	}
	return pr, nil
}

// safeExecuted: the Safe's ExecutionSuccess(txHash) log is the proof a nonce went to this
// proposal; without logs access, an unset operation after the nonce moved reads as rejected.
// The query spans the whole chain: on a node that limits log ranges, a cancelled proposal
// reads as rejected (both end the proposal without an upgrade).
func safeExecuted(ctx context.Context, b chain.Backend, p *Proposal) bool {
	lf, ok := b.(logFilterer)
	if !ok {
		return false
	}
	logs, err := lf.FilterLogs(ctx, executionFilter(p))
	if err != nil {
		return false
	}
	return len(logs) > 0
}

// ErrNotApproved: fewer owners approved than the threshold.
var ErrNotApproved = errors.New("safe transaction not approved by the threshold of owners")

// ErrNonceUsed: the Safe already executed a transaction at the proposal's nonce (this one, or
// one the owners executed instead: a rejection).
var ErrNonceUsed = errors.New("safe nonce already used")

// ErrNonceAhead: earlier Safe transactions must execute before the proposal can.
var ErrNonceAhead = errors.New("safe nonce not reached")

// ExecSafeRequest is the worker's transaction that executes the approved Safe transaction.
// Signatures come from on-chain approvals plus owners' off-chain ones; opKey goes to the nonce
// store (e.g. "<release id>/governance/exec-safe/<contract>"), so however often the activity
// runs, at most one execTransaction is ever signed for the proposal.
func ExecSafeRequest(ctx context.Context, b chain.Backend, p *Proposal, offChain []Signature, opKey string) (chain.TxRequest, error) {
	return ExecSafeTxRequest(ctx, b, p.SafeTx, p.SafeTxHash, offChain, opKey)
}

// ExecSafeTxRequest is ExecSafeRequest for any Safe transaction the owners approved by hash
// (a proposal, or its cancellation): CheckExec's calldata, sent to the Safe.
func ExecSafeTxRequest(ctx context.Context, b chain.Backend, t SafeTx, hash common.Hash, offChain []Signature, opKey string) (chain.TxRequest, error) {
	data, err := CheckExec(ctx, b, t, hash, offChain)
	if err != nil {
		return chain.TxRequest{}, err
	}
	safe := t.Safe
	return chain.TxRequest{OpKey: opKey, To: &safe, Data: data, ErrorABI: safeABI()}, nil
}

// ExecTransactionData is the calldata of the Safe's execTransaction of t with the packed
// signatures (EncodeSignatures).
func ExecTransactionData(t SafeTx, signatures []byte) ([]byte, error) {
	return safeABI().Pack("execTransaction", t.To, bigOrZero(t.Value), []byte(t.Data), uint8(t.Operation), bigOrZero(t.SafeTxGas), bigOrZero(t.BaseGas), bigOrZero(t.GasPrice), t.GasToken, t.RefundReceiver, signatures)
}

// ExecuteRequest is the worker's transaction that executes a ready timelock operation, under
// opKey in the nonce store (exactly once, like every shipgate transaction).
func ExecuteRequest(timelock common.Address, op TimelockOp, opKey string) (chain.TxRequest, error) {
	data, err := op.ExecuteData()
	if err != nil {
		return chain.TxRequest{}, err
	}
	return chain.TxRequest{OpKey: opKey, To: &timelock, Data: data, Value: bigOrZero(op.Value), ErrorABI: timelockABI()}, nil
}

// SignStep is a governed step's sign activity: the transaction the nonce store already holds
// for opKey when there is one (a step retried after a crash re-sends the same bytes, even when
// the chain has moved on and the request could no longer be built), else build's request
// signed under opKey. Every governed step goes through it, so each signs at most once.
func SignStep(ctx context.Context, b chain.Backend, key *chain.Key, nonces *chain.NonceStore, opKey string, build func() (chain.TxRequest, error)) (*chain.SignedTx, error) {
	id, err := b.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign %s: chain id: %w", opKey, err)
	}
	ops, err := nonces.Reserved(id.Uint64(), key.Address)
	if err != nil {
		return nil, err
	}
	if r, ok := ops[opKey]; ok {
		return &chain.SignedTx{Raw: r.Raw, Hash: r.Hash, ChainID: id.Uint64(), From: key.Address, To: r.To, Nonce: r.Nonce, ContractAddress: r.ContractAddress}, nil
	}
	req, err := build()
	if err != nil {
		return nil, err
	}
	req.OpKey = opKey
	return chain.SignTx(ctx, b, key, nonces, req)
}
