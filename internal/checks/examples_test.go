package checks

import (
	"path/filepath"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

// The documented examples must stay valid against their policies and the real catalogue.
func TestDocumentedExamplesValidate(t *testing.T) {
	deployments := filepath.Join("..", "..", "deployments")
	m, err := release.LoadManifest(filepath.Join(deployments, "examples", "production", "release.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := release.DefaultPolicy(Validate)
	if err != nil {
		t.Fatal(err)
	}
	if err := release.ValidateRelease("release.yaml", m, p); err == nil {
		t.Error("a release with contracts validated against the default policy, which has no chains")
	}
	for _, ex := range []struct{ manifest, policy string }{
		{"examples/production/release.yaml", "examples/production/policy.yaml"},
		{"examples/demo/release.yaml", "policies/demo.yaml"},
		{"examples/demo/release-v1.yaml", "policies/demo.yaml"},
	} {
		if _, _, err := release.Load(filepath.Join(deployments, ex.manifest), filepath.Join(deployments, ex.policy), Validate); err != nil {
			t.Errorf("%s: %v", ex.manifest, err)
		}
	}
}
