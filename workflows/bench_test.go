package workflows

import (
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/release"
)

// BenchmarkDefaultLifecycle is the wall time of a whole default-policy release (18 days of
// timers, every gate, 13 signoffs) under the time-skipping test environment.
func BenchmarkDefaultLifecycle(b *testing.B) {
	for range b.N {
		h := newHarness(b, nil)
		h.approveEvery(time.Minute, 30*time.Minute)
		if res := h.run(); res.State != release.StateSucceeded {
			b.Fatalf("ended %s", res.State)
		}
	}
}
