package checks

import (
	"path/filepath"
	"testing"

	"github.com/shipgate/shipgate/internal/release"
)

// The documented examples must stay valid against the default policy and the real catalogue.
func TestDocumentedExamplesValidate(t *testing.T) {
	for _, ex := range []struct{ manifest, policy string }{
		{"production/release.yaml", ""},
		{"demo/release.yaml", "demo/policy.yaml"},
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
