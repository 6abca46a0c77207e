package workflows

// Every workflow.GetVersion change id of shipgate's workflows, in one place. A change id names
// one change that alters the commands a workflow issues; each asks for version 1 beside
// workflow.DefaultVersion, the behaviour of executions started before the change.
//
// Beside each: the recorded history under testdata/histories that introduced it (the first
// one recorded with its marker), listed in versionHistories, which TestVersionHistories checks
// against the histories themselves. Histories recorded before a change replay its
// DefaultVersion branch. When and how an old branch may go: docs/versioning.md.
const (
	// versionCanaryAnalysis: the canary and every production step are watched by an
	// AnalysisWorkflow child when the policy has an analysis (startAnalysis).
	versionCanaryAnalysis = "canary-analysis"

	// versionAlertWatch (in AnalysisWorkflow): each interval's activity starts with the
	// interval's timer and watches the SLO alerts while the timer runs, so a firing alert rolls
	// back before the interval ends; failing verdicts are notified; the run keeps a compact
	// interval log for status.
	versionAlertWatch = "analysis-alert-watch"

	// versionSignoffMessages: the Slack signoff messages; releases started before it neither
	// post nor update them.
	versionSignoffMessages = "slack-signoff-messages"

	// versionContracts: the release deploys the manifest's contracts; releases recorded before
	// contract support had none. Asked only by releases with contracts.
	versionContracts = "contracts"

	// versionSignedCommands: the release obtains its policy from the worker, verifies its
	// signed start and every command's signature, and keeps separation of duties (recheck
	// never clears a rejection). Histories without the marker run as before: policy from the
	// input, commands by claimed actor.
	versionSignedCommands = "signed-commands"

	// versionWayOut: every way out of a release takes the way back. A failure or a
	// cancellation after traffic moved returns traffic and reverts proxies before the release
	// closes; a way back that fails keeps the release open (rollback_failed), retrying;
	// cancellation ends the workflow canceled; issues in the canary and production roll back
	// (critical) or hold (high). Histories without the marker run as before.
	versionWayOut = "way-out"

	// versionServiceLane: a release enters its service's production lane before its canary
	// and leaves it when it ends, takes its rollback target from what the lane says is live,
	// and may be superseded. Histories without the marker move traffic without a lane.
	versionServiceLane = "service-lane"

	// versionPromotionWindows: the release joins its policy's line when it starts, and leaving
	// a stage and every production traffic increase wait for the policy's promotion windows and
	// an unfrozen line. Histories without the marker run as before.
	versionPromotionWindows = "promotion-windows"

	// versionEvidenceStore: a release's evidence and contract artifacts are blobs in the
	// evidence store, never paths or URLs; from this version on, an input that names a
	// location is refused at the start. Releases started before replay as they ran (their
	// inputs hold absolute paths, which the worker no longer opens).
	versionEvidenceStore = "evidence-store"

	// versionSettleSteps: a contract step cut short (a cancellation, exhausted retries) is
	// settled by the way back, and a proxy switch among them reverted. Before it, a
	// cancellation while a switch was in flight left the proxy on the new implementation after
	// the release ended, and one between a step's signing and its broadcast left a signed
	// transaction abandoned, so that every later transaction of the deployer on that chain
	// waited behind its nonce forever (both found by the chaos suite). Asked at a release's
	// first contract step.
	versionSettleSteps = "settle-contract-steps"

	// versionGoverned: a proxy on a governed chain is switched through the chain's Safe and
	// timelock (governedSwitch) instead of the worker's key. Releases recorded before it never
	// switched a governed proxy (validation refused them), so the marker is asked only on the
	// governed path and no older history meets it.
	versionGoverned = "governed-upgrades"

	// versionGovernedMainnet: a production policy must govern its mainnet to switch proxies
	// there (release.GovernedMainnet); asked only when a release breaks the rule, so it
	// changes no history of a release the rule admits. No recorded history: such a release is
	// refused at its start (TestProductionRefusesProxyOnUngovernedMainnet).
	versionGovernedMainnet = "governed-mainnet"

	// versionGovernedCancel: a release stopped during the timelock delay asks the Safe to
	// cancel the operations it scheduled, and executes the cancellation once the owners
	// approve it; before, it only told the owners to.
	versionGovernedCancel = "governed-cancel"

	// versionLocalActivities: the short calls a release makes — reading the policy, evaluating
	// an evidence check (bytes from the store and a parser), posting a notice or a signoff
	// message — run as local activities: each is one marker in the workflow task that asked for
	// it, instead of an activity task the server schedules, dispatches through matching, starts
	// and completes (three events and a further workflow task each). Measured with
	// bench/releases: ~20 of a release's ~23 activities through G1 and G3 were these. What
	// stays a regular activity is what may run long or must survive its worker on its own:
	// deploys and traffic (SetTraffic), contracts, probes that measure a window, the analysis,
	// joining the policy's line and the production lane. Releases started before replay as
	// they ran.
	versionLocalActivities = "local-activities"

	// versionStartAge: a signed start's age is measured at the time the server recorded the
	// start, not at the release's first workflow task. With a backlog of workflow tasks
	// (measured with bench/releases: 1,000 releases started in two minutes on a starved dev
	// server) the first task ran more than CommandMaxAge after the start was signed, and 23 %
	// of the releases were refused as expired. The server's start time is as good a witness
	// against a replayed start: a start sent again later is recorded later.
	versionStartAge = "start-age"

	// versionGovernedOwnersExecuted: the owners executing the approved Safe transaction themselves
	// is the Safe transaction executed, not a failed release; before, the worker's execTransaction
	// was refused (nonce used) and the release failed with its operations scheduled.
	versionGovernedOwnersExecuted = "governed-owners-executed"

	// versionGovernedAbortRace: a release stopped while the owners approve reads the chain before
	// it calls the proposal withdrawn. Owners may execute an approved Safe transaction themselves,
	// at the very moment of the abort or any time after; before, the release said "nothing was
	// scheduled" without looking and left the operations in the timelock.
	versionGovernedAbortRace = "governed-abort-race"

	// versionGovernedSignatures (asked only when a safe-sign command arrives): owners' off-chain
	// EIP-712 signatures, handed in through the CLI, count toward the threshold with approveHash;
	// each arrival checks the signature in an activity and restarts the approval watch with it.
	versionGovernedSignatures = "governed-signatures"

	// versionGovernedExecRefused (asked only when the Safe refuses a governed execution): the
	// Safe refusing the worker's execTransaction because the approvals valid at execution no
	// longer meet its threshold (an approving owner removed, the threshold raised: GS020,
	// GS025, GS026) sends the release back to waiting for approvals, with the refusal in
	// status, and the next execution signs under an operation key of its own; a refused
	// cancellation likewise waits for its approvals again. Any refusal of an execution (also
	// the nonce used by another Safe transaction) leaves no step for the way out to settle.
	// Before, the refusal failed the release and the way out settled the refused step round
	// after round, forever.
	versionGovernedExecRefused = "governed-exec-refused"

	// versionGovernedRejectOnAbort: a release stopped before the Safe executed its proposal
	// proposes the proposal's rejection (a Safe transaction at the same nonce from the Safe to
	// itself, value 0, no data), waits for the owners' approval of it as a window and executes
	// it, so that the proposal can never execute. Before, it called an unapproved proposal
	// withdrawn, and waited for an approved one's nonce to be used: either way an owner could
	// still execute the upgrade proposal after the abort (one more approveHash, their own sender).
	versionGovernedRejectOnAbort = "governed-reject-on-abort"

	// versionLocalJoin: joining the policy's line (the JoinLine update-with-start of the line
	// workflow) is a local activity in the release's first workflow task, beside its policy,
	// instead of an activity task and the further workflow task its completion schedules.
	// Measured with bench/releases on the cluster: the join was one of a release's three
	// activities and seven workflow tasks through G3, each a matching dispatch and two or three
	// database transactions. It may wait for a busy line, which a local activity can (the
	// worker heartbeats the workflow task); a worker that dies meanwhile loses the task, and the
	// next worker joins again (joining is idempotent). Releases started before replay as they ran.
	versionLocalJoin = "local-join"
)

// versionHistories names, for each change id, the recorded history (testdata/histories,
// without .json) that introduced it; "" for a change no history carries yet (its comment
// says why). TestVersionHistories checks both ways: each named history carries its marker,
// and every marker in a recorded history is a change id listed here.
var versionHistories = map[string]string{
	versionCanaryAnalysis:         "v3-canary-analysis",
	versionAlertWatch:             "analysis-v1-promote",
	versionSignoffMessages:        "v4-slack-signoffs",
	versionContracts:              "v7-contracts-crashes",
	versionSignedCommands:         "v8-signed-commands",
	versionWayOut:                 "v9-way-back",
	versionServiceLane:            "v10-service-lane",
	versionPromotionWindows:       "v10-promotion-windows",
	versionEvidenceStore:          "v10-evidence-store",
	versionSettleSteps:            "v10-settle-steps",
	versionGoverned:               "v12-governed-rollback",
	versionGovernedMainnet:        "",
	versionGovernedCancel:         "v12-governed-cancel",
	versionLocalActivities:        "v12-local-activities",
	versionStartAge:               "v12-start-age",
	versionGovernedOwnersExecuted: "v12-governed-owners-executed",
	versionGovernedAbortRace:      "v12-governed-abort-race",
	versionGovernedSignatures:     "v12-governed-signatures",
	versionGovernedExecRefused:    "v12-governed-exec-refused",
	versionGovernedRejectOnAbort:  "v12-governed-reject-on-abort",
	versionLocalJoin:              "v13-local-join",
}
