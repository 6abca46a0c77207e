package release

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/shipgate/shipgate/internal/analysis"
)

// Production floors: a policy of profile production may be stricter than the seed
// (default_policy.yaml) anywhere and looser nowhere. Every rule is one function below; the
// canary share (1–5 %) and canaryWatchMax ≥ canaryWatchMin are checked by validateWindows.

// FloorStepBake is the shortest bake of any production rollout step.
const FloorStepBake = DefaultStepBake

// ParamFloor returns nil when the value got of a check param (empty: absent, so its default)
// is at least as strict as the seed's value (empty: absent), and otherwise the reason. The
// catalogue of check types knows which way each param is stricter (internal/checks).
type ParamFloor func(kind CheckKind, typ, param, seed, got string) error

// paramFloor is the catalogue's ParamFloor; without one, a param must keep the seed's value.
var paramFloor ParamFloor = sameParam

// RegisterParamFloor installs the catalogue's ParamFloor. internal/checks calls it from its
// init, so that every program validating policies against the real catalogue also compares
// params with it (release cannot import the catalogue: the catalogue imports release).
func RegisterParamFloor(f ParamFloor) { paramFloor = f }

// sameParam is the floor when no catalogue is linked in: any change could be a weakening.
func sameParam(_ CheckKind, _, param, seed, got string) error {
	if seed != got {
		return fmt.Errorf("%q differs from the seed's %q (no catalogue of check types says which way %s is stricter)", got, seed, param)
	}
	return nil
}

// seedPolicy is the seed decoded once, unvalidated (its own tests validate it), so that
// validating a policy never recurses into validating the seed.
var seedPolicy = sync.OnceValues(func() (*Policy, error) {
	var p Policy
	if _, err := decodeStrict("default_policy.yaml", defaultPolicyYAML, &p); err != nil {
		return nil, err
	}
	p.applyDefaults()
	return &p, nil
})

// validateFloors holds a production policy to the seed's floors, and every policy's testnet
// off known mainnets.
func (p *Policy) validateFloors(v *validator) {
	p.testnetNotMainnet(v)
	if p.Profile != ProfileProduction {
		return
	}
	seed, err := seedPolicy()
	if err != nil {
		v.addf("", "the seed policy does not load, so its floors cannot be checked: %v", err)
		return
	}
	for _, sg := range seed.Gates {
		p.gateFloor(v, sg)
	}
	p.windowFloors(v)
	p.rolloutFloors(v, seed.Rollout)
	p.analysisFloors(v)
}

// testnetNotMainnet: the testnet chain is where contracts are tried, never a known mainnet.
func (p *Policy) testnetNotMainnet(v *validator) {
	for i, c := range p.Chains {
		if name, ok := KnownMainnets[c.ChainID]; ok && c.Role == ChainTestnet {
			v.addf(fmt.Sprintf("chains[%d].chainId", i), "%d is %s mainnet: the testnet chain must not be a mainnet", c.ChainID, name)
		}
	}
}

// gateFloor: the seed's gate is there, before the same stage or earlier, with every check.
func (p *Policy) gateFloor(v *validator, seed Gate) {
	i := slices.IndexFunc(p.Gates, func(g Gate) bool { return g.ID == seed.ID })
	if i < 0 {
		v.addf("gates", "gate %s (%s) of the seed is missing: a production policy keeps every gate of the seed", seed.ID, seed.Name)
		return
	}
	g, f := p.Gates[i], fmt.Sprintf("gates[%d]", i)
	if slices.Index(Stages, g.Before) > slices.Index(Stages, seed.Before) {
		v.addf(f+".before", "%s is later than the seed's %s: gate %s must hold before %s or earlier", g.Before, seed.Before, seed.ID, seed.Before)
	}
	for _, sc := range seed.Checks {
		j := slices.IndexFunc(g.Checks, func(c Check) bool { return c.Name == sc.Name })
		if j < 0 {
			where := ""
			if other, _ := p.FindCheck(sc.Name); other != nil {
				where = fmt.Sprintf(" (it is in gate %s instead)", other.ID)
			}
			v.addf(f+".checks", "check %q of the seed's gate %s is missing%s: a production policy keeps every check of the seed in its gate", sc.Name, seed.ID, where)
			continue
		}
		p.checkFloor(v, fmt.Sprintf("%s.checks[%d]", f, j), sc, g.Checks[j])
	}
}

// checkFloor: the same kind and type, applying at least as often, at least as strict.
func (p *Policy) checkFloor(v *validator, f string, seed, got Check) {
	if got.Kind != seed.Kind {
		v.addf(f+".kind", "%s differs from the seed's %s for check %q", got.Kind, seed.Kind, seed.Name)
		return
	}
	if got.Type != seed.Type {
		v.addf(f+".type", "%s differs from the seed's %s for check %q", got.Type, seed.Type, seed.Name)
		return
	}
	whenFloor(v, f, seed.When, got.When)
	if seed.Kind == KindSignoff {
		p.signoffFloor(v, f, seed, got)
		return
	}
	paramFloors(v, f, seed, got)
}

// whenFloor: a check may apply to more changes than the seed's (no when: always), never fewer.
func whenFloor(v *validator, f string, seed, got []Condition) {
	if len(got) == 0 {
		return
	}
	if len(seed) == 0 {
		v.addf(f+".when", "the seed's check applies to every change: remove when (got %v)", got)
		return
	}
	for _, c := range seed {
		if !slices.Contains(got, c) {
			v.addf(f+".when", "drops the seed's condition %s: the check would skip changes the seed checks", c)
		}
	}
}

// signoffFloor: at least the seed's approvals, from a group with members.
func (p *Policy) signoffFloor(v *validator, f string, seed, got Check) {
	if got.Approvals < seed.Approvals {
		v.addf(f+".approvals", "%d is below the seed's %d for check %q", got.Approvals, seed.Approvals, seed.Name)
	}
	if len(p.Groups[got.Group].Members) == 0 {
		v.addf(f+".group", "group %q has no members: nobody could sign off %q", got.Group, seed.Name)
	}
}

// paramFloors: every param the seed or the policy sets is at least as strict as the seed's.
func paramFloors(v *validator, f string, seed, got Check) {
	names := map[string]bool{}
	for name := range seed.Params {
		names[name] = true
	}
	for name := range got.Params {
		names[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if err := paramFloor(seed.Kind, seed.Type, name, seed.Params[name], got.Params[name]); err != nil {
			v.addf(f+".params."+name, "%v", err)
		}
	}
}

// windowFloors: the soak and the canary watch are at least the seed's, the watch at most 48 h.
func (p *Policy) windowFloors(v *validator) {
	w := p.Windows
	for _, fl := range []struct {
		field string
		got   Duration
		floor time.Duration
	}{
		{"windows.testnetSoak", w.TestnetSoak, FloorTestnetSoak},
		{"windows.canaryWatchMin", w.CanaryWatchMin, FloorCanaryWatchMin},
	} {
		if fl.got.D() < fl.floor {
			v.addf(fl.field, "%s is below the production floor %s (break-glass by two release managers cuts a running window short)", fl.got, Duration(fl.floor))
		}
	}
	if w.CanaryWatchMax.D() > MaxCanaryWatch {
		v.addf("windows.canaryWatchMax", "%s is above the production ceiling %s: a canary decides within two days", w.CanaryWatchMax, Duration(MaxCanaryWatch))
	}
}

// rolloutFloors: every step of the seed is a step (more in between are fine), each baking at
// least FloorStepBake.
func (p *Policy) rolloutFloors(v *validator, seed Rollout) {
	have := map[float64]bool{}
	for i, s := range p.Rollout.Steps {
		have[s.Percent] = true
		if s.Bake.D() < FloorStepBake {
			v.addf(fmt.Sprintf("rollout.steps[%d].bake", i), "%s is below the production floor %s", s.Bake, Duration(FloorStepBake))
		}
	}
	var want []float64
	for _, s := range seed.Steps {
		want = append(want, s.Percent)
	}
	sort.Float64s(want)
	for _, pct := range want {
		if !have[pct] {
			v.addf("rollout.steps", "has no %g %% step: a production rollout passes through %v %% (more steps in between are fine)", pct, want)
		}
	}
}

// analysisFloors: the canary and every step are analysed, and a failure rolls back by itself.
func (p *Policy) analysisFloors(v *validator) {
	if p.Analysis == nil {
		v.addf("analysis", "is required in production: the canary and every rollout step are watched with live metrics (see the seed's)")
	} else if !slices.ContainsFunc(p.Analysis.Metrics, func(m analysis.Metric) bool { return !m.DryRun }) && len(p.Analysis.Metrics) > 0 {
		v.addf("analysis.metrics", "every metric is dryRun: nothing would decide; at least one metric must count")
	}
	for _, s := range []Stage{StageCanary, StageProduction} {
		if p.FailureAction(s) == FailurePause {
			v.addf("onFailure["+string(s)+"]", "pause is refused in production: a failed analysis rolls back automatically")
		}
	}
}
