package devstack

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/shipgate/shipgate/internal/analysis/promtest"
)

// The embedded stack's Prometheus config and SLO rules must be what Prometheus accepts, and
// the rules must fire (and stay quiet) as their unit tests say.
func TestPrometheusConfigAndRulesAreValid(t *testing.T) {
	promtool, err := promtest.Binary("promtool")
	if err != nil {
		t.Fatal(err)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "deployments", "prometheus")
	for _, args := range [][]string{
		{"check", "config", filepath.Join(dir, "prometheus.yml")},
		{"check", "rules", filepath.Join(dir, "rules", "slo.yml")},
		{"test", "rules", filepath.Join(dir, "rules", "slo_test.yml")},
	} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
