package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/prometheus/common/model"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/promotion"
)

// Profiles: production enforces the seed's floors; dev allows short windows for demos and
// local chains and is refused for any known mainnet chain id.
const (
	ProfileProduction = "production"
	ProfileDev        = "dev"
)

// CheckKind is how a check decides: by reading a report, by asking a live system, or by people.
type CheckKind string

const (
	KindEvidence CheckKind = "evidence"
	KindProbe    CheckKind = "probe"
	KindSignoff  CheckKind = "signoff"
)

// Policy is owned by the platform team (policy.yaml). The worker loads the policies it runs
// from a directory its operator configures; a release names one, and the workflow obtains it
// from the worker and records it with its digest: a running release never changes policy, and
// no caller can hand in a weaker one.
type Policy struct {
	Profile string           `yaml:"profile" json:"profile"`
	Channel string           `yaml:"channel,omitempty" json:"channel,omitempty"` // default Slack channel
	Roles   Roles            `yaml:"roles" json:"roles"`
	Groups  map[string]Group `yaml:"groups" json:"groups"`
	Gates   []Gate           `yaml:"gates" json:"gates"`
	Windows Windows          `yaml:"windows" json:"windows"`
	Canary  Canary           `yaml:"canary" json:"canary"`
	Rollout Rollout          `yaml:"rollout" json:"rollout"`
	Traffic Traffic          `yaml:"traffic" json:"traffic"`
	Chains  []Chain          `yaml:"chains,omitempty" json:"chains,omitempty"`
	// Contracts says when proxies are upgraded on mainnet.
	Contracts ContractsPolicy `yaml:"contracts,omitempty" json:"contracts,omitempty"`
	// Analysis watches the canary and every production bake with live metrics; nil: the
	// windows alone decide.
	Analysis *analysis.Spec `yaml:"analysis,omitempty" json:"analysis,omitempty"`
	// OnFailure says per stage (canary, production) what a failed analysis does: rollback
	// (default: traffic back to the previous version at once, no human wait) or pause (freeze
	// for a person, for changes such as a non-reversible migration).
	OnFailure map[Stage]FailureAction `yaml:"onFailure,omitempty" json:"onFailure,omitempty"`
	// SlackBridgeKeys are the public halves of the keys shipgate workers sign Slack clicks
	// with, after verifying Slack's own request signature: a command that says it came from
	// Slack is accepted only when one of these keys signed it.
	SlackBridgeKeys []string `yaml:"slackBridgeKeys,omitempty" json:"slackBridgeKeys,omitempty"`
	// Promotion windows: leaving a stage and every traffic increase happen only inside the
	// allow windows that apply and never inside a deny window (a freeze) that applies
	// (promotion.go). They only ever hold a release: rollback, abort and traffic decreases are
	// never held, and no window shortens a bake, a soak or a canary watch.
	Promotion promotion.Rules `yaml:"promotion,omitempty" json:"promotion,omitzero"`
}

// StepRetry is how long a forward traffic step retries a failing backend (traffic.stepRetry).
func (p *Policy) StepRetry() time.Duration {
	if d := p.Traffic.StepRetry.D(); d > 0 {
		return d
	}
	return DefaultStepRetry
}

// FailureAction is what a failed analysis does in stage s: FailureRollback (the default) or
// FailurePause.
func (p *Policy) FailureAction(s Stage) FailureAction {
	if a := p.OnFailure[s]; a != "" {
		return a
	}
	return FailureRollback
}

// AnalysisInterval is the time between two measurements of the analysis.
func (p *Policy) AnalysisInterval() time.Duration {
	if p.Analysis == nil {
		return 0
	}
	d, err := model.ParseDuration(p.Analysis.Interval)
	if err != nil {
		return 0
	}
	return time.Duration(d)
}

// Roles name the groups with operator powers.
type Roles struct {
	// ReleaseManagers may pause, resume, recheck, abort, roll back, resolve issues, and two of
	// them together may break glass.
	ReleaseManagers string `yaml:"releaseManagers" json:"releaseManagers"`
	// Operators (e.g. on-call) may also pause, abort and roll back.
	Operators []string `yaml:"operators,omitempty" json:"operators,omitempty"`
	// Starters may start a release under this policy; empty: the release managers.
	Starters []string `yaml:"starters,omitempty" json:"starters,omitempty"`
	// Freezers may stop the line (freeze every release of this policy) and restart it;
	// empty: the release managers and the operators.
	Freezers []string `yaml:"freezers,omitempty" json:"freezers,omitempty"`
}

// Group is a set of people who may sign off.
type Group struct {
	Members []Member `yaml:"members" json:"members"`
}

// Member is one person; any of ID, Email or Slack identifies them.
type Member struct {
	ID    string `yaml:"id" json:"id"`
	Name  string `yaml:"name,omitempty" json:"name,omitempty"`
	Email string `yaml:"email,omitempty" json:"email,omitempty"`
	Slack string `yaml:"slack,omitempty" json:"slack,omitempty"` // Slack user id, e.g. U012AB3CD
	// SSHKeys are the member's public keys in authorized_keys form ("ssh-ed25519 AAAA… comment"):
	// every command the member sends through the CLI is signed with one of them.
	SSHKeys []string `yaml:"sshKeys,omitempty" json:"sshKeys,omitempty"`
}

// Gate is a quality gate: all its applicable checks must pass before the release enters Before.
type Gate struct {
	ID     string  `yaml:"id" json:"id"` // G1..G5
	Name   string  `yaml:"name" json:"name"`
	Before Stage   `yaml:"before" json:"before"`
	Checks []Check `yaml:"checks" json:"checks"`
}

// Check is one condition of a gate.
type Check struct {
	Name        string            `yaml:"name" json:"name"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
	Kind        CheckKind         `yaml:"kind" json:"kind"`
	Type        string            `yaml:"type,omitempty" json:"type,omitempty"`     // evidence/probe type
	Params      map[string]string `yaml:"params,omitempty" json:"params,omitempty"` // thresholds
	When        []Condition       `yaml:"when,omitempty" json:"when,omitempty"`     // any holds
	Group       string            `yaml:"group,omitempty" json:"group,omitempty"`   // signoff
	Approvals   int               `yaml:"approvals,omitempty" json:"approvals,omitempty"`
}

// Applies reports whether the check applies to a change, and why (empty when unconditional).
func (c *Check) Applies(f Flags) (bool, string) {
	if len(c.When) == 0 {
		return true, ""
	}
	for _, w := range c.When {
		if w.Holds(f) {
			return true, w.Reason()
		}
	}
	return false, ""
}

// Windows are the waiting times of the lifecycle.
type Windows struct {
	TestnetSoak    Duration `yaml:"testnetSoak" json:"testnetSoak"`
	CanaryWatchMin Duration `yaml:"canaryWatchMin" json:"canaryWatchMin"`
	CanaryWatchMax Duration `yaml:"canaryWatchMax" json:"canaryWatchMax"`
}

// Canary is the share of mainnet traffic the new version takes during the watch.
type Canary struct {
	Percent float64 `yaml:"percent" json:"percent"`
}

// Rollout is the gradual production rollout after the canary.
type Rollout struct {
	Steps []Step `yaml:"steps" json:"steps"`
	// Concurrency says what a release does when another release of the same service holds
	// production (lane.go): queue (default) waits behind it, supersede rolls the older back.
	Concurrency string `yaml:"concurrency,omitempty" json:"concurrency,omitempty"`
}

// Step is one traffic step with the time it bakes before the next.
type Step struct {
	Percent float64  `yaml:"percent" json:"percent"`
	Bake    Duration `yaml:"bake" json:"bake"`
}

// Traffic names the backend that deploys the service and moves its traffic.
type Traffic struct {
	Backend string `yaml:"backend" json:"backend"`             // webhook, gatewayapi or argorollouts
	URL     string `yaml:"url,omitempty" json:"url,omitempty"` // webhook
	// Kubernetes names what the gatewayapi and argorollouts backends act on, per environment.
	// The cluster and the credentials are the worker's (in-cluster service account or the
	// kubeconfig its operator names), never the policy's.
	Kubernetes []KubeEnvironment `yaml:"kubernetes,omitempty" json:"kubernetes,omitempty"`
	// TokenSecret names the bearer token among the worker's secrets: the worker reads it from
	// SHIPGATE_SECRET_<NAME> (SecretEnv) only; the token itself never enters the policy, the
	// workflow input or its history.
	TokenSecret string `yaml:"tokenSecret,omitempty" json:"tokenSecret,omitempty"`
	// TokenEnv named any worker variable (a deployer key too) to send to URL: refused by
	// validation, kept only to say what to write instead; never in the workflow input.
	TokenEnv string `yaml:"tokenEnv,omitempty" json:"-"`
	// StepRetry is how long a forward traffic step keeps retrying a failing backend before the
	// step counts as failed and the release goes back (default DefaultStepRetry). The way
	// back itself never gives up.
	StepRetry Duration `yaml:"stepRetry,omitempty" json:"stepRetry,omitempty"`
}

// Chain is a blockchain the contracts are deployed to.
type Chain struct {
	Name          string    `yaml:"name" json:"name"`
	Role          ChainRole `yaml:"role" json:"role"`
	ChainID       uint64    `yaml:"chainId" json:"chainId"`
	RPC           string    `yaml:"rpc" json:"rpc"`
	Confirmations int       `yaml:"confirmations,omitempty" json:"confirmations,omitempty"`
	// Deployer names the worker's key (SHIPGATE_KEY_<NAME> or a keystore file): the key itself
	// never enters the policy, the workflow input or its history. Default DEPLOYER.
	Deployer string `yaml:"deployer,omitempty" json:"deployer,omitempty"`
	// MaxFeeGwei and MaxTipGwei cap EIP-1559 fees (0: the node's suggestion, uncapped). A
	// transaction whose suggested fees exceed a cap is signed at the cap.
	MaxFeeGwei float64 `yaml:"maxFeeGwei,omitempty" json:"maxFeeGwei,omitempty"`
	MaxTipGwei float64 `yaml:"maxTipGwei,omitempty" json:"maxTipGwei,omitempty"`
	// Governance, when set, is the Safe and timelock every proxy upgrade on this chain goes
	// through (governance.go).
	Governance *Governance `yaml:"governance,omitempty" json:"governance,omitempty"`
}

// ChainFor returns the policy's chain of a role.
func (p *Policy) ChainFor(role ChainRole) (Chain, bool) {
	for _, c := range p.Chains {
		if c.Role == role {
			return c, true
		}
	}
	return Chain{}, false
}

// ContractsPolicy says when an upgradeable contract's proxy is switched to the new
// implementation on mainnet: at the canary, or (default) at the first production step. The
// implementation itself is deployed and verified at the canary either way.
type ContractsPolicy struct {
	UpgradeAt Stage `yaml:"upgradeAt,omitempty" json:"upgradeAt,omitempty"`
}

// Digest is the sha256 of the policy's canonical JSON: recorded with every release.
func (p *Policy) Digest() string { return digestJSON(p) }

// digestJSON is "sha256:" and the hex sha256 of v's JSON; struct fields and map keys marshal
// in a fixed order, so equal values have equal digests.
func digestJSON(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// FindCheck returns the gate and check with the given name.
func (p *Policy) FindCheck(name string) (*Gate, *Check) {
	for i := range p.Gates {
		for j := range p.Gates[i].Checks {
			if p.Gates[i].Checks[j].Name == name {
				return &p.Gates[i], &p.Gates[i].Checks[j]
			}
		}
	}
	return nil, nil
}
