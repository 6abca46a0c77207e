package activities

import (
	"context"

	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// Notify tells the people following a release. Without Slack configured, notices go to the
// log, and nothing fails.
type Notify struct {
	Log     *zap.Logger
	Metrics *telemetry.Metrics
}

// Notify sends one notice.
func (n *Notify) Notify(_ context.Context, notice release.Notice) error {
	if n.Metrics != nil {
		n.Metrics.Notices.WithLabelValues(notice.Kind).Inc()
	}
	if n.Log != nil {
		n.Log.Info("release notice", zap.String("release", notice.ReleaseID), zap.String("kind", notice.Kind),
			zap.String("text", notice.Text), zap.String("key", notice.Key), zap.Time("at", notice.At))
	}
	return nil
}
