package release

import (
	"encoding/json"
	"time"
)

// Governed upgrade activities (activities.Contracts). On a chain with governance the worker
// never switches a proxy with its own key: it proposes one Safe transaction that schedules the
// upgrade and its revert in the chain's timelock, waits for the owners and the delay, and then
// sends only executions (execTransaction, execute) through the four transaction activities
// under the usual exactly-once rules.

// Governed contract operations (ContractTx.Op), each signed at most once under its OpKey.
const (
	OpGovExecSafe = "exec-safe"       // execTransaction of the approved Safe transaction: schedules both operations
	OpGovUpgrade  = "execute-upgrade" // TimelockController.execute of the scheduled upgrade
	OpGovRevert   = "execute-revert"  // TimelockController.execute of the revert scheduled alongside
	OpGovCancel   = "exec-cancel"     // execTransaction of the approved cancellation: cancels both operations
	OpGovReject   = "exec-reject"     // execTransaction of the approved rejection: uses the proposal's Safe nonce
)

// ErrTypeGovExecutedElsewhere is the error type of a governed execSafe the worker did not
// send because the Safe transaction had already executed: its owners (anyone, once the
// threshold is met) executed it themselves. The operations are scheduled all the same.
const ErrTypeGovExecutedElsewhere = "GovernanceExecutedElsewhere"

// ErrTypeGovNotApproved is the error type of a governed execution (execSafe, or the execution
// of a cancellation) the Safe refuses, or would refuse, because the approvals valid at
// execution no longer meet its threshold (GS020/GS024/GS025/GS026, or too few counted): an
// approving owner removed, the threshold raised. The Safe transaction's nonce is still
// unused, so more approvals can make it execute: the release waits for them again, with the
// refusal in status. Not retried as it is: the same approvals meet the same refusal.
const ErrTypeGovNotApproved = "GovernanceNotApproved"

// ErrTypeGovRejected is the error type of a governed execution whose Safe nonce was used by
// another Safe transaction (the owners rejected it): it can never execute.
const ErrTypeGovRejected = "GovernanceRejected"

// ErrTypeGovExecRefused is the error type of a governed execution the Safe refuses for a
// reason other than the approvals or the nonce (GS013: the call it makes fails, …): the
// release fails saying so.
const ErrTypeGovExecRefused = "GovernanceExecRefused"

// GovernedOp reports whether op is one of the governed executions.
func GovernedOp(op string) bool {
	return op == OpGovExecSafe || op == OpGovUpgrade || op == OpGovRevert || op == OpGovCancel || op == OpGovReject
}

// SafeExecOp reports whether op is the worker's execTransaction of a Safe transaction (the
// proposal, its cancellation or its rejection), which the Safe may refuse.
func SafeExecOp(op string) bool {
	return op == OpGovExecSafe || op == OpGovCancel || op == OpGovReject
}

// GovernanceProposeRequest asks for the Safe transaction that upgrades one proxy.
type GovernanceProposeRequest struct {
	ReleaseID string   `json:"releaseId"`
	Chain     Chain    `json:"chain"`
	Contract  Contract `json:"contract"`
	Proxy     string   `json:"proxy"`
	Next      string   `json:"next"`     // this release's verified implementation
	Previous  string   `json:"previous"` // what the proxy runs now: the revert target
}

// GovernanceProposal is a proposed governed upgrade as it enters history: the proposal itself
// (internal/chain/safe.Proposal, carried opaque so that this package needs no chain code) and
// the facts owners check on their own devices.
type GovernanceProposal struct {
	Contract   string          `json:"contract"`
	Chain      string          `json:"chain"`
	SafeTxHash string          `json:"safeTxHash"`
	SafeNonce  uint64          `json:"safeNonce"`
	Delay      uint64          `json:"delaySeconds"`
	Proposal   json.RawMessage `json:"proposal"`
	Summary    []string        `json:"summary"`
	// Phase is where the proposal this one cancels stood on chain when the cancellation was
	// built (GovernanceProposeCancel only): an abort reads it to tell a proposal nobody
	// executed from one the Safe executed as the release stopped.
	Phase string `json:"phase,omitempty"`
	// Rejection: this is the rejection of a proposal the Safe has not executed (a Safe
	// transaction to the Safe itself at the proposal's nonce), not a cancellation.
	Rejection bool `json:"rejection,omitempty"`
}

// Governance watch targets (GovernanceWatchRequest.Until).
const (
	WatchApproved = "approved" // the owners' approvals reach the threshold
	WatchReady    = "ready"    // the timelock delay is over
	// WatchCancel: the owners approved the cancellation (GovernanceWatchRequest.Proposal holds
	// it), or executed it themselves (phase cancelled).
	WatchCancel = "cancel-approved"
	// WatchSettled: the Safe's nonce moved past the proposal's (it executed, or the owners used
	// the nonce for another transaction): after an abort of a proposal the owners had approved
	// but nobody had executed yet, which anyone could still execute.
	WatchSettled = "settled"
)

// GovernanceWatchRequest asks the watch activity to wait until a proposal reaches Until.
type GovernanceWatchRequest struct {
	Chain    Chain           `json:"chain"`
	Proposal json.RawMessage `json:"proposal"`
	Until    string          `json:"until"`
	// Signatures are owners' off-chain signatures, counted with the on-chain approvals.
	Signatures []SafeSignature `json:"signatures,omitempty"`
}

// SafeSignature is one owner's EIP-712 signature of a safeTxHash: 65 bytes [r ‖ s ‖ v] in
// hex, checked to recover to Owner, a current owner of the Safe.
type SafeSignature struct {
	Owner     string `json:"owner"`
	Signature string `json:"signature"`
}

// GovernanceSignatureRequest asks whom an owner's signature of a proposal's safeTxHash
// recovers to, and whether that is a current owner of the Safe.
type GovernanceSignatureRequest struct {
	Chain     Chain           `json:"chain"`
	Proposal  json.RawMessage `json:"proposal"`
	Signature string          `json:"signature"`
}

// GovernanceProgress is where a proposal stood when the watch returned.
type GovernanceProgress struct {
	Phase     string   `json:"phase"`
	Approved  []string `json:"approved,omitempty"`
	Threshold uint64   `json:"threshold"`
	ReadyAt   int64    `json:"readyAt,omitempty"` // unix seconds the upgrade becomes executable
}

// Governed upgrade phases in Status (besides the on-chain ones the watch reports).
const (
	GovProposed  = "awaiting-approvals"
	GovApproved  = "approved"
	GovScheduled = "scheduled"
	GovUpgraded  = "upgraded"
	GovReverted  = "reverted"
	GovRejected  = "rejected"
	// An abort before the Safe transaction executed: nothing was scheduled; owners must not
	// approve the proposal.
	GovWithdrawn = "withdrawn"
	// An abort during the timelock delay: the Safe is asked to cancel the scheduled operations
	// (cancelling), then they are cancelled; a cancellation the owners did not approve in time
	// leaves them scheduled (cancel-expired), for the Safe to cancel by hand.
	GovCancelling    = "cancelling"
	GovCancelled     = "cancelled"
	GovCancelExpired = "cancel-expired"
	// An abort before the Safe executed the proposal: the Safe is asked to reject it (a Safe
	// transaction at its nonce that does nothing), so that no owner can still execute it
	// (rejecting); once the rejection executes the proposal is rejected. A rejection the owners
	// did not approve in time leaves the proposal executable by them (reject-expired).
	GovRejecting     = "rejecting"
	GovRejectExpired = "reject-expired"
)

// GovernanceCancelRequest asks for the cancellation of a proposal's scheduled operations.
type GovernanceCancelRequest struct {
	Chain    Chain           `json:"chain"`
	Proposal json.RawMessage `json:"proposal"`
	// Reject asks, when the Safe has not executed the proposal (its nonce unused), for its
	// rejection instead of nothing.
	Reject bool `json:"reject,omitempty"`
}

// GovernedUpgrade is one governed upgrade in the release's status: the proposal's facts and
// where it stands.
type GovernedUpgrade struct {
	Contract   string    `json:"contract"`
	Chain      string    `json:"chain"`
	Phase      string    `json:"phase"`
	SafeTxHash string    `json:"safeTxHash"`
	SafeNonce  uint64    `json:"safeNonce"`
	Approvals  string    `json:"approvals,omitempty"` // "2 of 2: 0x…, 0x…"
	ReadyAt    time.Time `json:"readyAt,omitzero"`
	Summary    []string  `json:"summary"`
	// Proposal is the proposal itself (internal/chain/safe.Proposal as JSON): the Safe
	// transaction's fields, from which an owner's tool recomputes the safeTxHash it signs or
	// executes instead of trusting the one shown.
	Proposal json.RawMessage `json:"proposal,omitempty"`
	// Cancel is the Safe transaction that cancels the scheduled operations after an abort:
	// its safeTxHash and what the owners check (empty: none proposed).
	Cancel []string `json:"cancel,omitempty"`
	// CancelSafeTxHash is the cancellation's safeTxHash, the one the owners approve.
	CancelSafeTxHash string `json:"cancelSafeTxHash,omitempty"`
	// Stopped is what the chain said about the proposal when the release stopped before its
	// Safe transaction was known to have executed (empty: it did not stop there).
	Stopped string `json:"stopped,omitempty"`
	// Rejection is the Safe transaction that rejects the proposal after an abort (what the
	// owners check: Safe, nonce, safeTxHash); RejectionSafeTxHash its safeTxHash.
	Rejection           []string `json:"rejection,omitempty"`
	RejectionSafeTxHash string   `json:"rejectionSafeTxHash,omitempty"`
	// Refused is the Safe's latest refusal of the worker's execution for too few valid
	// approvals (Safe, nonce, safeTxHash, the GS code and its meaning): the release went back
	// to waiting for approvals (empty: never refused).
	Refused string `json:"refused,omitempty"`
}
