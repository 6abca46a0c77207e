package checks

import (
	"path/filepath"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

// The documented examples must stay valid against their policies and the real catalogue.
func TestDocumentedExamplesValidate(t *testing.T) {
	if _, err := release.Load(filepath.Join("..", "..", "deployments", "examples", "production", "release.yaml"), "", Validate); err == nil {
		t.Error("a release with contracts validated against the default policy, which has no chains")
	}
	for _, ex := range []struct{ manifest, policy string }{
		{"production/release.yaml", "production/policy.yaml"},
		{"demo/release.yaml", "demo/policy.yaml"},
		{"demo/release-v1.yaml", "demo/policy.yaml"},
	} {
		policy := ex.policy
		if policy != "" {
			policy = filepath.Join("..", "..", "deployments", "examples", policy)
		}
		if _, err := release.Load(filepath.Join("..", "..", "deployments", "examples", ex.manifest), policy, Validate); err != nil {
			t.Errorf("%s: %v", ex.manifest, err)
		}
	}
}
