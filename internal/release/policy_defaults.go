package release

import (
	_ "embed"
	"fmt"
	"time"
)

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

// DefaultPolicy parses the embedded seed policy.
func DefaultPolicy(types CheckTypes) (*Policy, error) {
	return ParsePolicy("default_policy.yaml", defaultPolicyYAML, types)
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
