package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shipgate/shipgate/internal/release"
)

// contractsState is what the release knows about its contracts between stages.
type contractsState struct {
	// plans per chain role, read when the release first touches the chain.
	plans map[release.ChainRole]release.ContractsPlan
	// impl is this release's implementation (or plain contract) address per role and contract.
	impl map[release.ChainRole]map[string]string
	// switched lists the proxies this release pointed at its implementation, oldest first: a
	// rollback or abort points each back at the implementation it had before.
	switched []switchedProxy
	// underWay is the forward contract step under way, whose transaction may already be
	// signed and sent (versionSettleSteps): a way out taken meanwhile settles it (the same step
	// again, the same signed bytes) before anything else, and reverts it when it was a proxy
	// switch. So a proxy is never left switched, and a signed transaction is never abandoned
	// in front of the deployer's later nonces (every later transaction would wait behind it).
	underWay *stepUnderWay
}

// stepUnderWay is a forward contract step under way: its chain, its transaction and, for a
// proxy switch, the proxy and the implementation it ran before.
type stepUnderWay struct {
	chain release.Chain
	tx    release.ContractTx
	proxy *switchedProxy
}

type switchedProxy = release.SwitchedProxy

// contractsOn reports whether the release deploys contracts, with the version marker that
// keeps histories recorded before contract support replaying: those releases had none.
func (w *rel) contractsOn(ctx workflow.Context) bool {
	if len(w.in.Manifest.Contracts) == 0 {
		return false
	}
	return workflow.GetVersion(ctx, versionContracts, workflow.DefaultVersion, 1) == 1
}

// contractsTestnet deploys the release's contracts to the testnet chain for the soak, proxies
// switched at once: the testnet runs exactly what mainnet will get.
func (w *rel) contractsTestnet(ctx workflow.Context) error {
	if !w.contractsOn(ctx) {
		return nil
	}
	plan, err := w.planContracts(ctx, release.ChainTestnet)
	if err != nil {
		return err
	}
	if err := w.deployImplementations(ctx, release.ChainTestnet, plan); err != nil {
		return err
	}
	return w.switchProxies(ctx, release.ChainTestnet)
}

// contractsCanary deploys mainnet implementations (and plain contracts) at the canary, after
// refusing any artifact that differs from what soaked on the testnet; proxies switch here only
// when the policy says so (default: at the first production step).
func (w *rel) contractsCanary(ctx workflow.Context) error {
	if !w.contractsOn(ctx) {
		return nil
	}
	plan, err := w.planContracts(ctx, release.ChainMainnet)
	if err != nil {
		return err
	}
	soaked := map[string]string{}
	for _, p := range w.ct.plans[release.ChainTestnet].Contracts {
		soaked[p.Contract] = p.ArtifactDigest
	}
	for _, p := range plan.Contracts {
		if soaked[p.Contract] != p.ArtifactDigest {
			err := fmt.Errorf("contract %s: artifact digest %s at canary differs from %s deployed to the testnet: mainnet gets exactly the bytecode that soaked",
				p.Contract, short(p.ArtifactDigest), short(soaked[p.Contract]))
			w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "contracts-refused", Target: p.Contract, Reason: err.Error()})
			return err
		}
	}
	if err := w.deployImplementations(ctx, release.ChainMainnet, plan); err != nil {
		return err
	}
	if w.pol.Contracts.UpgradeAt == release.StageCanary {
		return w.switchProxies(ctx, release.ChainMainnet)
	}
	return nil
}

// contractsProduction switches mainnet proxies before the first production step moves
// traffic, unless the canary did.
func (w *rel) contractsProduction(ctx workflow.Context) error {
	if w.pol.Contracts.UpgradeAt == release.StageCanary || !w.contractsOn(ctx) {
		return nil
	}
	return w.switchProxies(ctx, release.ChainMainnet)
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	if d == "" {
		return "(nothing)"
	}
	return d
}

func (w *rel) planContracts(ctx workflow.Context, role release.ChainRole) (release.ContractsPlan, error) {
	ch, _ := w.pol.ChainFor(role) // ValidateRelease guarantees both chains
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 5, InitialInterval: 2 * time.Second},
		Summary:             fmt.Sprintf("contracts: plan on %s (%s)", ch.Name, role),
	})
	var plan release.ContractsPlan
	req := release.ContractsPlanRequest{ReleaseID: w.st.ID, Chain: ch, Contracts: w.in.Manifest.Contracts}
	if err := workflow.ExecuteActivity(actx, release.ActivityContractsPlan, req).Get(ctx, &plan); err != nil {
		return plan, fmt.Errorf("contracts on %s: %w", ch.Name, err)
	}
	if w.ct.plans == nil {
		w.ct.plans, w.ct.impl = map[release.ChainRole]release.ContractsPlan{}, map[release.ChainRole]map[string]string{}
	}
	w.ct.plans[role], w.ct.impl[role] = plan, map[string]string{}
	for _, p := range plan.Contracts {
		target := "first deploy"
		if p.Proxy != "" {
			target = "proxy " + p.Proxy + " runs " + p.Implementation
		}
		w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "contracts-plan",
			Target: fmt.Sprintf("%s on %s", p.Contract, ch.Name), Accepted: true, Reason: target, Evidence: []string{"artifact sha256:" + p.ArtifactDigest}})
	}
	return plan, nil
}

// deployImplementations deploys every contract (an implementation, for a proxy) on a chain.
func (w *rel) deployImplementations(ctx workflow.Context, role release.ChainRole, plan release.ContractsPlan) error {
	ch, _ := w.pol.ChainFor(role)
	for _, ct := range w.in.Manifest.Contracts {
		d, err := w.forwardTx(ctx, ch, release.ContractTx{Op: release.OpDeploy, Contract: ct}, nil)
		if err != nil {
			return err
		}
		w.ct.impl[role][ct.Name] = d.Address
	}
	return nil
}

// switchProxies points every proxy of a chain at this release's implementation, deploying
// the proxy on the first release. The implementation it ran before is the rollback target.
func (w *rel) switchProxies(ctx workflow.Context, role release.ChainRole) error {
	ch, _ := w.pol.ChainFor(role)
	for i, ct := range w.in.Manifest.Contracts {
		if ct.Proxy == nil {
			continue
		}
		p, impl := w.ct.plans[role].Contracts[i], w.ct.impl[role][ct.Name]
		if p.Proxy == "" {
			if _, err := w.forwardTx(ctx, ch, release.ContractTx{Op: release.OpDeployProxy, Contract: ct, Implementation: impl}, nil); err != nil {
				return err
			}
			continue
		}
		if p.Implementation == impl {
			continue
		}
		if ch.Governance != nil {
			if err := w.governedSwitch(ctx, ch, ct, p.Proxy, p.Implementation, impl); err != nil {
				return err
			}
			continue
		}
		tx := release.ContractTx{Op: release.OpUpgrade, Contract: ct, Proxy: p.Proxy, Implementation: impl}
		sp := switchedProxy{Chain: ch, Contract: ct, Proxy: p.Proxy, Previous: p.Implementation}
		if _, err := w.forwardTx(ctx, ch, tx, &sp); err != nil {
			return err
		}
		w.ct.switched = append(w.ct.switched, sp)
	}
	return nil
}

// revertProxies is the on-chain part of the way back: every proxy this release switched goes
// back to its previous implementation, newest first, each one transaction under the same
// exactly-once rules (its steps are safe to repeat). Since versionWayOut each revert is
// retried round after round until it succeeds (persist); before, a non-retryable refusal
// was notified and the revert left undone.
func (w *rel) revertProxies(ctx workflow.Context) {
	w.settleStep(ctx)
	for i := len(w.ct.switched) - 1; i >= 0; i-- {
		s := w.ct.switched[i]
		tx := release.ContractTx{Op: release.OpRevert, Contract: s.Contract, Proxy: s.Proxy, Implementation: s.Previous}
		what := fmt.Sprintf("reverting proxy %s of %s on %s to %s", s.Proxy, s.Contract.Name, s.Chain.Name, s.Previous)
		if s.Proposal != nil {
			// governed: the revert the Safe scheduled alongside the upgrade, ready since it landed
			tx.Op, tx.Proposal = release.OpGovRevert, s.Proposal
			what += " (the timelock's prepared revert)"
		}
		w.backStep = "the way back: " + what
		err := w.persist(ctx, func() string { return what }, func(int) error {
			_, err := w.contractTx(ctx, s.Chain, tx, !w.wayOut)
			return err
		})
		if err != nil {
			// only a non-retryable refusal gets here (e.g. the key is gone): say so loudly
			w.notify(ctx, release.NoticeRollback, fmt.Sprintf("%s %s: proxy %s of %s on %s NOT reverted to %s: %v",
				w.st.Service, w.st.Version, s.Proxy, s.Contract.Name, s.Chain.Name, s.Previous, err))
			continue
		}
		if s.Proposal != nil {
			w.govPhase(s.Chain.Name, s.Contract.Name, release.GovReverted)
		}
		w.notify(ctx, release.NoticeRollback, fmt.Sprintf("%s %s: proxy %s of %s on %s reverted to %s",
			w.st.Service, w.st.Version, s.Proxy, s.Contract.Name, s.Chain.Name, s.Previous))
	}
	w.ct.switched = nil
}

// forwardTx runs a forward contract step, on record as under way until it is done, for the
// way back to settle (versionSettleSteps). proxy is set for a proxy switch.
func (w *rel) forwardTx(ctx workflow.Context, ch release.Chain, tx release.ContractTx, proxy *switchedProxy) (release.ContractDeployment, error) {
	if workflow.GetVersion(ctx, versionSettleSteps, workflow.DefaultVersion, 1) >= 1 {
		w.ct.underWay = &stepUnderWay{chain: ch, tx: tx, proxy: proxy}
	}
	d, err := w.contractTx(ctx, ch, tx, false)
	if err != nil {
		return d, err
	}
	w.ct.underWay = nil
	return d, nil
}

// settleStep finishes a contract step that a way out cut short: its transaction may be
// signed, sent or even mined, so it is run again as the same step (the nonce store hands back
// the same signed bytes; a transaction already known or mined counts as sent) until it is
// mined and listed. A switch joins the proxies the way back reverts. A step never signed is
// sent now (one transaction, reverted at once when it is a switch): never a proxy left on a
// version nobody watches, never a signed transaction abandoned in front of later nonces.
func (w *rel) settleStep(ctx workflow.Context) {
	s := w.ct.underWay
	if s == nil {
		return
	}
	what := fmt.Sprintf("settling %s %s on %s", s.tx.Op, s.tx.Contract.Name, s.chain.Name)
	w.backStep = "the way back: " + what
	if err := w.persist(ctx, func() string { return what }, func(int) error {
		_, err := w.contractTx(ctx, s.chain, s.tx, false)
		return err
	}); err != nil {
		return // persist returns only when the step succeeded (versionSettleSteps implies versionWayOut)
	}
	w.ct.underWay = nil
	if s.proxy != nil {
		w.ct.switched = append(w.ct.switched, *s.proxy)
	}
}

// contractRollbackPlan says, before traffic moves, what a rollback does on chain.
func (w *rel) contractRollbackPlan() []string {
	var out []string
	for _, ct := range w.in.Manifest.Contracts {
		if ct.Proxy == nil {
			out = append(out, ct.Name+": cannot be rolled back on chain (not behind a proxy)")
			continue
		}
		for _, role := range release.ChainRoles {
			plan, ok := w.ct.plans[role]
			if !ok {
				continue
			}
			for _, p := range plan.Contracts {
				switch {
				case p.Contract != ct.Name:
				case p.Proxy == "":
					out = append(out, fmt.Sprintf("%s on %s: proxy first deployed by this release: cannot be rolled back on chain (no earlier implementation)", ct.Name, plan.Chain))
				default:
					out = append(out, fmt.Sprintf("%s on %s: proxy %s back to implementation %s (read from its EIP-1967 slot)", ct.Name, plan.Chain, p.Proxy, p.Implementation))
				}
			}
		}
	}
	return out
}

// contractTx runs one transaction: sign (signed bytes and hash enter history), broadcast,
// confirm, then verify and record. forever retries every step until it succeeds (a rollback).
func (w *rel) contractTx(ctx workflow.Context, ch release.Chain, tx release.ContractTx, forever bool) (release.ContractDeployment, error) {
	tx.ReleaseID, tx.Chain = w.st.ID, ch
	tx.OpKey = fmt.Sprintf("%s/%s/%s/%s/%s", w.st.ID, w.runKey, ch.Name, tx.Contract.Name, tx.Op)
	if tx.Round > 0 {
		tx.OpKey += fmt.Sprintf("/round-%d", tx.Round)
	}
	retry := &temporal.RetryPolicy{MaximumAttempts: 10, InitialInterval: 2 * time.Second, MaximumInterval: 30 * time.Second}
	if forever {
		retry.MaximumAttempts = 0
	}
	what := fmt.Sprintf("%s %s on %s", tx.Op, tx.Contract.Name, ch.Name)
	// Short timeouts: a worker that dies mid-step is noticed within seconds and the step is
	// retried on another; every step is safe to repeat.
	opts := func(step string, timeout time.Duration) workflow.Context {
		o := workflow.ActivityOptions{StartToCloseTimeout: timeout, RetryPolicy: retry, Summary: "contracts: " + step + " " + what}
		if step == "confirm" {
			o.HeartbeatTimeout = 10 * time.Second
		}
		return workflow.WithActivityOptions(ctx, o)
	}
	step := release.ContractTxStep{Tx: tx}
	if err := workflow.ExecuteActivity(opts("sign", 30*time.Second), release.ActivityContractsSign, tx).Get(ctx, &step.Signed); err != nil {
		return release.ContractDeployment{}, fmt.Errorf("%s: sign: %w", what, err)
	}
	target := step.Signed.ContractAddress
	if target == "" {
		target = step.Signed.To
	}
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "contract-tx-signed", Target: what, Accepted: true,
		Reason: fmt.Sprintf("tx %s nonce %d from %s to %s", step.Signed.Hash, step.Signed.Nonce, step.Signed.From, target)})
	w.publish(ctx)
	if err := workflow.ExecuteActivity(opts("broadcast", 30*time.Second), release.ActivityContractsBroadcast, step).Get(ctx, nil); err != nil {
		return release.ContractDeployment{}, fmt.Errorf("%s: broadcast %s: %w", what, step.Signed.Hash, err)
	}
	if err := workflow.ExecuteActivity(opts("confirm", time.Hour), release.ActivityContractsConfirm, step).Get(ctx, &step.Receipt); err != nil {
		return release.ContractDeployment{}, fmt.Errorf("%s: confirm %s: %w", what, step.Signed.Hash, err)
	}
	var d release.ContractDeployment
	if err := workflow.ExecuteActivity(opts("verify", 30*time.Second), release.ActivityContractsRecord, step).Get(ctx, &d); err != nil {
		return release.ContractDeployment{}, fmt.Errorf("%s: verify %s: %w", what, step.Signed.Hash, err)
	}
	w.st.Contracts = append(w.st.Contracts, d)
	reason := fmt.Sprintf("%s at %s, block %d, %d confirmations, code hash %s", d.Kind, d.Address, d.Block, d.Confirmations, d.CodeHash)
	if d.Implementation != "" {
		reason += ", implementation " + d.Implementation
	}
	w.audit(ctx, release.AuditEntry{Actor: release.ChannelAuto, Channel: release.ChannelAuto, Action: "contract-" + tx.Op, Target: what, Accepted: true,
		Reason: reason, Evidence: []string{"tx " + d.TxHash, "code keccak256:" + d.CodeHash}})
	w.publish(ctx)
	return d, nil
}
