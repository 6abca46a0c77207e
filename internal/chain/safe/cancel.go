package safe

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/shipgate/shipgate/internal/chain"
)

// Cancellation is the Safe transaction that takes back a proposal whose operations the
// timelock holds (an aborted release): timelock.cancel(id) for each pending operation, batched
// through MultiSendCallOnly, approved by the owners like any Safe transaction (the Safe is the
// timelock's canceller) and executed by the worker once.
type Cancellation struct {
	// Of is the safeTxHash of the proposal it cancels.
	Of         common.Hash    `json:"of"`
	Timelock   common.Address `json:"timelock"`
	Ops        []TimelockOp   `json:"ops"`
	SafeTx     SafeTx         `json:"safeTx"`
	SafeTxHash common.Hash    `json:"safeTxHash"`
	Decoded    []DecodedCall  `json:"decoded"`
}

// ProposeCancel reads which of p's operations the timelock still holds (waiting or ready) and
// builds their cancellation at the Safe's current nonce. Nothing pending (the Safe transaction
// never executed, or the operations are done or cancelled already): nil, nil.
func ProposeCancel(ctx context.Context, b chain.Backend, p *Proposal) (*Cancellation, error) {
	var pending []TimelockOp
	for _, op := range []TimelockOp{p.Upgrade, p.Revert} {
		st, _, err := OpState(ctx, b, p.Timelock, op.ID)
		if err != nil {
			return nil, err
		}
		if st == OpWaiting || st == OpReady {
			pending = append(pending, op)
		}
	}
	if len(pending) == 0 {
		return nil, nil
	}
	n, err := Nonce(ctx, b, p.SafeTx.Safe)
	if err != nil {
		return nil, err
	}
	g := Governance{ChainID: p.SafeTx.ChainID, Safe: p.SafeTx.Safe, Timelock: p.Timelock, MultiSend: p.SafeTx.To}
	tx, h, err := CancelTx(g, p, pending, n)
	if err != nil {
		return nil, err
	}
	c := &Cancellation{Of: p.SafeTxHash, Timelock: p.Timelock, Ops: pending, SafeTx: tx, SafeTxHash: h}
	if c.Decoded, err = Decode(tx.To, tx.Data); err != nil {
		return nil, fmt.Errorf("cancel %s: decode own calldata: %w", p.SafeTxHash.Hex(), err)
	}
	return c, nil
}

// ProposeReject builds the rejection of p, which the Safe has not executed: a Safe
// transaction at p's nonce from the Safe to itself, value 0, no data (the Safe's standard
// "reject"). Once it executes, the nonce is used and p can never execute, whatever approvals
// it gathers. The Safe's nonce already past p's (p executed, or the nonce used otherwise):
// nil, nil; before p's: an error (earlier Safe transactions are pending).
func ProposeReject(ctx context.Context, b chain.Backend, p *Proposal) (*Cancellation, error) {
	n, err := Nonce(ctx, b, p.SafeTx.Safe)
	switch {
	case err != nil:
		return nil, err
	case n > p.SafeTx.Nonce:
		return nil, nil
	case n < p.SafeTx.Nonce:
		return nil, fmt.Errorf("reject %s: nonce %d, the Safe is at %d: %w", p.SafeTxHash.Hex(), p.SafeTx.Nonce, n, ErrNonceAhead)
	}
	tx, h, err := SelfTx(p.SafeTx.Safe, p.SafeTx.ChainID, []byte{}, p.SafeTx.Nonce)
	if err != nil {
		return nil, err
	}
	return &Cancellation{Of: p.SafeTxHash, Timelock: p.Timelock, SafeTx: tx, SafeTxHash: h}, nil
}

// Rejection reports whether c is a rejection (ProposeReject) rather than a cancellation of
// timelock operations.
func (c *Cancellation) Rejection() bool {
	return len(c.Ops) == 0 && c.SafeTx.To == c.SafeTx.Safe && len(c.SafeTx.Data) == 0 && bigOrZero(c.SafeTx.Value).Sign() == 0 && c.SafeTx.Operation == OperationCall
}

// Summary is what the owners check before approving the cancellation.
func (c *Cancellation) Summary() []string {
	if c.Rejection() {
		return []string{
			fmt.Sprintf("reject the proposal %s: Safe %s on chain %d, nonce %d", c.Of.Hex(), c.SafeTx.Safe.Hex(), c.SafeTx.ChainID, c.SafeTx.Nonce),
			fmt.Sprintf("safeTxHash %s (your wallet must show this hash)", c.SafeTxHash.Hex()),
			fmt.Sprintf("to %s (the Safe itself, call), value 0, no data: it only uses nonce %d, so the proposal %s can never execute", c.SafeTx.Safe.Hex(), c.SafeTx.Nonce, c.Of.Hex()),
		}
	}
	out := []string{
		fmt.Sprintf("cancel the proposal %s: Safe %s on chain %d, nonce %d", c.Of.Hex(), c.SafeTx.Safe.Hex(), c.SafeTx.ChainID, c.SafeTx.Nonce),
		fmt.Sprintf("safeTxHash %s (your wallet must show this hash)", c.SafeTxHash.Hex()),
		fmt.Sprintf("to %s (MultiSendCallOnly, delegatecall), value 0", c.SafeTx.To.Hex()),
	}
	for _, op := range c.Ops {
		out = append(out, fmt.Sprintf("timelock %s: cancel operation %s", c.Timelock.Hex(), op.ID.Hex()))
	}
	out = append(out, "calldata:")
	for _, l := range Lines(c.Decoded) {
		out = append(out, "  "+l)
	}
	return out
}

// Cancelled reports whether every operation the cancellation names is unset again; for a
// rejection, whether the Safe's nonce has moved past it (the rejected proposal can no longer
// execute at it; whether that proposal executed first, ReadProgress tells).
func (c *Cancellation) Cancelled(ctx context.Context, b chain.Backend) (bool, error) {
	if c.Rejection() {
		n, err := Nonce(ctx, b, c.SafeTx.Safe)
		return n > c.SafeTx.Nonce, err
	}
	for _, op := range c.Ops {
		st, _, err := OpState(ctx, b, c.Timelock, op.ID)
		if err != nil {
			return false, err
		}
		if st != OpUnset {
			return false, nil
		}
	}
	return true, nil
}

// CancelProgress reads where the cancellation stands: approved (threshold met), cancelled
// (executed: every operation unset), rejected (the Safe used its nonce otherwise), or
// awaiting approvals.
func CancelProgress(ctx context.Context, b chain.Backend, c *Cancellation) (*Progress, error) {
	pr := &Progress{}
	done, err := c.Cancelled(ctx, b)
	if err != nil {
		return nil, err
	}
	if pr.SafeNonce, err = Nonce(ctx, b, c.SafeTx.Safe); err != nil {
		return nil, err
	}
	if pr.Approved, pr.Threshold, err = Approvals(ctx, b, c.SafeTx.Safe, c.SafeTxHash); err != nil {
		return nil, err
	}
	if !done && pr.SafeNonce == c.SafeTx.Nonce && uint64(len(pr.Approved)) >= pr.Threshold {
		if pr.Refused, err = refusedApprovals(ctx, b, c.SafeTx, c.SafeTxHash, nil); err != nil {
			return nil, err
		}
	}
	switch {
	case done:
		pr.Phase = PhaseCancelled
	case pr.SafeNonce > c.SafeTx.Nonce:
		pr.Phase = PhaseRejected
	case uint64(len(pr.Approved)) >= pr.Threshold && pr.Refused == "":
		pr.Phase = PhaseApproved
	default:
		pr.Phase = PhaseAwaitingApprovals
	}
	return pr, nil
}
