package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"go.temporal.io/sdk/activity"

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

// Propose builds the governed upgrade of one proxy: one Safe transaction that schedules the
// upgrade and its revert (with the upgrade as predecessor) in the chain's timelock, at the
// Safe's current nonce and the timelock's minimum delay, checked against the policy first. It
// sends nothing: the owners approve the safeTxHash on chain (approveHash) from their own
// wallets. safe.Propose is pure, so a retried activity proposes the same transaction while the
// Safe's nonce has not moved; the workflow keeps the first result it records.
func (c *Contracts) Propose(ctx context.Context, req release.GovernanceProposeRequest) (release.GovernanceProposal, error) {
	ch := req.Chain
	bad := func(err error) (release.GovernanceProposal, error) {
		return release.GovernanceProposal{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("governed upgrade of %s on %s: %v", req.Contract.Name, ch.Name, err), "BadProposal", err)
	}
	if ch.Governance == nil {
		return bad(errors.New("the chain has no governance"))
	}
	if req.Contract.Proxy == nil {
		return bad(errors.New("not behind a proxy"))
	}
	for _, a := range []string{req.Proxy, req.Next, req.Previous} {
		if !common.IsHexAddress(a) {
			return bad(fmt.Errorf("%q is not an address", a))
		}
	}
	b, err := c.dial(ctx, ch)
	if err != nil {
		return release.GovernanceProposal{}, err
	}
	key, err := c.loadKey(ch)
	if err != nil {
		return release.GovernanceProposal{}, err
	}
	st, err := safe.CheckPolicy(ctx, b, ch, key.Address)
	if err != nil {
		if errors.Is(err, safe.ErrMismatch) {
			return release.GovernanceProposal{}, temporal.NewNonRetryableApplicationError(err.Error(), "GovernanceMismatch", err)
		}
		return release.GovernanceProposal{}, fmt.Errorf("governance: %w", err)
	}
	next := common.HexToAddress(req.Next)
	code, err := b.CodeAt(ctx, next, nil)
	if err != nil {
		return release.GovernanceProposal{}, fmt.Errorf("code of %s: %w", next.Hex(), err)
	}
	if len(code) == 0 {
		return bad(fmt.Errorf("no code at the new implementation %s", next.Hex()))
	}
	gov, _ := safe.FromPolicy(ch, key.Address)
	up := safe.UpgradeRequest{ReleaseID: req.ReleaseID, Contract: req.Contract.Name, Kind: req.Contract.Proxy.Kind,
		Proxy: common.HexToAddress(req.Proxy), Next: next, Previous: common.HexToAddress(req.Previous), NextCodeHash: crypto.Keccak256Hash(code)}
	if up.Kind == safe.KindTransparent {
		if up.ProxyAdmin, err = safe.ProxyAdminOf(ctx, b, up.Proxy, common.HexToAddress(ch.Governance.ProxyAdmin), gov.Timelock); err != nil {
			return bad(err)
		}
	}
	p, err := safe.Propose(gov, up, st.Nonce, st.MinDelay)
	if err != nil {
		return bad(err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return release.GovernanceProposal{}, err
	}
	if c.Log != nil {
		c.Log.Info("governed upgrade proposed", zap.String("chain", ch.Name), zap.String("contract", req.Contract.Name),
			zap.String("safeTxHash", p.SafeTxHash.Hex()), zap.Uint64("safeNonce", p.SafeTx.Nonce))
	}
	c.crash("propose", "")
	return release.GovernanceProposal{Contract: req.Contract.Name, Chain: ch.Name, SafeTxHash: p.SafeTxHash.Hex(), SafeNonce: p.SafeTx.Nonce,
		Delay: p.Delay, Proposal: raw, Summary: p.Summary()}, nil
}

// onChain is the opening of the governed activities that read a proposal's (or a
// cancellation's) progress: decode what history carried (proposal or cancellation, each
// checked against its safeTxHash), then dial its chain.
func onChain[T any](ctx context.Context, c *Contracts, ch release.Chain, raw json.RawMessage, decode func(json.RawMessage) (*T, error)) (*T, chain.Backend, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, nil, err
	}
	b, err := c.dial(ctx, ch)
	if err != nil {
		return nil, nil, err
	}
	return v, b, nil
}

// proposal decodes a proposal carried through history and checks that its fields still hash
// to the safeTxHash the owners approved.
func proposal(raw json.RawMessage) (*safe.Proposal, error) {
	var p safe.Proposal
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, temporal.NewNonRetryableApplicationError("governed proposal: not a proposal", "BadProposal", err)
	}
	if h, err := p.SafeTx.Hash(); err != nil || h != p.SafeTxHash {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("governed proposal %s: its fields hash to %s: refusing a changed transaction", p.SafeTxHash.Hex(), h.Hex()), "BadProposal", err)
	}
	return &p, nil
}

// phaseRank orders the on-chain phases a watch waits through.
var phaseRank = map[safe.Phase]int{
	safe.PhaseAwaitingApprovals: 0, safe.PhaseApproved: 1, safe.PhaseScheduled: 2, safe.PhaseReady: 3,
	safe.PhaseUpgraded: 4, safe.PhaseReverted: 5,
}

// Watch waits, polling the chain and heartbeating what it read, until the proposal reaches
// req.Until (approved: the owners' approvals meet the threshold; ready: the timelock delay is
// over; settled: the Safe's nonce moved past the proposal's, after an abort). One activity for the whole wait keeps the workflow's history small however long the
// owners take; a lost worker is noticed by the heartbeat timeout and the watch resumes
// elsewhere. A rejected (the Safe used the nonce for another transaction) or cancelled
// proposal ends the watch with a non-retryable error naming the state.
func (c *Contracts) Watch(ctx context.Context, req release.GovernanceWatchRequest) (release.GovernanceProgress, error) {
	if req.Until == release.WatchCancel {
		return c.watchCancel(ctx, req)
	}
	p, b, err := onChain(ctx, c, req.Chain, req.Proposal, proposal)
	if err != nil {
		return release.GovernanceProgress{}, err
	}
	want := safe.PhaseApproved
	if req.Until == release.WatchReady {
		want = safe.PhaseReady
	}
	settle := req.Until == release.WatchSettled
	offChain, err := offChainSignatures(p.SafeTxHash, req.Signatures)
	if err != nil {
		return release.GovernanceProgress{}, err
	}
	poll := c.pollInterval()
	for {
		pr, err := safe.ReadProgress(ctx, b, p, offChain)
		if err != nil {
			return release.GovernanceProgress{}, fmt.Errorf("governed proposal %s: %w", p.SafeTxHash.Hex(), err)
		}
		out := release.GovernanceProgress{Phase: string(pr.Phase), Threshold: pr.Threshold, ReadyAt: int64(pr.ReadyAt)}
		for _, a := range pr.Approved {
			out.Approved = append(out.Approved, a.Hex())
		}
		switch {
		case settle && pr.SafeNonce > p.SafeTx.Nonce:
			return out, nil // executed or replaced: either way it can execute no more
		case settle:
		case pr.Phase == safe.PhaseRejected || pr.Phase == safe.PhaseCancelled:
			return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf("governed proposal %s (Safe nonce %d): %s", p.SafeTxHash.Hex(), p.SafeTx.Nonce, pr.Phase), "Governance"+string(pr.Phase), nil)
		case phaseRank[pr.Phase] >= phaseRank[want]:
			return out, nil
		}
		beat := fmt.Sprintf("%s: %d of %d approvals", pr.Phase, len(pr.Approved), pr.Threshold)
		if pr.Refused != "" {
			beat += "; counted, but the Safe would refuse them: " + pr.Refused
		}
		activity.RecordHeartbeat(ctx, beat)
		c.crash("watch", req.Until)
		if c.OnPoll != nil {
			c.OnPoll()
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// governedRequest is the transaction of a governed execution, signed through safe.SignStep:
// once signed under its OpKey, a retried step re-sends the same bytes even when the chain has
// moved on and the request could no longer be built (e.g. the Safe's nonce already used by it).
func (c *Contracts) governedSign(ctx context.Context, b chain.Backend, key *chain.Key, req release.ContractTx) (*chain.SignedTx, error) {
	if req.Chain.Governance == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s on %s: the chain has no governance", req.Op, req.Chain.Name), "BadContract", nil)
	}
	var (
		p   *safe.Proposal
		cn  *safe.Cancellation
		err error
	)
	if req.Op == release.OpGovCancel || req.Op == release.OpGovReject {
		cn, err = cancellation(req.Proposal)
	} else {
		p, err = proposal(req.Proposal)
	}
	if err != nil {
		return nil, err
	}
	return safe.SignStep(ctx, b, key, c.Nonces, req.OpKey, func() (chain.TxRequest, error) {
		var (
			r   chain.TxRequest
			err error
		)
		switch req.Op {
		case release.OpGovExecSafe:
			var offChain []safe.Signature
			if offChain, err = offChainSignatures(p.SafeTxHash, req.Signatures); err == nil {
				r, err = safe.ExecSafeRequest(ctx, b, p, offChain, req.OpKey)
			}
		case release.OpGovCancel, release.OpGovReject:
			r, err = safe.ExecSafeTxRequest(ctx, b, cn.SafeTx, cn.SafeTxHash, nil, req.OpKey)
		case release.OpGovUpgrade:
			r, err = safe.ExecuteRequest(p.Timelock, p.Upgrade, req.OpKey)
		case release.OpGovRevert:
			r, err = safe.ExecuteRequest(p.Timelock, p.Revert, req.OpKey)
		}
		if err != nil {
			return r, c.govRefusal(ctx, b, req.Op, p, err)
		}
		return r, c.feeCaps(ctx, b, req.Chain, &r)
	})
}

// govRefusal is the error a governed execution's refusal becomes (err from CheckExec, before
// signing, or from ExplainRevert, after a mined revert); none is worth retrying as it is:
//   - the Safe transaction already executed (exec-safe, its operations scheduled): the owners
//     executed it themselves (ErrTypeGovExecutedElsewhere);
//   - its nonce used by another Safe transaction: rejected, it can never execute
//     (ErrTypeGovRejected);
//   - the approvals valid now do not meet the threshold: more approvals can lift it
//     (ErrTypeGovNotApproved), and the release waits for them;
//   - any other refusal by the Safe (GS013: the call it makes fails, …): the release fails
//     saying so (GovernanceExecRefused).
//
// Other errors (a read that failed) are returned as they are, retried.
func (c *Contracts) govRefusal(ctx context.Context, b chain.Backend, op string, p *safe.Proposal, err error) error {
	var r *safe.Refusal
	switch {
	case op == release.OpGovExecSafe && errors.Is(err, safe.ErrNonceUsed):
		if pr, perr := safe.ReadProgress(ctx, b, p, nil); perr == nil && phaseRank[pr.Phase] >= phaseRank[safe.PhaseScheduled] {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("Safe tx %s already executed (phase %s): the owners executed it themselves", p.SafeTxHash.Hex(), pr.Phase),
				release.ErrTypeGovExecutedElsewhere, err)
		}
		return temporal.NewNonRetryableApplicationError(err.Error()+": the owners used the nonce for another Safe transaction (rejected)", release.ErrTypeGovRejected, err)
	case errors.Is(err, safe.ErrNonceUsed):
		return temporal.NewNonRetryableApplicationError(err.Error()+": the owners used the nonce for another Safe transaction (rejected)", release.ErrTypeGovRejected, err)
	case errors.Is(err, safe.ErrNotApproved):
		return temporal.NewNonRetryableApplicationError(err.Error()+": the approvals valid now do not meet the threshold; waiting for approvals again", release.ErrTypeGovNotApproved, err)
	case errors.As(err, &r):
		return temporal.NewNonRetryableApplicationError(err.Error(), release.ErrTypeGovExecRefused, err)
	}
	return err
}

// explainGovRevert is Confirm's error for a mined revert of a governed execution of a Safe
// transaction (exec-safe, exec-cancel): why, read from the chain now (safe.ExplainRevert).
// The worker's transaction is spent; the Safe's nonce is not (a reverted execTransaction
// leaves it), which is what lets the release wait for approvals and execute again under a new
// operation key. A transaction that is not such an execution keeps txErr.
func (c *Contracts) explainGovRevert(ctx context.Context, b chain.Backend, tx release.ContractTx, txErr error) error {
	var (
		t      safe.SafeTx
		hash   common.Hash
		sigs   []safe.Signature
		p      *safe.Proposal
		err    error
		reason = txErr.Error()
	)
	switch tx.Op {
	case release.OpGovExecSafe:
		if p, err = proposal(tx.Proposal); err != nil {
			return err
		}
		if sigs, err = offChainSignatures(p.SafeTxHash, tx.Signatures); err != nil {
			return err
		}
		t, hash = p.SafeTx, p.SafeTxHash
	case release.OpGovCancel, release.OpGovReject:
		cn, err := cancellation(tx.Proposal)
		if err != nil {
			return err
		}
		t, hash = cn.SafeTx, cn.SafeTxHash
	default:
		return temporal.NewNonRetryableApplicationError(reason, "TxFailed", txErr)
	}
	err = safe.ExplainRevert(ctx, b, t, hash, sigs, reason)
	if p == nil {
		p = &safe.Proposal{SafeTx: t, SafeTxHash: hash}
	}
	return c.govRefusal(ctx, b, tx.Op, p, fmt.Errorf("%s: %w", reason, err))
}

// recordGoverned proves what a governed execution left on chain: the Safe transaction has
// scheduled both operations, or the proxy's EIP-1967 slot holds the implementation the
// executed operation points it at (written to the deployment records like any switch).
func (c *Contracts) recordGoverned(ctx context.Context, b chain.Backend, step release.ContractTxStep) (release.ContractDeployment, error) {
	tx := step.Tx
	if tx.Op == release.OpGovCancel || tx.Op == release.OpGovReject {
		return c.recordCancel(ctx, b, step)
	}
	p, err := proposal(tx.Proposal)
	if err != nil {
		return release.ContractDeployment{}, err
	}
	if tx.Op != release.OpGovExecSafe {
		return release.ContractDeployment{}, errors.New("recordGoverned: execute operations are recorded as proxy switches")
	}
	pr, err := safe.ReadProgress(ctx, b, p, nil)
	if err != nil {
		return release.ContractDeployment{}, err
	}
	if phaseRank[pr.Phase] < phaseRank[safe.PhaseScheduled] || pr.Revert == safe.OpUnset {
		return release.ContractDeployment{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("Safe tx %s executed in %s, but the timelock operations are %s/%s (phase %s)",
			p.SafeTxHash.Hex(), step.Signed.Hash, pr.Upgrade, pr.Revert, pr.Phase), "GovernanceMismatch", nil)
	}
	return release.ContractDeployment{Chain: tx.Chain.Name, ChainID: tx.Chain.ChainID, Contract: tx.Contract.Name, Op: tx.Op, Kind: "safe-tx",
		Address: p.SafeTx.Safe.Hex(), TxHash: step.Signed.Hash, Nonce: step.Signed.Nonce, Block: step.Receipt.Block,
		Confirmations: step.Receipt.Confirmations, CodeHash: p.SafeTxHash.Hex(), At: time.Now().UTC()}, nil
}

// cancellation decodes a cancellation carried through history and checks that its fields
// still hash to the safeTxHash the owners approved.
func cancellation(raw json.RawMessage) (*safe.Cancellation, error) {
	var cn safe.Cancellation
	if err := json.Unmarshal(raw, &cn); err != nil || (len(cn.Ops) == 0 && !cn.Rejection()) {
		return nil, temporal.NewNonRetryableApplicationError("governed cancellation: not a cancellation", "BadProposal", err)
	}
	if h, err := cn.SafeTx.Hash(); err != nil || h != cn.SafeTxHash {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("governed cancellation %s: its fields hash to %s: refusing a changed transaction", cn.SafeTxHash.Hex(), h.Hex()), "BadProposal", err)
	}
	return &cn, nil
}

// ProposeCancel builds the Safe transaction that cancels what an aborted release left in the
// timelock: cancel(id) of each of the proposal's operations still pending, at the Safe's
// current nonce. It sends nothing: the owners approve it as they approved the proposal. With
// nothing pending (the Safe transaction never executed) it returns an empty result, or, asked
// to (req.Reject) while the proposal's nonce is unused, the proposal's rejection: the Safe
// transaction at that nonce that does nothing (Rejection set), since an owner could still
// execute the proposal with one more approval and their own sender.
func (c *Contracts) ProposeCancel(ctx context.Context, req release.GovernanceCancelRequest) (release.GovernanceProposal, error) {
	p, b, err := onChain(ctx, c, req.Chain, req.Proposal, proposal)
	if err != nil {
		return release.GovernanceProposal{}, err
	}
	// where the proposal stands first: an abort while the owners approve tells "nobody
	// executed it" from "the Safe executed it as the release stopped" (read before the
	// operations, so a Safe transaction landing in between shows as pending operations)
	pr, err := safe.ReadProgress(ctx, b, p, nil)
	if err != nil {
		return release.GovernanceProposal{}, fmt.Errorf("governed proposal %s: %w", p.SafeTxHash.Hex(), err)
	}
	cn, err := safe.ProposeCancel(ctx, b, p)
	if err != nil {
		return release.GovernanceProposal{}, err
	}
	if cn == nil && req.Reject && (pr.Phase == safe.PhaseAwaitingApprovals || pr.Phase == safe.PhaseApproved) {
		// not executed: the rejection at its nonce is what stops an owner executing it later
		if cn, err = safe.ProposeReject(ctx, b, p); err != nil {
			return release.GovernanceProposal{}, err
		}
	}
	if cn == nil {
		return release.GovernanceProposal{Contract: p.Request.Contract, Chain: req.Chain.Name, Phase: string(pr.Phase)}, nil
	}
	raw, err := json.Marshal(cn)
	if err != nil {
		return release.GovernanceProposal{}, err
	}
	if c.Log != nil {
		c.Log.Info("governed cancellation proposed", zap.String("chain", req.Chain.Name), zap.String("of", p.SafeTxHash.Hex()),
			zap.String("phase", string(pr.Phase)), zap.String("safeTxHash", cn.SafeTxHash.Hex()), zap.Uint64("safeNonce", cn.SafeTx.Nonce))
	}
	return release.GovernanceProposal{Contract: p.Request.Contract, Chain: req.Chain.Name, SafeTxHash: cn.SafeTxHash.Hex(), SafeNonce: cn.SafeTx.Nonce,
		Proposal: raw, Summary: cn.Summary(), Phase: string(pr.Phase), Rejection: cn.Rejection()}, nil
}

// watchCancel is Watch for a cancellation: until the owners' approvals meet the threshold,
// or they executed it themselves (cancelled); the Safe using its nonce otherwise is rejected.
func (c *Contracts) watchCancel(ctx context.Context, req release.GovernanceWatchRequest) (release.GovernanceProgress, error) {
	cn, b, err := onChain(ctx, c, req.Chain, req.Proposal, cancellation)
	if err != nil {
		return release.GovernanceProgress{}, err
	}
	poll := c.pollInterval()
	for {
		pr, err := safe.CancelProgress(ctx, b, cn)
		if err != nil {
			return release.GovernanceProgress{}, fmt.Errorf("governed cancellation %s: %w", cn.SafeTxHash.Hex(), err)
		}
		out := release.GovernanceProgress{Phase: string(pr.Phase), Threshold: pr.Threshold}
		for _, a := range pr.Approved {
			out.Approved = append(out.Approved, a.Hex())
		}
		switch pr.Phase {
		case safe.PhaseRejected:
			return out, temporal.NewNonRetryableApplicationError(fmt.Sprintf("governed cancellation %s (Safe nonce %d): the Safe used its nonce for another transaction", cn.SafeTxHash.Hex(), cn.SafeTx.Nonce), "GovernanceRejected", nil)
		case safe.PhaseApproved, safe.PhaseCancelled:
			return out, nil
		}
		beat := fmt.Sprintf("cancellation %s: %d of %d approvals", pr.Phase, len(pr.Approved), pr.Threshold)
		if pr.Refused != "" {
			beat += "; counted, but the Safe would refuse them: " + pr.Refused
		}
		activity.RecordHeartbeat(ctx, beat)
		if c.OnPoll != nil {
			c.OnPoll()
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// recordCancel proves the cancellation executed: every operation it names is unset again.
func (c *Contracts) recordCancel(ctx context.Context, b chain.Backend, step release.ContractTxStep) (release.ContractDeployment, error) {
	tx := step.Tx
	cn, err := cancellation(tx.Proposal)
	if err != nil {
		return release.ContractDeployment{}, err
	}
	done, err := cn.Cancelled(ctx, b)
	if err != nil {
		return release.ContractDeployment{}, err
	}
	if !done {
		return release.ContractDeployment{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("Safe tx %s executed in %s, but the timelock still holds the operations it cancels (or, a rejection, the Safe's nonce did not move)", cn.SafeTxHash.Hex(), step.Signed.Hash), "GovernanceMismatch", nil)
	}
	return release.ContractDeployment{Chain: tx.Chain.Name, ChainID: tx.Chain.ChainID, Contract: tx.Contract.Name, Op: tx.Op, Kind: "safe-tx",
		Address: cn.SafeTx.Safe.Hex(), TxHash: step.Signed.Hash, Nonce: step.Signed.Nonce, Block: step.Receipt.Block,
		Confirmations: step.Receipt.Confirmations, CodeHash: cn.SafeTxHash.Hex(), At: time.Now().UTC()}, nil
}

// offChainSignatures decodes owners' signatures carried through history, each checked again
// to recover to the owner it names over hash (the workflow accepted it after
// CheckSignature; this refuses one changed since).
func offChainSignatures(hash common.Hash, in []release.SafeSignature) ([]safe.Signature, error) {
	out := make([]safe.Signature, 0, len(in))
	for _, s := range in {
		sig, err := hexutil.Decode(s.Signature)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("signature of %s: not hex", s.Owner), "BadSignature", err)
		}
		signer, err := safe.RecoverSigner(hash, sig)
		if err != nil || signer != common.HexToAddress(s.Owner) {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("signature of %s over safeTxHash %s recovers to %s (%v)", s.Owner, hash.Hex(), signer.Hex(), err), "BadSignature", err)
		}
		out = append(out, safe.Signature{Owner: signer, Sig: sig})
	}
	return out, nil
}

// CheckSignature is the workflow's check of an owner's signature handed in through the CLI:
// the proposal still hashes to its safeTxHash, the signature recovers over that hash, and the
// signer is a current owner of the Safe. A signature by another key, or over other bytes
// (another proposal, changed fields), recovers to someone who is not an owner and is refused,
// not retried.
func (c *Contracts) CheckSignature(ctx context.Context, req release.GovernanceSignatureRequest) (release.SafeSignature, error) {
	p, err := proposal(req.Proposal)
	if err != nil {
		return release.SafeSignature{}, err
	}
	sig, err := hexutil.Decode(req.Signature)
	if err != nil {
		return release.SafeSignature{}, temporal.NewNonRetryableApplicationError("the signature is not hex (want 65 bytes r‖s‖v, 0x-prefixed)", "BadSignature", err)
	}
	signer, err := safe.RecoverSigner(p.SafeTxHash, sig)
	if err != nil {
		return release.SafeSignature{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadSignature", err)
	}
	b, err := c.dial(ctx, req.Chain)
	if err != nil {
		return release.SafeSignature{}, err
	}
	owners, err := safe.Owners(ctx, b, p.SafeTx.Safe)
	if err != nil {
		return release.SafeSignature{}, err
	}
	if !slices.Contains(owners, signer) {
		return release.SafeSignature{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the signature recovers to %s, who is not an owner of Safe %s: signed by another key, or over other bytes than safeTxHash %s",
			signer.Hex(), p.SafeTx.Safe.Hex(), p.SafeTxHash.Hex()), "BadSignature", nil)
	}
	return release.SafeSignature{Owner: signer.Hex(), Signature: hexutil.Encode(sig)}, nil
}
