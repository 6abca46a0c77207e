package release

import "time"

// Signals lists every signal the workflow accepts.
var Signals = []string{SignalApprove, SignalReject, SignalPause, SignalResume, SignalRecheck,
	SignalAbort, SignalRollback, SignalReportIssue, SignalResolveIssue, SignalBreakGlass, SignalClearRejection, SignalOverride, SignalSafeSign}

// Channels a signal can come by.
const (
	ChannelCLI   = "cli"
	ChannelSlack = "slack"
	ChannelAuto  = "shipgate" // decisions the workflow takes itself
)

// Command is the payload of every signal: who asks, by which channel, and what.
type Command struct {
	Actor       string `json:"actor"`
	Channel     string `json:"channel"`
	Check       string `json:"check,omitempty"`       // approve, reject, clear-rejection
	Gate        string `json:"gate,omitempty"`        // recheck (empty: every blocked gate)
	Window      string `json:"window,omitempty"`      // break-glass, override
	Reason      string `json:"reason,omitempty"`      // reject, clear-rejection, abort, rollback, break-glass, pause
	Comment     string `json:"comment,omitempty"`     // approve
	Severity    string `json:"severity,omitempty"`    // report-issue
	Title       string `json:"title,omitempty"`       // report-issue
	Issue       int    `json:"issue,omitempty"`       // resolve-issue
	Fingerprint string `json:"fingerprint,omitempty"` // what the approver saw (Slack)
	To          string `json:"to,omitempty"`          // rollback, restore: the version to point production at
	// safe-sign: the safeTxHash the owner signed (as the CLI recomputed it from the proposal's
	// fields) and the owner's EIP-712 signature of it, 65 bytes in hex.
	SafeTxHash    string `json:"safeTxHash,omitempty"`
	SafeSignature string `json:"safeSignature,omitempty"`
	// Evidence is new evidence a recheck brings, by check: blobs the CLI uploaded to the
	// evidence store (recheck --evidence CHECK=PATH). Signed with the rest of the command.
	Evidence map[string][]Blob `json:"evidence,omitempty"`

	// Start only: the worker policy the release runs under and the manifest's digest.
	Policy   string `json:"policy,omitempty"`
	Manifest string `json:"manifest,omitempty"`

	// Proof (auth.go): the release and run the command is addressed to, when and with which
	// nonce it was issued, and the SSH signature over its Statement.
	Release   string    `json:"release,omitempty"`
	Run       string    `json:"run,omitempty"`
	IssuedAt  time.Time `json:"issuedAt,omitzero"`
	Nonce     string    `json:"nonce,omitempty"`
	Signature string    `json:"signature,omitempty"`
}

// Decide is the update form of a signal: its name and command.
type Decide struct {
	Signal  string  `json:"signal"`
	Command Command `json:"command"`
}

// Input starts a release workflow. It carries no secrets (keys and tokens stay in the worker)
// and no policy: it names one of the worker's (PolicyName), and the workflow obtains it from
// the worker and records it with its digest. Start is the signed start command; the workflow
// refuses to run without one from a member the policy lets start releases.
type Input struct {
	Manifest   Manifest `json:"manifest"`
	PolicyName string   `json:"policyName,omitempty"`
	Start      *Command `json:"start,omitempty"`

	// Policy, PolicyDigest and StartedBy are how releases started before platform-owned
	// policies carried them; such histories still replay. A new release that carries a
	// policy is refused.
	Policy       *Policy `json:"policy,omitempty"`
	PolicyDigest string  `json:"policyDigest,omitempty"`
	StartedBy    string  `json:"startedBy,omitempty"`
}

// PolicyRequest asks the worker for one of its policies by name.
type PolicyRequest struct {
	Name string `json:"name"`
}

// PolicyResult is a worker policy, validated by the worker, with the digest it computed.
type PolicyResult struct {
	Name   string `json:"name"`
	Policy Policy `json:"policy"`
	Digest string `json:"digest"`
}

// Result is how a release ended.
type Result struct {
	State  State  `json:"state"`
	Stage  Stage  `json:"stage"`
	Reason string `json:"reason,omitempty"`
}

// Status is what the status query answers: everything a person needs to see where a release
// is and why it waits.
type Status struct {
	ID         string   `json:"id"`
	Service    string   `json:"service"`
	Version    string   `json:"version"`
	Previous   string   `json:"previousVersion"`
	Author     string   `json:"author"`
	Stage      Stage    `json:"stage"`
	State      State    `json:"state"`
	Reason     string   `json:"reason,omitempty"` // why blocked, paused or ended
	WaitingFor []string `json:"waitingFor,omitempty"`
	// Lane says whom the release waits for in its service's production lane (lane.go);
	// LaneMode is how it asked for the lane (its policy's rollout.concurrency).
	Lane           string         `json:"lane,omitempty"`
	LaneMode       string         `json:"laneMode,omitempty"`
	Gates          []GateStatus   `json:"gates"`
	Windows        []WindowStatus `json:"windows"`
	TrafficPercent float64        `json:"trafficPercent"`
	RollbackPlan   *RollbackPlan  `json:"rollbackPlan,omitempty"`
	Deployments    []Deployment   `json:"deployments,omitempty"`
	// Contracts lists every contract transaction of the release, verified: chain, contract,
	// address, tx, block, confirmations, code hash, and where a proxy points.
	Contracts []ContractDeployment `json:"contracts,omitempty"`
	// Governance lists the governed upgrades: what the Safe owners sign and where each stands.
	Governance   []GovernedUpgrade `json:"governance,omitempty"`
	Issues       []Issue           `json:"issues"`
	Audit        []AuditEntry      `json:"audit"`
	PolicyDigest string            `json:"policyDigest"`
	// Execution is how the workflow execution ended when the release did not end it itself
	// (terminated, timed_out, failed, canceled): its last published stage and state are then
	// only where it was, not how it ended. Set by the client from Temporal, never by the
	// workflow.
	Execution string `json:"execution,omitempty"`
	// PolicyName is the worker policy the release runs under (empty for releases started
	// before platform-owned policies).
	PolicyName string          `json:"policyName,omitempty"`
	Paused     bool            `json:"paused"`
	BreakGlass []BreakGlassRec `json:"breakGlass,omitempty"`
	// Analyses are the canary and production-step analyses: running ones say so, finished ones
	// carry their decision and the last verdict of every metric.
	Analyses []AnalysisOutcome `json:"analyses,omitempty"`
	// Hold is what holds the release's promotion now: a promotion window or the stopped line.
	Hold *HoldStatus `json:"hold,omitempty"`
	// Line is the stop-the-line state of the release's policy, as last relayed and verified.
	Line *LineStatus `json:"line,omitempty"`
	// Overrides are the release managers' requests to let the release through a window.
	Overrides []OverrideRec `json:"overrides,omitempty"`
}

// GateState is where a gate stands.
type GateState string

// Gate states.
const (
	GatePending GateState = "pending" // its stage has not come yet
	GateRunning GateState = "running" // automated checks running
	GateWaiting GateState = "waiting" // waiting for signoffs
	GateBlocked GateState = "blocked" // a check failed or was rejected
	GatePassed  GateState = "passed"
)

// CheckState is where a check stands.
type CheckState string

// Check states.
const (
	CheckPending  CheckState = "pending"
	CheckRunning  CheckState = "running"
	CheckPassed   CheckState = "passed"
	CheckFailed   CheckState = "failed"
	CheckError    CheckState = "error"
	CheckRejected CheckState = "rejected"
	CheckSkipped  CheckState = "skipped" // its when condition does not hold
)

// GateStatus is one gate and its checks.
type GateStatus struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Before Stage         `json:"before"`
	State  GateState     `json:"state"`
	Checks []CheckStatus `json:"checks"`
}

// CheckStatus is one check's latest result.
type CheckStatus struct {
	Name      string           `json:"name"`
	Kind      CheckKind        `json:"kind"`
	Type      string           `json:"type,omitempty"`
	State     CheckState       `json:"state"`
	Detail    string           `json:"detail,omitempty"`
	Applies   string           `json:"appliesBecause,omitempty"`
	Group     string           `json:"group,omitempty"`
	Needed    int              `json:"needed,omitempty"`
	Approvals []Approval       `json:"approvals"`
	Evidence  []EvidenceDigest `json:"evidence,omitempty"`
	Attempt   int              `json:"attempt,omitempty"`
	// RejectedBy is the member whose rejection stands; only they, or a release manager who
	// is not the author, may clear it.
	RejectedBy string `json:"rejectedBy,omitempty"`
}

// Approval is one person's approval of a signoff check.
type Approval struct {
	Actor   string    `json:"actor"`
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
}

// EvidenceDigest names exactly what an automated check read.
type EvidenceDigest struct {
	Location string `json:"location"`
	SHA256   string `json:"sha256"`
	Bytes    int64  `json:"bytes"`
}

// WindowState is where a window stands.
type WindowState string

// Window states.
const (
	WindowPending WindowState = "pending"
	WindowOpen    WindowState = "open"
	WindowDone    WindowState = "done"
	WindowBroken  WindowState = "broken-glass" // ended early by two release managers
)

// WindowStatus is a durable wait with its deadline.
type WindowStatus struct {
	Name string `json:"name"`
	// Stage is the stage the window belongs to, recorded when the window is created: leaving
	// that stage waits for it. Empty in statuses recorded before it was.
	Stage     Stage       `json:"stage,omitempty"`
	StartedAt time.Time   `json:"startedAt"`
	EndsAt    time.Time   `json:"endsAt"`
	State     WindowState `json:"state"`
	Policy    string      `json:"policy"`          // the policy's duration
	Floor     string      `json:"floor,omitempty"` // the seed's floor when the policy is below it
	Note      string      `json:"note,omitempty"`
}

// RollbackPlan is recorded before any traffic moves.
type RollbackPlan struct {
	TargetVersion string    `json:"targetVersion"`
	Environment   string    `json:"environment"`
	RecordedAt    time.Time `json:"recordedAt"`
	Contracts     []string  `json:"contracts,omitempty"` // what can and cannot be rolled back on chain
}

// Deployment is one deploy of the service or a contract.
type Deployment struct {
	Kind        string    `json:"kind"` // service | contract
	Environment string    `json:"environment"`
	Version     string    `json:"version,omitempty"`
	Percent     float64   `json:"percent,omitempty"`
	At          time.Time `json:"at"`
	Chain       string    `json:"chain,omitempty"`
	Contract    string    `json:"contract,omitempty"`
	Address     string    `json:"address,omitempty"`
	TxHash      string    `json:"txHash,omitempty"`
}

// Issue is a problem reported against the release (e.g. from community testing on testnet).
type Issue struct {
	N          int        `json:"n"`
	Severity   string     `json:"severity"`
	Title      string     `json:"title"`
	ReportedBy string     `json:"reportedBy"`
	ReportedAt time.Time  `json:"reportedAt"`
	ResolvedBy string     `json:"resolvedBy,omitempty"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
}

// Blocking reports whether an open issue blocks promotion out of the testnet.
func (i Issue) Blocking() bool {
	return i.ResolvedAt == nil && (i.Severity == "critical" || i.Severity == "high")
}

// Severities an issue may have.
var Severities = []string{"critical", "high", "medium", "low"}

// BreakGlassRec is one release manager's break-glass request for a window.
type BreakGlassRec struct {
	Window string    `json:"window"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// AuditEntry is one decision or attempt, accepted or refused, with the reason.
type AuditEntry struct {
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Channel  string    `json:"channel"`
	Action   string    `json:"action"`
	Target   string    `json:"target,omitempty"`
	Accepted bool      `json:"accepted"`
	Reason   string    `json:"reason,omitempty"`
	Evidence []string  `json:"evidence,omitempty"` // digests of what a decision read
	// Detail is the decided check's state after an accepted signoff ("1 of 2 approvals"), so
	// the decider can tell the person without asking for the whole status.
	Detail string `json:"detail,omitempty"`
}
