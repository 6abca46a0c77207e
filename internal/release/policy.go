package release

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
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

// Is reports whether identity names the member: its id, email or Slack id. The empty identity
// names no one, so a member without an email is never matched by a missing one.
func (m Member) Is(identity string) bool {
	return identity != "" && (m.ID == identity || m.Email == identity || m.Slack == identity)
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

// The seed's numbers: a production policy may not go below them without break-glass.
const (
	FloorTestnetSoak     = 14 * 24 * time.Hour
	FloorCanaryWatchMin  = 24 * time.Hour
	MaxCanaryWatch       = 48 * time.Hour
	MinCanaryPercent     = 1.0
	MaxCanaryPercent     = 5.0
	DefaultStepBake      = 24 * time.Hour
	WindowTestnetSoak    = "testnet-soak"
	WindowCanaryWatch    = "canary-watch"
	windowProductionStep = "production-%g"
)

// StepWindow names the bake window of a production step, e.g. production-25.
func StepWindow(percent float64) string { return fmt.Sprintf(windowProductionStep, percent) }

// KnownMainnets are chain ids a dev profile may never target.
var KnownMainnets = map[uint64]string{
	1: "Ethereum", 10: "OP Mainnet", 56: "BNB Smart Chain", 100: "Gnosis", 137: "Polygon PoS",
	324: "zkSync Era", 8453: "Base", 42161: "Arbitrum One", 42220: "Celo", 43114: "Avalanche C-Chain",
	59144: "Linea", 534352: "Scroll",
}

//go:embed default_policy.yaml
var defaultPolicyYAML []byte

// DefaultPolicyYAML is the seed policy as documented YAML.
func DefaultPolicyYAML() []byte { return append([]byte(nil), defaultPolicyYAML...) }

// CheckTypes validates the type and params of automated checks; the catalogue of types lives
// with the code that evaluates them, so an unknown type can never pass silently.
type CheckTypes func(kind CheckKind, typ string, params map[string]string) error

// DefaultPolicy parses the embedded seed policy.
func DefaultPolicy(types CheckTypes) (*Policy, error) {
	return ParsePolicy("default_policy.yaml", defaultPolicyYAML, types)
}

// LoadPolicy reads, strictly decodes and validates a policy file.
func LoadPolicy(path string, types CheckTypes) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePolicy(path, data, types)
}

// ParsePolicy decodes and validates policy bytes; file names the source in errors.
func ParsePolicy(file string, data []byte, types CheckTypes) (*Policy, error) {
	var p Policy
	root, err := decodeStrict(file, data, &p)
	if err != nil {
		return nil, err
	}
	p.applyDefaults()
	v := &validator{file: file, root: root}
	p.validate(v, types)
	if err := v.err(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Policy) applyDefaults() {
	if p.Profile == "" {
		p.Profile = ProfileProduction
	}
	for i := range p.Rollout.Steps {
		if p.Rollout.Steps[i].Bake == 0 {
			p.Rollout.Steps[i].Bake = Duration(DefaultStepBake)
		}
	}
	for i := range p.Gates {
		for j := range p.Gates[i].Checks {
			c := &p.Gates[i].Checks[j]
			if c.Kind == KindSignoff && c.Approvals == 0 {
				c.Approvals = 1
			}
		}
	}
	if p.Contracts.UpgradeAt == "" {
		p.Contracts.UpgradeAt = StageProduction
	}
	for i := range p.Chains {
		if p.Chains[i].Deployer == "" {
			p.Chains[i].Deployer = "DEPLOYER"
		}
		if p.Chains[i].Confirmations == 0 {
			p.Chains[i].Confirmations = 2
			if p.Chains[i].Role == ChainMainnet {
				p.Chains[i].Confirmations = 12
			}
		}
	}
}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	keyNameRE = regexp.MustCompile(`^[A-Z0-9_]{1,64}$`)
)

func (p *Policy) validate(v *validator, types CheckTypes) {
	if p.Profile != ProfileProduction && p.Profile != ProfileDev {
		v.addf("profile", "must be production or dev (got %q)", p.Profile)
	}
	p.validateGroups(v)
	p.validateKeys(v)
	p.validateGates(v, types)
	p.validateWindows(v)
	p.validateTraffic(v)
	p.validateChains(v)
	p.validateAnalysis(v)
	p.validatePromotion(v)
	p.validateFloors(v)
}

func (p *Policy) validateAnalysis(v *validator) {
	for s, a := range p.OnFailure {
		if s != StageCanary && s != StageProduction {
			v.addf("onFailure", "stage %q has no analysis (want canary or production)", s)
		}
		if a != FailureRollback && a != FailurePause {
			v.addf("onFailure["+string(s)+"]", "must be rollback or pause (got %q)", a)
		}
	}
	if p.Analysis == nil {
		return
	}
	if err := p.Analysis.Validate(); err != nil {
		v.addf("analysis", "%v", err)
		return
	}
	if p.AnalysisInterval() <= 0 {
		v.addf("analysis.interval", "must be a positive Prometheus duration such as 1m (got %q)", p.Analysis.Interval)
	}
}

func (p *Policy) validateGroups(v *validator) {
	if len(p.Groups) == 0 {
		v.addf("groups", "at least one approver group is required")
	}
	ids := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(p.Groups)) {
		for i, m := range p.Groups[name].Members {
			f := fmt.Sprintf("groups.%s.members[%d]", name, i)
			if m.ID == "" {
				v.addf(f+".id", "is required")
				continue
			}
			for _, key := range []string{m.ID, m.Email, m.Slack} {
				if key == "" {
					continue
				}
				if other, ok := ids[key]; ok && other != m.ID {
					v.addf(f, "identity %q already belongs to member %q", key, other)
				}
				ids[key] = m.ID
			}
		}
	}
	if p.Roles.ReleaseManagers == "" {
		v.addf("roles.releaseManagers", "is required: someone must be able to abort")
	} else if _, ok := p.Groups[p.Roles.ReleaseManagers]; !ok {
		v.addf("roles.releaseManagers", "group %q is not defined in groups", p.Roles.ReleaseManagers)
	}
	for i, g := range p.Roles.Operators {
		if _, ok := p.Groups[g]; !ok {
			v.addf(fmt.Sprintf("roles.operators[%d]", i), "group %q is not defined in groups", g)
		}
	}
	for i, g := range p.Roles.Starters {
		if _, ok := p.Groups[g]; !ok {
			v.addf(fmt.Sprintf("roles.starters[%d]", i), "group %q is not defined in groups", g)
		}
	}
	for i, g := range p.Roles.Freezers {
		if _, ok := p.Groups[g]; !ok {
			v.addf(fmt.Sprintf("roles.freezers[%d]", i), "group %q is not defined in groups", g)
		}
	}
}

func (p *Policy) validateGates(v *validator, types CheckTypes) {
	if len(p.Gates) == 0 {
		v.addf("gates", "at least one gate is required")
	}
	gateIDs := map[string]bool{}
	checkNames := map[string]bool{}
	for i, g := range p.Gates {
		f := fmt.Sprintf("gates[%d]", i)
		if g.ID == "" {
			v.addf(f+".id", "is required")
		} else if gateIDs[g.ID] {
			v.addf(f+".id", "gate %q is defined twice", g.ID)
		}
		gateIDs[g.ID] = true
		if g.Before == StageDevelopment || g.Before == StageDone || !g.Before.Valid() {
			v.addf(f+".before", "must be one of staging, testnet, canary, production (got %q)", g.Before)
		}
		if len(g.Checks) == 0 {
			v.addf(f+".checks", "a gate needs at least one check")
		}
		for j, c := range g.Checks {
			cf := fmt.Sprintf("%s.checks[%d]", f, j)
			if !nameRE.MatchString(c.Name) {
				v.addf(cf+".name", "must be lower-case letters, digits and dashes (got %q)", c.Name)
			} else if checkNames[c.Name] {
				v.addf(cf+".name", "check %q is defined twice: names are unique across gates", c.Name)
			}
			checkNames[c.Name] = true
			for k, w := range c.When {
				if w != WhenMajor && w != WhenContracts && w != WhenUserFacing && w != WhenRegulated {
					v.addf(fmt.Sprintf("%s.when[%d]", cf, k), "unknown condition %q (want major, contracts, userFacing or regulated)", w)
				}
			}
			switch c.Kind {
			case KindSignoff:
				if c.Type != "" || len(c.Params) > 0 {
					v.addf(cf+".type", "a signoff check takes group and approvals, not type or params")
				}
				grp, ok := p.Groups[c.Group]
				if !ok {
					v.addf(cf+".group", "group %q is not defined in groups", c.Group)
				} else if c.Approvals < 1 || c.Approvals > len(grp.Members) {
					v.addf(cf+".approvals", "must be between 1 and the %d members of group %q (got %d)", len(grp.Members), c.Group, c.Approvals)
				}
			case KindEvidence, KindProbe:
				if c.Group != "" || c.Approvals != 0 {
					v.addf(cf+".group", "an automated check takes no group or approvals")
				}
				if c.Type == "" {
					v.addf(cf+".type", "is required for a %s check", c.Kind)
				} else if types == nil {
					v.addf(cf+".type", "no check types are known to validate %q", c.Type)
				} else if err := types(c.Kind, c.Type, c.Params); err != nil {
					v.addf(cf+".type", "%v", err)
				}
			default:
				v.addf(cf+".kind", "must be evidence, probe or signoff (got %q)", c.Kind)
			}
		}
	}
}

func (p *Policy) validateWindows(v *validator) {
	w := p.Windows
	if w.TestnetSoak <= 0 {
		v.addf("windows.testnetSoak", "is required (e.g. 14d)")
	}
	if w.CanaryWatchMin <= 0 {
		v.addf("windows.canaryWatchMin", "is required (e.g. 24h)")
	}
	if w.CanaryWatchMax < w.CanaryWatchMin {
		v.addf("windows.canaryWatchMax", "%s is shorter than canaryWatchMin %s", w.CanaryWatchMax, w.CanaryWatchMin)
	}
	if p.Profile == ProfileProduction && (p.Canary.Percent < MinCanaryPercent || p.Canary.Percent > MaxCanaryPercent) {
		v.addf("canary.percent", "a production canary takes %g–%g %% of traffic (got %g)", MinCanaryPercent, MaxCanaryPercent, p.Canary.Percent)
	} else if p.Canary.Percent <= 0 || p.Canary.Percent >= 100 {
		v.addf("canary.percent", "must be above 0 and below 100 (got %g)", p.Canary.Percent)
	}
	steps := p.Rollout.Steps
	if len(steps) == 0 {
		v.addf("rollout.steps", "at least one step is required, ending at 100")
	}
	prev := p.Canary.Percent
	for i, s := range steps {
		f := fmt.Sprintf("rollout.steps[%d]", i)
		if s.Percent < prev || s.Percent > 100 {
			v.addf(f+".percent", "%g must be at least the previous step's %g and at most 100", s.Percent, prev)
		}
		if i > 0 && s.Percent == steps[i-1].Percent {
			v.addf(f+".percent", "%g repeats the previous step", s.Percent)
		}
		prev = s.Percent
		if s.Bake < 0 {
			v.addf(f+".bake", "must not be negative")
		}
	}
	if len(steps) > 0 && steps[len(steps)-1].Percent != 100 {
		v.addf(fmt.Sprintf("rollout.steps[%d].percent", len(steps)-1), "the last step must be 100 (got %g)", steps[len(steps)-1].Percent)
	}
}

func (p *Policy) validateTraffic(v *validator) {
	switch p.Traffic.Backend {
	case BackendWebhook:
		if !strings.HasPrefix(p.Traffic.URL, "http://") && !strings.HasPrefix(p.Traffic.URL, "https://") {
			v.addf("traffic.url", "a webhook backend needs an http(s) URL (got %q)", p.Traffic.URL)
		}
		if len(p.Traffic.Kubernetes) > 0 {
			v.addf("traffic.kubernetes", "is for the %s and %s backends, not webhook", BackendGatewayAPI, BackendArgoRollouts)
		}
	case BackendGatewayAPI, BackendArgoRollouts:
		p.validateKube(v)
	default:
		v.addf("traffic.backend", "must be %s, %s or %s (got %q)", BackendWebhook, BackendGatewayAPI, BackendArgoRollouts, p.Traffic.Backend)
	}
	p.validateTrafficToken(v)
	if r := p.Traffic.StepRetry; r != 0 && (r.D() < MinStepRetry || r.D() > MaxStepRetry) {
		v.addf("traffic.stepRetry", "must be between %s and %s (got %s)", MinStepRetry, MaxStepRetry, r)
	}
	switch p.Rollout.Concurrency {
	case "", LaneQueue, LaneSupersede:
	default:
		v.addf("rollout.concurrency", "must be %s or %s (got %q)", LaneQueue, LaneSupersede, p.Rollout.Concurrency)
	}
}

func (p *Policy) validateChains(v *validator) {
	for i, c := range p.Chains {
		f := fmt.Sprintf("chains[%d]", i)
		if !slices.Contains(ChainRoles, c.Role) {
			v.addf(f+".role", "must be testnet or mainnet (got %q)", c.Role)
		}
		if c.ChainID == 0 {
			v.addf(f+".chainId", "is required")
		}
		if name, ok := KnownMainnets[c.ChainID]; ok && p.Profile == ProfileDev {
			v.addf(f+".chainId", "%d is %s mainnet: the dev profile is refused for it", c.ChainID, name)
		}
		if c.Confirmations < 1 {
			v.addf(f+".confirmations", "must be at least 1")
		}
		if c.Name == "" {
			v.addf(f+".name", "is required")
		}
		if c.RPC == "" {
			v.addf(f+".rpc", "is required")
		}
		if !keyNameRE.MatchString(c.Deployer) {
			v.addf(f+".deployer", "must name a worker key (A-Z, 0-9, _), not hold one (got %q)", c.Deployer)
		}
		if c.MaxFeeGwei < 0 || c.MaxTipGwei < 0 || (c.MaxFeeGwei > 0 && c.MaxTipGwei > c.MaxFeeGwei) {
			v.addf(f+".maxTipGwei", "fee caps must not be negative and the tip cap not above the fee cap")
		}
		p.validateGovernance(v, f, c)
		for j := range i {
			if p.Chains[j].Role == c.Role {
				v.addf(f+".role", "a second %s chain: one chain per role", c.Role)
			}
		}
	}
	if u := p.Contracts.UpgradeAt; u != StageCanary && u != StageProduction {
		v.addf("contracts.upgradeAt", "must be canary or production (got %q)", u)
	}
}

// BelowFloor lists the production windows this policy sets below the seed's numbers; the
// workflow holds each at the floor unless two release managers break glass for it. Since
// validation enforces the floors (floors.go) it is empty for every valid production policy;
// it stays because the workflow calls it, and replaying releases started before then needs it.
func (p *Policy) BelowFloor() map[string]time.Duration {
	out := map[string]time.Duration{}
	if p.Profile != ProfileProduction {
		return out
	}
	if p.Windows.TestnetSoak.D() < FloorTestnetSoak {
		out[WindowTestnetSoak] = FloorTestnetSoak
	}
	if p.Windows.CanaryWatchMin.D() < FloorCanaryWatchMin {
		out[WindowCanaryWatch] = FloorCanaryWatchMin
	}
	return out
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

// Resolve finds the member an identity (id, email or Slack id) names.
func (p *Policy) Resolve(identity string) (Member, bool) {
	for _, name := range slices.Sorted(maps.Keys(p.Groups)) {
		for _, m := range p.Groups[name].Members {
			if m.Is(identity) {
				return m, true
			}
		}
	}
	return Member{}, false
}

// InGroup reports whether the identity belongs to the group.
func (p *Policy) InGroup(group, identity string) bool {
	for _, m := range p.Groups[group].Members {
		if m.Is(identity) {
			return true
		}
	}
	return false
}

// ValidateRelease checks a manifest against the policy before anything starts: every
// applicable signoff can be met without the author, and evidence names real checks.
func ValidateRelease(manifestFile string, m *Manifest, p *Policy) error {
	return validateRelease(manifestFile, m, p, true)
}

// validateRelease is ValidateRelease; governed says whether the governed-mainnet rule is part
// of it (the workflow asks that rule separately: GovernedMainnet).
func validateRelease(manifestFile string, m *Manifest, p *Policy, governed bool) error {
	v := &validator{file: manifestFile}
	author, _ := p.Resolve(m.Author)
	for _, g := range p.Gates {
		for _, c := range g.Checks {
			applies, _ := c.Applies(m.Changes)
			if !applies || c.Kind != KindSignoff {
				continue
			}
			eligible := 0
			for _, mem := range p.Groups[c.Group].Members {
				if mem.ID != author.ID && mem.ID != m.Author && mem.Email != m.Author && mem.Slack != m.Author {
					eligible++
				}
			}
			if eligible < c.Approvals {
				v.addf("author", "check %q needs %d approvers from group %q but only %d are not the author %q", c.Name, c.Approvals, c.Group, eligible, m.Author)
			}
		}
	}
	if governed {
		validateGovernedRelease(v, m, p)
	}
	if len(m.Contracts) > 0 {
		for _, role := range ChainRoles {
			if _, ok := p.ChainFor(role); !ok {
				v.addf("contracts", "the release deploys contracts but the policy has no %s chain", role)
			}
		}
	}
	for _, name := range m.evidenceChecks() {
		_, c := p.FindCheck(name)
		if c == nil {
			v.addf("evidence["+name+"]", "the policy has no check named %q", name)
		} else if c.Kind == KindSignoff {
			v.addf("evidence["+name+"]", "%q is a signoff check: people approve it, it reads no evidence", name)
		}
	}
	for _, g := range p.Gates {
		for _, c := range g.Checks {
			if applies, _ := c.Applies(m.Changes); applies && c.Kind == KindEvidence && m.EvidenceCount(c.Name) == 0 {
				v.addf("evidence", "check %q (gate %s) applies to this release but the manifest names no evidence for it", c.Name, g.ID)
			}
		}
	}
	return v.err()
}

// DefaultPolicyName is the name of the policy a release runs under when it names none.
const DefaultPolicyName = "default"

// ValidPolicyName reports whether name can name a worker policy (the file NAME.yaml in the
// worker's policy directory): lower-case letters, digits and dashes, so it is never a path.
func ValidPolicyName(name string) bool { return nameRE.MatchString(name) }

// PolicyNameOf is the name a policy file is known by on a worker: its base name without .yaml.
func PolicyNameOf(path string) string {
	return strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".yaml"), ".yml")
}

// LoadRelease reads and validates the manifest a release manager starts a release with. Its
// evidence and artifacts are still locations: the starter uploads them (evstore.Upload). The
// policy is the worker's: the workflow validates the manifest against it again.
func LoadRelease(manifestPath string) (*Manifest, error) {
	return LoadManifest(manifestPath)
}

// Load reads a manifest and a policy file a caller holds (the embedded stack's policy
// directory, tests) and validates them against each other, as the workflow will: it returns
// the input naming the policy by its file name, and the policy. The input's evidence and
// artifacts are still locations relative to the manifest: upload them (evstore.Upload)
// before starting.
func Load(manifestPath, policyPath string, types CheckTypes) (Input, *Policy, error) {
	m, err := LoadManifest(manifestPath)
	if err != nil {
		return Input{}, nil, err
	}
	p, err := LoadPolicy(policyPath, types)
	if err != nil {
		return Input{}, nil, err
	}
	if err := ValidateRelease(manifestPath, m, p); err != nil {
		return Input{}, nil, err
	}
	return Input{Manifest: *m, PolicyName: PolicyNameOf(policyPath)}, p, nil
}
