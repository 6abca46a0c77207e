package release

// Every name shipgate gives Temporal, in one place: a name here is part of the wire contract
// between the CLI, the Slack bridge, the worker and the recorded histories, so none may change
// once a release has run with it.

// TaskQueue is the one task queue every shipgate workflow and activity runs on.
const TaskQueue = "shipgate"

// Registered workflow names.
const (
	ReleaseWorkflowName  = "ReleaseWorkflow"
	AnalysisWorkflowName = "AnalysisWorkflow"
	RestoreWorkflowName  = "RestoreWorkflow"
	// LaneWorkflowName is the workflow that holds a service's production lane.
	LaneWorkflowName = "ServiceLaneWorkflow"
	// LineWorkflowName is the workflow that holds a policy's stop-the-line state.
	LineWorkflowName = "LineWorkflow"
)

// Registered activity names.
const (
	ActivityEvaluateCheck = "EvaluateCheck"
	ActivitySetTraffic    = "SetTraffic"
	ActivityNotify        = "Notify"
	// ActivitySignoffMessage posts or updates the Slack message asking for one signoff.
	ActivitySignoffMessage = "SignoffMessage"
	ActivityAnalyze        = "AnalyzeInterval"
	ActivityLoadPolicy     = "LoadPolicy"

	ActivityContractsPlan      = "ContractsPlan"
	ActivityContractsSign      = "ContractsSign"
	ActivityContractsBroadcast = "ContractsBroadcast"
	ActivityContractsConfirm   = "ContractsConfirm"
	ActivityContractsRecord    = "ContractsRecord"
	ActivityGovernancePropose  = "GovernancePropose"
	ActivityGovernanceWatch    = "GovernanceWatch"
	// ActivityGovernanceCancel builds the Safe transaction that cancels an aborted release's
	// scheduled operations (TimelockController.cancel through the Safe).
	ActivityGovernanceCancel = "GovernanceProposeCancel"
	// ActivityGovernanceCheckSignature recovers an owner's off-chain signature of a proposal
	// and checks the signer is a current owner of the Safe.
	ActivityGovernanceCheckSignature = "GovernanceCheckSignature"

	ActivityLaneEnter  = "LaneEnter"
	ActivityLaneLeave  = "LaneLeave"
	ActivityLaneVerify = "LaneVerify"
	ActivityReadEnded  = "ReadEndedRelease"
	// ActivityJoinLine joins a release to its policy's line (UpdateWithStart of the line).
	ActivityJoinLine = "JoinLine"
)

// Signals a release receives: each carries a Command.
const (
	SignalApprove      = "approve"
	SignalReject       = "reject"
	SignalPause        = "pause"
	SignalResume       = "resume"
	SignalRecheck      = "recheck"
	SignalAbort        = "abort"
	SignalRollback     = "rollback"
	SignalReportIssue  = "report-issue"
	SignalResolveIssue = "resolve-issue"
	SignalBreakGlass   = "break-glass"
	// SignalSafeSign hands in a Safe owner's EIP-712 signature of a governed proposal: the
	// second way to approve it besides approveHash on chain.
	SignalSafeSign = "safe-sign"
	// SignalClearRejection lifts a signoff rejection: only the person who rejected, or a
	// release manager who is not the author, with a reason. recheck never does.
	SignalClearRejection = "clear-rejection"
	// SignalOverride: two release managers, neither the author, with reasons, let the release
	// through the window that holds it now (one occurrence of it).
	SignalOverride = "override"
	// SignalLine carries a relayed stop-the-line command (LineCommand) to a release.
	SignalLine = "line"
	// SignalLaneChanged tells a release that the lane changed: its turn may have come, or a
	// newer release supersedes it. It is a hint only.
	SignalLaneChanged = "lane-changed"
	// SignalLeave tells a line that a release (its id) has ended: the line stops relaying to it.
	SignalLeave = "leave"
)

// Queries.
const (
	// QueryStatus answers a release's Status (an analysis run's AnalysisOutcome, a restore's
	// Status).
	QueryStatus = "status"
	// QueryWayBack answers what a release's way back has to return (WayBack); it works on
	// an ended release too, whose worker replays its history to answer.
	QueryWayBack = "way-back"
	// QueryLane answers the lane's state (LaneState).
	QueryLane = "lane"
	// QueryLine answers with the line's state (LineState).
	QueryLine = "line"
)

// Updates.
const (
	// UpdateDecide carries any signal's command as an update (Decide) and answers with the
	// workflow's verdict (the audit entry), so a caller learns at once whether it was accepted.
	UpdateDecide = "decide"
	// UpdateLaneEnter asks for the lane (LaneEntry → LaneAnswer); asking again is harmless.
	UpdateLaneEnter = "lane-enter"
	// UpdateLaneLeave gives the lane up or leaves its queue (LaneEntry → LaneAnswer).
	UpdateLaneLeave = "lane-leave"
	// UpdateJoin adds a release to its line and answers with the line's state (LineState).
	UpdateJoin = "join"
	// UpdateLineCommand carries a freeze or unfreeze (LineCommand) to the line and answers with
	// the line's verdict (an AuditEntry).
	UpdateLineCommand = "line-command"
)

// Keyword search attributes a release sets, so releases can be listed by service, version,
// stage and state in the CLI and the UI; the worker registers them at start if missing.
const (
	SearchAttrService = "ReleaseService"
	SearchAttrVersion = "ReleaseVersion"
	SearchAttrStage   = "ReleaseStage"
	SearchAttrState   = "ReleaseState"
	// SearchAttrWaitsFor names the release a queued release waits for in its production lane.
	SearchAttrWaitsFor = "ReleaseWaitsFor"
)

// SearchAttrs lists the search attributes above, for registration.
var SearchAttrs = []string{SearchAttrService, SearchAttrVersion, SearchAttrStage, SearchAttrState, SearchAttrWaitsFor}
