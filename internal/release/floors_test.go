package release_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/release"
)

// edit is one change to the seed's text: from must occur in it.
type edit struct{ from, to string }

// seedWith returns the seed policy's text with the edits applied.
func seedWith(t *testing.T, edits ...edit) string {
	t.Helper()
	src := string(release.DefaultPolicyYAML())
	for _, e := range edits {
		if !strings.Contains(src, e.from) {
			t.Fatalf("fixture edit %q not applied", e.from)
		}
		src = strings.Replace(src, e.from, e.to, 1)
	}
	return src
}

// without removes the text from `from` up to (not including) `upTo`.
func without(t *testing.T, from, upTo string) edit {
	t.Helper()
	src := string(release.DefaultPolicyYAML())
	i := strings.Index(src, from)
	j := strings.Index(src[i+1:], upTo)
	if i < 0 || j < 0 {
		t.Fatalf("fixture cut %q..%q not found", from, upTo)
	}
	return edit{src[i : i+1+j], ""}
}

const mainnetTestnet = "\nchains:\n  - {name: eth, role: testnet, chainId: 1, rpc: http://127.0.0.1:8545}\n"

// Each weakening of the seed is refused with the field it is in and why.
func TestProductionFloorsRefuseEveryWeakening(t *testing.T) {
	cases := []struct {
		name   string
		edits  []edit
		field  string
		reason string
	}{
		{"gate missing", []edit{without(t, "  - id: G5", "\nwindows:")},
			"gates", "gate G5 (Business/legal) of the seed is missing"},
		{"gate later", []edit{{"before: staging", "before: testnet"}},
			"gates[0].before", "testnet is later than the seed's staging: gate G1 must hold before staging or earlier"},
		{"check missing", []edit{without(t, "      - {name: lint,", "      - {name: security-warnings")},
			"gates[0].checks", `check "lint" of the seed's gate G1 is missing`},
		{"check moved to a later gate", []edit{without(t, "      - {name: lint,", "      - {name: security-warnings"),
			{"      - {name: product-signoff", "      - {name: lint, kind: evidence, type: sarif}\n      - {name: product-signoff"}},
			"gates[0].checks", `check "lint" of the seed's gate G1 is missing (it is in gate G5 instead)`},
		{"type changed", []edit{{`type: sarif, params: {maxCritical: "0"}`, "type: govulncheck"}},
			"gates[0].checks[3].type", `govulncheck differs from the seed's sarif for check "security-warnings"`},
		{"kind changed", []edit{{"{name: query-budget, kind: signoff, group: reviewers, approvals: 1,", "{name: query-budget, kind: evidence, type: document,"}},
			"gates[1].checks[5].kind", `evidence differs from the seed's signoff for check "query-budget"`},
		{"coverage lower", []edit{{`min: "80"`, `min: "70"`}},
			"gates[0].checks[0].params.min", "70 is below the seed's 80 (a higher min is stricter)"},
		{"pass rate lower", []edit{{`{name: integration-tests, kind: evidence, type: junit, params: {minPassRate: "100"}`, `{name: integration-tests, kind: evidence, type: junit, params: {minPassRate: "95"}`}},
			"gates[0].checks[1].params.minPassRate", "95 is below the seed's 100"},
		{"warnings allowed", []edit{{`{name: lint, kind: evidence, type: sarif, params: {maxErrors: "0", maxWarnings: "0"`, `{name: lint, kind: evidence, type: sarif, params: {maxErrors: "0", maxWarnings: "5"`}},
			"gates[0].checks[2].params.maxWarnings", "5 is above the seed's 0 (a lower maxWarnings is stricter)"},
		{"any tool's SARIF as lint", []edit{{`tools: "staticcheck,golangci-lint"`, `tools: "staticcheck,golangci-lint,gitleaks"`}},
			"gates[0].checks[2].params.tools", "accepts gitleaks, which the seed's tools does not"},
		{"lint without a tool", []edit{{`, tools: "staticcheck,golangci-lint"`, ``}},
			"gates[0].checks[2].params.tools", "accepts anything, the seed only staticcheck, golangci-lint"},
		{"param added looser than its default", []edit{{`params: {maxCritical: "0"}`, `params: {maxCritical: "0", maxHigh: "unlimited"}`}},
			"gates[0].checks[3].params.maxHigh", "unlimited is above the seed's unset (default 0)"},
		{"latency limit dropped", []edit{{`params: {maxP95Ms: "300", maxP99Ms: "800"`, `params: {maxP99Ms: "800"`}},
			"gates[1].checks[3].params.maxP95Ms", "unset (no limit) is above the seed's 300"},
		{"fail rate higher", []edit{{`maxFailRate: "0.01"`, `maxFailRate: "0.05"`}},
			"gates[1].checks[3].params.maxFailRate", "0.05 is above the seed's 0.01"},
		{"one audit", []edit{{`minReports: "2"`, `minReports: "1"`}},
			"gates[2].checks[0].params.minReports", "1 is below the seed's 2"},
		{"cpu budget higher", []edit{{`cpuMax: "2"`, `cpuMax: "4"`}},
			"gates[1].checks[4].params.cpuMax", "4 is above the seed's 2 (a lower cpuMax is stricter)"},
		{"resource window shorter", []edit{{`windowSeconds: "300"`, `windowSeconds: "30"`}},
			"gates[1].checks[4].params.windowSeconds", "30 is below the seed's 300"},
		{"platform dropped", []edit{{`platforms: "linux/amd64,linux/arm64"`, `platforms: "linux/amd64"`}},
			"gates[0].checks[4].params.platforms", "linux/amd64 leaves out the seed's linux/arm64"},
		{"browser dropped", []edit{{`reports: "chromium,firefox,webkit"`, `reports: "chromium,firefox"`}},
			"gates[1].checks[1].params.reports", "leaves out the seed's webkit"},
		{"series dropped", []edit{{"            http_requests_total{service=\"{{.Service}}\",code=~\"5..\"}\n", ""}},
			"gates[3].checks[0].params.queries", `leaves out the seed's http_requests_total{service="{{.Service}}",code=~"5.."}`},
		{"rule labels changed", []edit{{`labels: "service={{.Service}}"`, `labels: "service=nothing"`}},
			"gates[3].checks[1].params.labels", "differs from the seed's"},
		{"condition added to an always check", []edit{{`{name: regression-suite, kind: evidence, type: junit, params: {minPassRate: "100"}}`, `{name: regression-suite, kind: evidence, type: junit, params: {minPassRate: "100"}, when: [major]}`}},
			"gates[1].checks[2].when", "the seed's check applies to every change: remove when"},
		{"condition swapped", []edit{{`params: {minReports: "2"}, when: [contracts]`, `params: {minReports: "2"}, when: [major]`}},
			"gates[2].checks[0].when", "drops the seed's condition contracts"},
		{"one reviewer", []edit{{"group: reviewers, approvals: 2", "group: reviewers, approvals: 1"}},
			"gates[0].checks[5].approvals", `1 is below the seed's 2 for check "peer-review"`},
		{"empty group", []edit{{"  support:\n    members:\n      - {id: ivan, name: Ivan, email: ivan@example.com, slack: U0IVAN012}", "  support:\n    members: []"}},
			"gates[3].checks[6].group", `group "support" has no members`},
		{"short soak", []edit{{"testnetSoak: 14d", "testnetSoak: 7d"}},
			"windows.testnetSoak", "7d is below the production floor 14d"},
		{"short watch", []edit{{"canaryWatchMin: 24h", "canaryWatchMin: 12h"}},
			"windows.canaryWatchMin", "12h0m0s is below the production floor 1d"},
		{"long watch", []edit{{"canaryWatchMax: 48h", "canaryWatchMax: 72h"}},
			"windows.canaryWatchMax", "3d is above the production ceiling 2d"},
		{"watch max below min", []edit{{"canaryWatchMax: 48h", "canaryWatchMax: 20h"}},
			"windows.canaryWatchMax", "is shorter than canaryWatchMin"},
		{"big canary", []edit{{"  percent: 5\n", "  percent: 10\n"}},
			"canary.percent", "a production canary takes 1–5 % of traffic (got 10)"},
		{"small canary", []edit{{"  percent: 5\n", "  percent: 0.5\n"}},
			"canary.percent", "(got 0.5)"},
		{"step skipped", []edit{{"    - {percent: 25, bake: 24h}\n", ""}},
			"rollout.steps", "has no 25 % step: a production rollout passes through [5 25 100] %"},
		{"short bake", []edit{{"{percent: 25, bake: 24h}", "{percent: 25, bake: 6h}"}},
			"rollout.steps[1].bake", "6h0m0s is below the production floor 1d"},
		{"no analysis", []edit{without(t, "\n# Canary and production-step analysis", "\ntraffic:")},
			"analysis", "is required in production"},
		{"analysis decides nothing", []edit{{"      direction: max\n", "      direction: max\n      dryRun: true\n"},
			{"      direction: max\n      minRequests", "      direction: max\n      dryRun: true\n      minRequests"},
			{"      direction: max\n      minRequests", "      direction: max\n      dryRun: true\n      minRequests"}},
			"analysis.metrics", "every metric is dryRun"},
		{"canary pauses", []edit{{"traffic:\n", "onFailure: {canary: pause}\n\ntraffic:\n"}},
			"onFailure[canary]", "pause is refused in production: a failed analysis rolls back automatically"},
		{"production pauses", []edit{{"traffic:\n", "onFailure: {production: pause}\n\ntraffic:\n"}},
			"onFailure[production]", "pause is refused in production"},
		{"testnet is a mainnet", []edit{{"traffic:\n", mainnetTestnet[1:] + "\ntraffic:\n"}},
			"chains[0].chainId", "1 is Ethereum mainnet: the testnet chain must not be a mainnet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := release.ParsePolicy("policy.yaml", []byte(seedWith(t, c.edits...)), checks.Validate)
			var es release.Errors
			if !errors.As(err, &es) {
				t.Fatalf("accepted or not field errors: %v", err)
			}
			for _, e := range es {
				if e.Field == c.field && strings.Contains(e.Reason, c.reason) && e.Line > 0 && e.File == "policy.yaml" {
					return
				}
			}
			t.Fatalf("no error at %s saying %q in:\n%v", c.field, c.reason, err)
		})
	}
}

// Stricter than the seed is always allowed.
func TestProductionFloorsAllowStricter(t *testing.T) {
	cases := []struct {
		name  string
		edits []edit
	}{
		{"higher coverage", []edit{{`min: "80"`, `min: "90"`}}},
		{"fewer findings allowed", []edit{{`params: {maxCritical: "0"}`, `params: {maxCritical: "0", maxHigh: "0", maxNotes: "3"}`}}},
		{"faster load test", []edit{{`maxP95Ms: "300", maxP99Ms: "800", maxFailRate: "0.01"`, `maxP95Ms: "200", maxP99Ms: "500", maxFailRate: "0.001"`}}},
		{"fail rate default", []edit{{`maxP99Ms: "800", maxFailRate: "0.01"}`, `maxP99Ms: "800"}`}}},
		{"three audits", []edit{{`minReports: "2"`, `minReports: "3"`}}},
		{"reachable vulns too", []edit{{"type: govulncheck}", "type: govulncheck, params: {failUnreachable: \"true\"}}"}}},
		{"more platforms", []edit{{`platforms: "linux/amd64,linux/arm64"`, `platforms: "linux/arm64,darwin/arm64,linux/amd64"`}}},
		{"more browsers", []edit{{`reports: "chromium,firefox,webkit"`, `reports: "webkit,edge,chromium,firefox"`}}},
		{"lower cpu budget, longer window", []edit{{`cpuMax: "2"`, `cpuMax: "1.5"`}, {`windowSeconds: "300"`, `windowSeconds: "900"`}}},
		{"more series", []edit{{"            http_request_duration_seconds_bucket{service=\"{{.Service}}\"}\n", "            http_request_duration_seconds_bucket{service=\"{{.Service}}\"}\n            up{job=\"{{.Service}}\"}\n"}}},
		{"always instead of when", []edit{{`params: {minReports: "2"}, when: [contracts]`, `params: {minReports: "2"}`}}},
		{"more conditions", []edit{{"approvals: 1, when: [major]}", "approvals: 1, when: [major, regulated]}"}}},
		{"three reviewers", []edit{{"group: reviewers, approvals: 2", "group: reviewers, approvals: 3"}}},
		{"gate earlier", []edit{{"name: Security\n    before: canary", "name: Security\n    before: testnet"}}},
		{"extra check and gate", []edit{{"\nwindows:", "  - id: G6\n    name: Extra\n    before: production\n    checks:\n      - {name: extra-review, kind: signoff, group: sre}\n\nwindows:"}}},
		{"longer windows", []edit{{"testnetSoak: 14d", "testnetSoak: 21d"}, {"canaryWatchMin: 24h", "canaryWatchMin: 36h"}}},
		{"smaller canary", []edit{{"  percent: 5\n", "  percent: 1\n"}}},
		{"more and longer steps", []edit{{"    - {percent: 25, bake: 24h}\n", "    - {percent: 10, bake: 48h}\n    - {percent: 25, bake: 24h}\n    - {percent: 50, bake: 36h}\n"}}},
		{"explicit rollback", []edit{{"traffic:\n", "onFailure: {canary: rollback, production: rollback}\n\ntraffic:\n"}}},
		{"a real testnet", []edit{{"traffic:\n", "chains:\n  - {name: sepolia, role: testnet, chainId: 11155111, rpc: http://127.0.0.1:8545}\n\ntraffic:\n"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := release.ParsePolicy("policy.yaml", []byte(seedWith(t, c.edits...)), checks.Validate); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSeedAndProductionExampleMeetTheFloors(t *testing.T) {
	if _, err := release.DefaultPolicy(checks.Validate); err != nil {
		t.Fatalf("seed: %v", err)
	}
	p, err := release.LoadPolicy(filepath.Join("..", "..", "deployments", "examples", "production", "policy.yaml"), checks.Validate)
	if err != nil {
		t.Fatalf("production example: %v", err)
	}
	if p.Analysis == nil || len(p.BelowFloor()) != 0 {
		t.Fatalf("production example without analysis or below the floor: %+v", p.Analysis)
	}
}

// The dev profile keeps its short windows and may drop gates and the analysis, but its testnet
// (like any profile's) is never a known mainnet.
func TestDevProfileKeepsItsRelaxedRules(t *testing.T) {
	dev := []edit{{"profile: production", "profile: dev"}, {"testnetSoak: 14d", "testnetSoak: 20s"},
		{"canaryWatchMin: 24h", "canaryWatchMin: 10s"}, {"canaryWatchMax: 48h", "canaryWatchMax: 40s"},
		{`min: "80"`, `min: "10"`}, without(t, "  - id: G5", "\nwindows:"),
		without(t, "\n# Canary and production-step analysis", "\ntraffic:")}
	if _, err := release.ParsePolicy("policy.yaml", []byte(seedWith(t, dev...)), checks.Validate); err != nil {
		t.Fatal(err)
	}
	src := seedWith(t, dev...) + mainnetTestnet
	_, err := release.ParsePolicy("policy.yaml", []byte(src), checks.Validate)
	if err == nil || !strings.Contains(err.Error(), "chains[0].chainId: 1 is Ethereum mainnet: the testnet chain must not be a mainnet") {
		t.Fatalf("dev testnet on mainnet: %v", err)
	}
}
