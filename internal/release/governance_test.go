package release

import (
	"strings"
	"testing"
)

// Real EIP-55 spellings (from go-ethereum's common.Address.Hex).
const (
	govSafe  = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
	govLock  = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
	govMulti = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"
	ownerA   = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
	ownerB   = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
	ownerC   = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
)

// governedPolicy is the seed policy with chains whose mainnet is governed by gov (YAML flow).
func governedPolicy(gov string) []byte {
	return append(DefaultPolicyYAML(), []byte(`chains:
  - {name: sepolia, role: testnet, chainId: 11155111, rpc: "http://127.0.0.1:1", confirmations: 2}
  - name: ethereum
    role: mainnet
    chainId: 1
    rpc: "http://127.0.0.1:2"
    confirmations: 12
    governance: `+gov+`
`)...)
}

const goodGov = `{safe: "` + govSafe + `", timelock: "` + govLock + `", multiSend: "` + govMulti + `", owners: ["` + ownerA + `", "` + ownerB + `", "` + ownerC + `"], threshold: 2, minDelay: 48h}`

func TestGovernancePolicy(t *testing.T) {
	p, err := ParsePolicy("policy.yaml", governedPolicy(goodGov), knownTypes)
	if err != nil {
		t.Fatalf("good governance refused: %v", err)
	}
	c, _ := p.ChainFor("mainnet")
	if c.Governance == nil || c.Governance.Threshold != 2 || len(c.Governance.Owners) != 3 || c.Governance.MinDelay.D().Hours() != 48 {
		t.Fatalf("governance not read: %+v", c.Governance)
	}
	bad := map[string]struct{ from, to, want string }{
		"typo":      {govSafe, strings.Replace(govSafe, "F", "f", 1), "fails its EIP-55 checksum"},
		"short":     {govLock, "0x1234", "is not an address"},
		"zero":      {govMulti, "0x0000000000000000000000000000000000000000", "the zero address"},
		"same":      {govMulti, govLock, "three different contracts"},
		"twice":     {ownerC, ownerA, "listed twice"},
		"safeowner": {ownerC, govSafe, "is the safe, not a person's wallet"},
		"threshold": {"threshold: 2", "threshold: 4", "between 1 and the number of owners (3), got 4"},
		"floor":     {"threshold: 2", "threshold: 1", "a production policy needs at least 2 approvals"},
		"delay":     {"minDelay: 48h", "minDelay: 1h", "a production policy needs a delay of at least 1d"},
		"fraction":  {"minDelay: 48h", "minDelay: 1500ms", "whole number of seconds"},
	}
	for name, tc := range bad {
		src := governedPolicy(strings.Replace(goodGov, tc.from, tc.to, 1))
		_, err := ParsePolicy("policy.yaml", src, knownTypes)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, tc.want)
			continue
		}
		// the error names the file, the line of the chain's governance and the field
		if !strings.Contains(err.Error(), "policy.yaml:") || !strings.Contains(err.Error(), "chains[1].governance") {
			t.Errorf("%s: error does not name file:line and field: %v", name, err)
		}
	}
}

// A release that switches proxies on a governed chain is accepted: the workflow takes the
// governed path (the worker's key never switches such a proxy; activities refuse it).
func TestGovernedChainAcceptsProxySwitch(t *testing.T) {
	p, err := ParsePolicy("policy.yaml", governedPolicy(goodGov), knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest("release.yaml", []byte("service: a\nversion: 1.0.0\npreviousVersion: 0.9.0\nauthor: x\nchanges: {contracts: true}\ncontracts:\n  - {name: Counter, artifact: out/Counter.json, proxy: {kind: uups}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// the manifest names no evidence, so validation fails for that, never for the governance
	if err := ValidateRelease("release.yaml", m, p); err == nil || strings.Contains(err.Error(), "governed") {
		t.Fatalf("proxy switch on a governed chain: %v", err)
	}
}

// A production policy whose mainnet is not governed refuses a release that switches proxies
// there (the worker's key alone would upgrade them); with governance, or without proxies, or
// under the dev profile, that rule says nothing.
func TestProductionMainnetGovernedForProxySwitches(t *testing.T) {
	ungoverned := append(DefaultPolicyYAML(), []byte(`chains:
  - {name: sepolia, role: testnet, chainId: 11155111, rpc: "http://127.0.0.1:1", confirmations: 2}
  - {name: ethereum, role: mainnet, chainId: 1, rpc: "http://127.0.0.1:2", confirmations: 12}
`)...)
	const proxied = "service: a\nversion: 1.0.0\npreviousVersion: 0.9.0\nauthor: x\nchanges: {contracts: true}\ncontracts:\n  - {name: Counter, artifact: out/Counter.json, proxy: {kind: uups}}\n  - {name: Token, artifact: out/Token.json}\n"
	const plain = "service: a\nversion: 1.0.0\npreviousVersion: 0.9.0\nauthor: x\nchanges: {contracts: true}\ncontracts:\n  - {name: Token, artifact: out/Token.json}\n"
	const rule = "contracts: the release switches the proxies of Counter on mainnet chain \"ethereum\", which the production policy does not govern"
	for _, tc := range []struct {
		name, policy, manifest string
		refused                bool
	}{
		{"production, ungoverned mainnet, proxy", string(ungoverned), proxied, true},
		{"production, governed mainnet, proxy", string(governedPolicy(goodGov)), proxied, false},
		{"production, ungoverned mainnet, no proxy", string(ungoverned), plain, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy("policy.yaml", []byte(tc.policy), knownTypes)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ParseManifest("release.yaml", []byte(tc.manifest))
			if err != nil {
				t.Fatal(err)
			}
			// the manifest names no evidence, so validation fails for that in every case
			err = ValidateRelease("release.yaml", m, p)
			if err == nil {
				t.Fatal("validated a manifest without evidence")
			}
			if got := strings.Contains(err.Error(), "release.yaml: "+rule); got != tc.refused {
				t.Fatalf("refused for the ungoverned mainnet: %v, want %v:\n%v", got, tc.refused, err)
			}
			if got := GovernedMainnet(m, p) != nil; got != tc.refused {
				t.Fatalf("GovernedMainnet refused: %v, want %v", got, tc.refused)
			}
			// the workflow asks the rule on its own, behind a version marker
			if err := ValidateInput(m, p); err != nil && strings.Contains(err.Error(), rule) {
				t.Fatalf("ValidateInput carries the rule: %v", err)
			}
		})
	}
	// the dev profile governs nothing by force (its chains are dev chains)
	p, err := ParsePolicy("policy.yaml", []byte(strings.Replace(string(ungoverned), "chainId: 1,", "chainId: 31338,", 1)), knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	p.Profile = ProfileDev
	m, _ := ParseManifest("release.yaml", []byte(proxied))
	if err := GovernedMainnet(m, p); err != nil {
		t.Fatalf("dev profile: %v", err)
	}
}
