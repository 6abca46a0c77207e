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
)

// GovernedOp reports whether op is one of the governed executions.
func GovernedOp(op string) bool {
	return op == OpGovExecSafe || op == OpGovUpgrade || op == OpGovRevert
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
}

// Governance watch targets (GovernanceWatchRequest.Until).
const (
	WatchApproved = "approved" // the owners' approvals reach the threshold
	WatchReady    = "ready"    // the timelock delay is over
)

// GovernanceWatchRequest asks the watch activity to wait until a proposal reaches Until.
type GovernanceWatchRequest struct {
	Chain    Chain           `json:"chain"`
	Proposal json.RawMessage `json:"proposal"`
	Until    string          `json:"until"`
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
)

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
}
