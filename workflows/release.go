// Package workflows holds shipgate's deterministic workflow code: the release stage machine,
// its gates, approvals, windows and rollback. It imports only internal/release and the SDK.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/promotion"
	"github.com/shipgate/shipgate/internal/release"
)

// Typed search attributes: the worker registers them at start if missing.
var (
	SearchService  = temporal.NewSearchAttributeKeyKeyword(release.SearchAttrService)
	SearchVersion  = temporal.NewSearchAttributeKeyKeyword(release.SearchAttrVersion)
	SearchStage    = temporal.NewSearchAttributeKeyKeyword(release.SearchAttrStage)
	SearchState    = temporal.NewSearchAttributeKeyKeyword(release.SearchAttrState)
	SearchWaitsFor = temporal.NewSearchAttributeKeyKeyword(release.SearchAttrWaitsFor)
)

// rel is one running release: its input, its policy, its status (the single source of truth
// the status query answers from) and the requests signals have left for the main flow.
type rel struct {
	in release.Input
	// pol is the policy the release runs under: the worker's, as recorded when the release
	// started (the input's own, for releases started before platform-owned policies).
	pol        *release.Policy
	st         release.Status
	belowFloor map[string]time.Duration
	// signed is set for releases started since commands are signed and policies come from the
	// worker (versionSignedCommands); older histories replay without it.
	signed bool
	// nonces are the nonces of the commands accepted within CommandMaxAge: a replayed
	// command is refused.
	nonces map[string]time.Time
	// forged counts the unauthenticated commands written to the audit log; past
	// forgedAuditCap they are refused before they reach history (signals.go).
	forged int
	// followers counts the coroutines keeping Slack signoff messages in step (signoffmsg.go).
	followers int
	// stop is set by abort or rollback (or, later, a failed analysis); the main flow acts on it.
	stop *release.AuditEntry
	// rechecks counts recheck requests per gate id; a blocked gate waits for its count to change.
	rechecks map[string]int
	// glass is the set of windows two release managers have broken glass for.
	glass map[string]bool
	// runKey makes idempotency keys unique per execution: a release started again under the same
	// id (after it ended) must move traffic again, not replay the earlier run's answers.
	runKey string
	// base is the state the main flow is in; status shows it folded with pause and blocked gates.
	base release.State
	// ct is what the release deployed on chain and can revert.
	ct contractsState
	// wayOut is set for releases started since every way out takes the way back
	// (versionWayOut); older histories replay without it.
	wayOut bool
	// goingBack is set while the way back runs; retryBack counts the rollback and abort
	// commands received meanwhile, each of which starts the next round at once.
	goingBack bool
	retryBack int
	// backStep is the way back's step under way, in words, for status.
	backStep string
	// govOpen are the governed proposals awaiting the owners, with the off-chain signatures
	// handed in for them (safe-sign); govSigned wakes the approval wait when one arrives.
	govOpen   []*govAwaiting
	govSigned workflow.Channel
	// backTo is the version a person pointed production at (rollback --to): the way back's
	// target instead of the recorded one.
	backTo string
	// laneOn is set for releases that take their service's production lane
	// (versionServiceLane); lane is where the release stands in it, laneHints counts the
	// lane's hints, laneLive is what the lane said production served when it was granted.
	laneOn    bool
	lane      laneRole
	laneHints int
	laneLive  string
	// laneRun is the run whose lane entry this is, when not this execution's (a restore).
	laneRun string
	// pr holds promotion for windows and the stopped line (promotion.go).
	pr promo
	// local is set for releases whose short calls are local activities (versionLocalActivities).
	local bool
}

// ReleaseWorkflow carries one release through every stage of its policy.
func ReleaseWorkflow(ctx workflow.Context, in release.Input) (release.Result, error) {
	m := in.Manifest
	w := &rel{
		in:       in,
		rechecks: map[string]int{},
		base:     release.StateRunning,
		runKey:   workflow.GetInfo(ctx).FirstRunID,
		glass:    map[string]bool{},
		nonces:   map[string]time.Time{},
		st: release.Status{
			ID: m.ID(), Service: m.Service, Version: m.Version, Previous: m.PreviousVersion,
			Author: m.Author, Stage: release.StageDevelopment, State: release.StateRunning,
			Issues: []release.Issue{}, Audit: []release.AuditEntry{},
		},
	}
	w.signed = workflow.GetVersion(ctx, versionSignedCommands, workflow.DefaultVersion, 1) >= 1
	w.wayOut = workflow.GetVersion(ctx, versionWayOut, workflow.DefaultVersion, 1) >= 1
	w.laneOn = workflow.GetVersion(ctx, versionServiceLane, workflow.DefaultVersion, 1) >= 1
	w.local = workflow.GetVersion(ctx, versionLocalActivities, workflow.DefaultVersion, 1) >= 1
	if err := workflow.SetQueryHandler(ctx, release.QueryStatus, func() (release.Status, error) {
		return w.st, nil
	}); err != nil {
		return release.Result{}, err
	}
	if err := workflow.SetQueryHandler(ctx, release.QueryWayBack, w.wayBackQuery); err != nil {
		return release.Result{}, err
	}
	if err := w.setDecideHandler(ctx); err != nil {
		return release.Result{}, err
	}
	workflow.Go(ctx, w.listen)
	if w.laneOn {
		workflow.Go(ctx, w.listenLane)
	}
	if !w.signed {
		w.pol = in.Policy
		w.init(in.PolicyDigest)
		w.audit(ctx, release.AuditEntry{Actor: in.StartedBy, Channel: release.ChannelCLI, Action: "start",
			Target: w.st.ID, Accepted: true, Reason: "policy " + in.PolicyDigest})
		w.publish(ctx)
		return w.run(ctx)
	}
	if res, refused := w.admit(ctx); refused {
		return res, nil
	}
	if res, done, err := w.joinLine(ctx); done {
		w.leaveLine(ctx)
		return res, err
	}
	res, err := w.run(ctx)
	w.leaveLane(disconnected(ctx))
	w.settleSignoffs(ctx)
	w.leaveLine(ctx)
	return res, err
}

// init builds the status from the policy: every gate and check, every window.
func (w *rel) init(digest string) {
	m := w.in.Manifest
	w.belowFloor = w.pol.BelowFloor()
	w.st.PolicyDigest = digest
	for _, g := range w.pol.Gates {
		gs := release.GateStatus{ID: g.ID, Name: g.Name, Before: g.Before, State: release.GatePending}
		for _, c := range g.Checks {
			cs := release.CheckStatus{Name: c.Name, Kind: c.Kind, Type: c.Type, State: release.CheckPending,
				Group: c.Group, Approvals: []release.Approval{}}
			applies, why := c.Applies(m.Changes)
			if !applies {
				cs.State, cs.Detail = release.CheckSkipped, "does not apply to this change"
			}
			cs.Applies = why
			if c.Kind == release.KindSignoff && applies {
				cs.Needed = c.Approvals
			}
			gs.Checks = append(gs.Checks, cs)
		}
		w.st.Gates = append(w.st.Gates, gs)
	}
	w.st.Windows = append(w.st.Windows, w.plannedWindow(release.WindowTestnetSoak, release.StageTestnet, w.pol.Windows.TestnetSoak))
	w.st.Windows = append(w.st.Windows, w.plannedWindow(release.WindowCanaryWatch, release.StageCanary, w.pol.Windows.CanaryWatchMin))
	for _, s := range w.pol.Rollout.Steps {
		w.st.Windows = append(w.st.Windows, w.plannedWindow(release.StepWindow(s.Percent), release.StageProduction, s.Bake))
	}
}

// run walks the stages. Each stage does its work (work), then waits until it may be left
// (awaitPromotion): the gates placed before the next stage have passed, its windows are over,
// nothing else blocks promotion (blockers) and it is not paused.
func (w *rel) run(ctx workflow.Context) (release.Result, error) {
	for _, stage := range release.Stages {
		w.enter(ctx, stage)
		if w.stop != nil {
			return w.finishStop(ctx)
		}
		w.startGates(ctx, stage)
		err := w.work(ctx, stage)
		if err != nil && w.stop != nil && errors.Is(err, errStopped) {
			return w.finishStop(ctx) // a governed wait the stop interrupted
		}
		if err != nil {
			return w.fail(ctx, err)
		}
		if w.stop != nil {
			return w.finishStop(ctx)
		}
		if err := w.awaitPromotion(ctx, stage); err != nil {
			return w.fail(ctx, err)
		}
		if w.stop != nil {
			return w.finishStop(ctx)
		}
	}
	w.st.Stage = release.StageDone
	w.setState(ctx, release.StateSucceeded, "released to 100 % of production")
	w.notify(ctx, release.NoticeDone, fmt.Sprintf("%s %s released to 100 %% of production", w.st.Service, w.st.Version))
	return release.Result{State: release.StateSucceeded, Stage: release.StageDone}, nil
}

func (w *rel) enter(ctx workflow.Context, stage release.Stage) {
	w.st.Stage = stage
	w.setState(ctx, release.StateRunning, "")
	w.notify(ctx, release.NoticeStage, fmt.Sprintf("%s %s entered %s", w.st.Service, w.st.Version, stage))
}

// startGates starts, alongside the stage's work, the gates placed before the next stage.
func (w *rel) startGates(ctx workflow.Context, stage release.Stage) {
	for i := range w.pol.Gates {
		if w.pol.Gates[i].Before == stage.Next() {
			gi := i
			workflow.Go(ctx, func(gctx workflow.Context) { w.runGate(gctx, gi) })
		}
	}
}

// work is what each stage does before the release may leave it: one method per stage.
func (w *rel) work(ctx workflow.Context, stage release.Stage) error {
	switch stage {
	case release.StageStaging:
		return w.runStaging(ctx)
	case release.StageTestnet:
		return w.runTestnet(ctx)
	case release.StageCanary:
		return w.runCanary(ctx)
	case release.StageProduction:
		return w.runProduction(ctx)
	}
	return nil // development: its gate (G1) judges the CI's evidence; nothing is deployed
}

// runStaging puts the version on all of staging's traffic, for QA, UAT and load tests.
func (w *rel) runStaging(ctx workflow.Context) error {
	return w.setTraffic(ctx, w.in.Manifest.Environment(release.StageStaging), 100, string(release.StageStaging))
}

// runTestnet deploys the contracts to the testnet chain, puts the version on all of the
// testnet environment's traffic and opens the soak.
func (w *rel) runTestnet(ctx workflow.Context) error {
	if err := w.contractsTestnet(ctx); err != nil {
		return err
	}
	if err := w.setTraffic(ctx, w.in.Manifest.Environment(release.StageTestnet), 100, string(release.StageTestnet)); err != nil {
		return err
	}
	w.openWindow(ctx, release.WindowTestnetSoak)
	return nil
}

// awaitPromotion blocks until the release may leave stage.
func (w *rel) awaitPromotion(ctx workflow.Context, stage release.Stage) error {
	w.setState(ctx, release.StateWaiting, "")
	p := promotion.Point{Leave: string(stage)}
	if stage == release.StageProduction {
		p = promotion.Point{} // nothing left to promote: never held
	}
	return w.untilPromotes(ctx, p, func() bool { return len(w.blockers(stage)) == 0 })
}

// blockers lists what keeps the release in stage, in words for people: the one rule for
// leaving a stage. Every window of the stage counts, opened or not.
func (w *rel) blockers(stage release.Stage) []string { return w.holds(stage, false) }

// stepBlockers lists what keeps the release from its next production traffic step: the same
// rule as leaving a stage, over the windows opened so far (the steps to come have not baked
// yet and are not due).
func (w *rel) stepBlockers() []string { return w.holds(release.StageProduction, true) }

// holds is the rule behind blockers and stepBlockers: a gate placed before the next stage
// that has not passed, a window of the stage not over or its analysis not passed (with
// openedOnly, windows still pending do not count), an open issue that holds the stage, a
// production lane the release waits for, a pause.
func (w *rel) holds(stage release.Stage, openedOnly bool) []string {
	var out []string
	for _, g := range w.st.Gates {
		if g.Before == stage.Next() && g.State != release.GatePassed {
			out = append(out, fmt.Sprintf("gate %s %s: %s", g.ID, g.Name, g.State))
		}
	}
	for _, win := range w.st.Windows {
		if win.Stage != stage || (openedOnly && win.State == release.WindowPending) {
			continue
		}
		if win.State != release.WindowDone && win.State != release.WindowBroken {
			out = append(out, "window "+win.Name)
		}
		if !w.analysisOK(win.Name) {
			out = append(out, "analysis of "+win.Name)
		}
	}
	out = append(out, w.issueHolds(stage)...)
	if w.st.Lane != "" {
		out = append(out, "production lane: "+w.st.Lane)
	}
	if w.st.Paused {
		out = append(out, "paused")
	}
	return out
}

// issueRule is what one open issue does to the release.
type issueRule struct {
	rollback bool   // roll back now
	hold     bool   // hold promotion (and, with traffic on the release, every traffic increase)
	says     string // the effect in words, for the notice and the audit log
}

// issueEffect is the one rule for issues, by the stage the release is in:
//   - testnet: an open critical or high issue holds promotion out of the testnet;
//   - canary and production (versionWayOut): an open critical issue rolls back at once; an
//     open high one holds promotion and every further traffic increase until resolved;
//   - medium and low are recorded and notified, nothing more.
func (w *rel) issueEffect(is release.Issue, stage release.Stage) issueRule {
	if is.ResolvedAt != nil {
		return issueRule{}
	}
	live := w.wayOut && stage.TrafficMoves()
	switch {
	case live && is.Severity == "critical":
		return issueRule{rollback: true, hold: true, says: "rolls the release back now"}
	case live && is.Severity == "high":
		return issueRule{hold: true, says: "holds promotion and every further traffic increase until resolved"}
	case is.Blocking():
		return issueRule{hold: stage == release.StageTestnet, says: "blocks promotion out of testnet until resolved"}
	}
	return issueRule{}
}

// issueHolds lists the open issues that hold the release in stage, in words.
func (w *rel) issueHolds(stage release.Stage) []string {
	var out []string
	for _, is := range w.st.Issues {
		if w.issueEffect(is, stage).hold {
			out = append(out, fmt.Sprintf("open %s issue #%d: %s", is.Severity, is.N, is.Title))
		}
	}
	return out
}

// runCanary records the rollback target, moves the canary share of traffic and opens the watch.
func (w *rel) runCanary(ctx workflow.Context) error {
	if err := w.enterLane(ctx); err != nil || w.stop != nil {
		return err
	}
	if err := w.contractsCanary(ctx); err != nil {
		return err
	}
	w.recordRollbackPlan(ctx)
	if stop, err := w.holdTraffic(ctx); stop || err != nil {
		return err
	}
	if err := w.setTraffic(ctx, w.prodEnv(), w.pol.Canary.Percent, "canary"); err != nil {
		return err
	}
	w.openWindow(ctx, release.WindowCanaryWatch)
	ws := w.window(release.WindowCanaryWatch)
	w.startAnalysis(ctx, release.WindowCanaryWatch, ws.EndsAt.Sub(ws.StartedAt), w.pol.Windows.CanaryWatchMax.D())
	return nil
}

// runProduction walks the rollout steps, each baking before the next. A step waits on the
// same rule as leaving a stage (stepBlockers): the bakes so far over and their analyses
// passed, no open issue holding production, no pause. (Until this used blockers it tested
// the previous step's window, its analysis, the issues and the pause inline; the gates and
// the lane it skipped hold nothing in production: no gate may be placed before done, and a
// release in production holds its lane. So the waits, and the histories, are the same.)
func (w *rel) runProduction(ctx workflow.Context) error {
	for i, s := range w.pol.Rollout.Steps {
		if i > 0 {
			if err := w.untilPromotes(ctx, promotion.Point{Traffic: true}, func() bool { return len(w.stepBlockers()) == 0 }); err != nil {
				return err
			}
			if w.stop != nil {
				return nil
			}
		} else if err := w.contractsProduction(ctx); err != nil {
			return err
		} else if stop, err := w.holdTraffic(ctx); stop || err != nil {
			return err
		}
		if err := w.setTraffic(ctx, w.prodEnv(), s.Percent, fmt.Sprintf("production-%g", s.Percent)); err != nil {
			return err
		}
		w.openWindow(ctx, release.StepWindow(s.Percent))
		w.startAnalysis(ctx, release.StepWindow(s.Percent), s.Bake.D(), s.Bake.D())
		w.setState(ctx, release.StateWaiting, "")
	}
	return nil
}

func (w *rel) prodEnv() string { return w.in.Manifest.Environment(release.StageProduction) }

func (w *rel) recordRollbackPlan(ctx workflow.Context) {
	plan := &release.RollbackPlan{TargetVersion: w.rollbackTarget(), Environment: w.prodEnv(), RecordedAt: workflow.Now(ctx),
		Contracts: w.contractRollbackPlan()}
	w.st.RollbackPlan = plan
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "record-rollback-target",
		Target: plan.TargetVersion, Accepted: true, Reason: "recorded before any traffic moves"})
}

// setTraffic deploys the version to env with percent of the traffic, through the backend.
func (w *rel) setTraffic(ctx workflow.Context, env string, percent float64, step string) error {
	req := w.trafficRequest(env, percent, step)
	actx := w.trafficOptions(ctx, fmt.Sprintf("%s: %s %s → %g %%", step, w.st.Service, w.st.Version, percent), false)
	if err := workflow.ExecuteActivity(actx, release.ActivitySetTraffic, req).Get(ctx, nil); err != nil {
		return fmt.Errorf("%s: traffic to %g %% in %s: %w", step, percent, env, err)
	}
	w.afterTraffic(ctx, env, percent)
	return nil
}

func (w *rel) trafficRequest(env string, percent float64, step string) release.TrafficRequest {
	return release.TrafficRequest{Backend: w.pol.Traffic, Service: w.st.Service, Version: w.st.Version,
		PreviousVersion: w.st.Previous, Environment: env, Percent: percent, IdempotencyKey: w.st.ID + "/" + w.runKey + "/" + step}
}

func (w *rel) afterTraffic(ctx workflow.Context, env string, percent float64) {
	if env == w.prodEnv() {
		w.st.TrafficPercent = percent
	}
	w.st.Deployments = append(w.st.Deployments, release.Deployment{Kind: "service", Environment: env,
		Version: w.st.Version, Percent: percent, At: workflow.Now(ctx)})
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "traffic",
		Target: fmt.Sprintf("%s %s %g %%", env, w.st.Version, percent), Accepted: true})
}

// finishStop ends the release after abort or rollback (a person's, a failed analysis', a
// critical issue's): the way back first, in a disconnected context so that it runs even while
// the workflow is being canceled.
func (w *rel) finishStop(wctx workflow.Context) (release.Result, error) {
	ctx := disconnected(wctx)
	stop := *w.stop
	state := release.StateAborted
	if stop.Action == release.SignalRollback {
		state = release.StateRolledBack
	}
	reason := fmt.Sprintf("%s by %s: %s", stop.Action, stop.Actor, stop.Reason)
	if !w.trafficMoved() {
		w.notify(ctx, release.NoticeAbort, fmt.Sprintf("%s %s aborted in %s by %s: %s", w.st.Service, w.st.Version, w.st.Stage, stop.Actor, stop.Reason))
	}
	if _, err := w.wayBack(ctx, reason); err != nil {
		return w.fail(ctx, err) // releases from before versionWayOut only
	}
	w.setState(ctx, state, reason)
	return release.Result{State: state, Stage: w.st.Stage, Reason: reason}, w.canceledMeanwhile(wctx)
}

// fail ends a release on an error; since versionWayOut through the way back (failWayBack).
func (w *rel) fail(ctx workflow.Context, err error) (release.Result, error) {
	if w.wayOut {
		return w.failWayBack(ctx, err)
	}
	w.setState(ctx, release.StateFailed, err.Error())
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "fail", Accepted: true, Reason: err.Error()})
	w.notify(ctx, release.NoticeAbort, fmt.Sprintf("%s %s failed in %s: %v", w.st.Service, w.st.Version, w.st.Stage, err))
	return release.Result{State: release.StateFailed, Stage: w.st.Stage, Reason: err.Error()}, nil
}

// setState updates the state, the search attributes and the UI's details.
func (w *rel) setState(ctx workflow.Context, s release.State, reason string) {
	w.base, w.st.Reason = s, reason
	w.publish(ctx)
}

// publish makes the status visible outside: search attributes (only when they change, each
// upsert is a history event) and the markdown details in the UI.
func (w *rel) publish(ctx workflow.Context) {
	sa := workflow.GetTypedSearchAttributes(ctx)
	var updates []temporal.SearchAttributeUpdate
	want := map[temporal.SearchAttributeKeyKeyword]string{
		SearchService: w.st.Service, SearchVersion: w.st.Version,
		SearchStage: string(w.st.Stage), SearchState: string(w.effectiveState()),
	}
	w.st.State = w.effectiveState()
	for _, k := range []temporal.SearchAttributeKeyKeyword{SearchService, SearchVersion, SearchStage, SearchState} {
		if cur, ok := sa.GetKeyword(k); !ok || cur != want[k] {
			updates = append(updates, k.ValueSet(want[k]))
		}
	}
	if cur, _ := sa.GetKeyword(SearchWaitsFor); w.laneOn && cur != w.st.Lane {
		updates = append(updates, SearchWaitsFor.ValueSet(w.st.Lane))
	}
	if len(updates) > 0 {
		if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
			workflow.GetLogger(ctx).Warn("search attributes not updated", "error", err)
		}
	}
	w.st.WaitingFor = nil
	switch {
	case w.backStep != "":
		w.st.WaitingFor = []string{w.backStep}
	case !w.st.State.Final():
		w.st.WaitingFor = append(w.blockers(w.st.Stage), w.holdWaits()...)
	}
	workflow.SetCurrentDetails(ctx, w.details())
}

// effectiveState folds pause and blocked gates into the one state people filter on.
func (w *rel) effectiveState() release.State {
	if w.base.Final() || w.base == release.StateRollbackFailed {
		return w.base
	}
	if w.st.Paused {
		return release.StatePaused
	}
	for _, g := range w.st.Gates {
		if g.State == release.GateBlocked {
			return release.StateBlocked
		}
	}
	return w.base
}
