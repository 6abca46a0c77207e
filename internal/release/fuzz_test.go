package release

import (
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/promotion"
)

// The loaders must never panic, and whatever they accept must satisfy the invariants the
// workflow relies on.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(goodManifest))
	f.Add([]byte("service: a\nversion: 1.0.0\npreviousVersion: 0.9.0\nauthor: x\ncontracts:\n  - {name: Token, artifact: out/Token.json, proxy: {kind: uups}}\nchanges: {contracts: true}\n"))
	f.Add([]byte("service: a\nversion: 1.0.0\npreviousVersion: 0.9.0\nauthor: x\nchanges: {contracts: true}\ncontracts:\n  - name: Counter\n    artifact: a/standard-output.json\n    contractName: CounterV1\n    args: [\"1\", \"[1,2]\"]\n    proxy: {kind: transparent, initializer: initialize, initArgs: [\"0x01\"], artifact: a/p.json, contractName: ERC1967Proxy}\n"))
	f.Add([]byte("{"))
	f.Add([]byte("service: [a, b]"))
	f.Add([]byte("evidence: {x: []}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest("release.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "release.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if !serviceRE.MatchString(m.Service) || !versionRE.MatchString(m.Version) || m.Version == m.PreviousVersion || m.Author == "" {
			t.Fatalf("accepted an invalid manifest: %+v", m)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(DefaultPolicyYAML())
	f.Add([]byte("profile: dev\ngates: []\n"))
	f.Add([]byte("windows: {testnetSoak: 1d}\n"))
	f.Add([]byte("groups: {a: {members: [{id: x, email: y}, {id: y}]}}"))
	// the seed weakened: a lower threshold, a dropped step, a shorter bake, a pausing canary
	weak := strings.NewReplacer(`min: "80"`, `min: "70"`, "    - {percent: 25, bake: 24h}\n", "",
		"{percent: 100, bake: 24h}", "{percent: 100, bake: 1h}", "traffic:\n", "onFailure: {canary: pause}\ntraffic:\n")
	f.Add([]byte(weak.Replace(string(DefaultPolicyYAML()))))
	// keys: a member's, the Slack bridge's, one shared by two identities, one that is no key
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbzLmfhVD2UPhjl2bJl3Xsp8KEKqTFE1S1XVfkqcAsU bob"
	keyed := strings.NewReplacer("{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005}",
		"{id: bob, name: Bob, email: bob@example.com, slack: U0BOB0005, sshKeys: [\""+key+"\"]}")
	f.Add([]byte(keyed.Replace(string(DefaultPolicyYAML())) + "slackBridgeKeys: [\"" + key + "\"]\n"))
	f.Add([]byte(keyed.Replace(string(DefaultPolicyYAML())) + "slackBridgeKeys: [\"ssh-dss AAAA nope\"]\nroles: {starters: [nobody]}\n"))
	// promotion windows, good and bad
	f.Add(append(DefaultPolicyYAML(), promotionYAML...))
	// a Kubernetes backend
	f.Add([]byte(strings.Replace(string(DefaultPolicyYAML()), "backend: webhook", "backend: gatewayapi\n  kubernetes: [{name: production, namespace: demo, image: r/demo, route: demo, stableService: a, canaryService: b}]", 1)))
	f.Add([]byte(strings.Replace(string(DefaultPolicyYAML()), "backend: webhook", "backend: gatewayapi\n  kubernetes: [{name: production, namespace: demo, image: r/demo, route: demo, stableService: a, canaryService: b, deploy: image, stableDeployment: a, canaryDeployment: b, container: c}]", 1)))
	f.Add([]byte(strings.Replace(string(DefaultPolicyYAML()), "backend: webhook", "backend: argorollouts\n  kubernetes: [{name: production, namespace: demo, image: r/demo, rollout: demo, deploy: patch, port: 99999}]", 1)))
	f.Add(append(DefaultPolicyYAML(), strings.ReplaceAll(promotionYAML, "Europe/Berlin", "../etc/passwd")...))
	// governance: good, and with a checksum typo
	f.Add(governedPolicy(goodGov))
	f.Add(governedPolicy(strings.Replace(goodGov, "0x5FbDB", "0x5fbDB", 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("policy.yaml", data, knownTypes)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "policy.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(p.Gates) == 0 || len(p.Rollout.Steps) == 0 || p.Rollout.Steps[len(p.Rollout.Steps)-1].Percent != 100 {
			t.Fatalf("accepted a policy without gates or a full rollout: %+v", p)
		}
		if p.Profile == ProfileProduction && (p.Canary.Percent < MinCanaryPercent || p.Canary.Percent > MaxCanaryPercent) {
			t.Fatalf("production canary %g accepted", p.Canary.Percent)
		}
		if p.Profile == ProfileProduction && (len(p.BelowFloor()) > 0 || p.Analysis == nil || p.FailureAction(StageCanary) != "rollback") {
			t.Fatalf("production policy below the floors accepted: %+v", p)
		}
		for _, c := range p.Chains {
			if g := c.Governance; g != nil {
				if g.Threshold < 1 || g.Threshold > len(g.Owners) || g.MinDelay <= 0 || checkAddress(g.Safe) != "" || checkAddress(g.Timelock) != "" {
					t.Fatalf("accepted invalid governance %+v", g)
				}
				if p.Profile == ProfileProduction && (g.Threshold < FloorGovernanceThreshold || g.MinDelay.D() < FloorGovernanceDelay) {
					t.Fatalf("production governance below the floors accepted: %+v", g)
				}
			}
		}
		owners := map[string]string{}
		for _, g := range p.Groups {
			for _, m := range g.Members {
				for _, k := range m.SSHKeys {
					if o, ok := owners[k]; ok && o != m.ID {
						t.Fatalf("key listed for %s and %s accepted", o, m.ID)
					}
					owners[k] = m.ID
				}
			}
		}
		if _, err := promotion.CompileRules(p.Promotion); err != nil {
			t.Fatalf("accepted a promotion window that does not compile: %v", err)
		}
		_ = p.Digest()
	})
}
