package release

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

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

// ValidateRelease checks a manifest against the policy before anything starts: every
// applicable signoff can be met without the author, and evidence names real checks.
func ValidateRelease(manifestFile string, m *Manifest, p *Policy) error {
	return validateRelease(manifestFile, m, p, true)
}

// validateRelease is ValidateRelease; governed says whether the governed-mainnet rule is part
// of it (the workflow asks that rule separately: GovernedMainnet).
func validateRelease(manifestFile string, m *Manifest, p *Policy, governed bool) error {
	v := &validator{file: manifestFile}
	for _, g := range p.Gates {
		for _, c := range g.Checks {
			applies, _ := c.Applies(m.Changes)
			if !applies || c.Kind != KindSignoff {
				continue
			}
			eligible := 0
			for _, mem := range p.Groups[c.Group].Members {
				if !p.SamePerson(mem.ID, m.Author) {
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
