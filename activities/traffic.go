package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"go.temporal.io/sdk/activity"

	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
	"github.com/shipgate/shipgate/internal/traffic"
)

// Traffic deploys versions and moves traffic through the policy's backend.
type Traffic struct {
	HTTP    *http.Client
	Metrics *telemetry.Metrics
	// Getenv reads the backend's token by the name the policy gives; os.Getenv by default.
	Getenv func(string) string
}

// SetTraffic applies one traffic change; the idempotency key makes retries harmless.
func (t *Traffic) SetTraffic(ctx context.Context, req release.TrafficRequest) error {
	backend, err := t.backend(req.Backend)
	if err != nil {
		return nonRetryable(err, "TrafficConfig")
	}
	change := traffic.Change{Service: req.Service, Version: req.Version, PreviousVersion: req.PreviousVersion,
		Environment: req.Environment, Percent: req.Percent}
	err = backend.Apply(ctx, req.IdempotencyKey, change)
	result := "ok"
	if err != nil {
		result = "error"
	}
	if t.Metrics != nil {
		t.Metrics.TrafficMoves.WithLabelValues(req.Environment, result).Inc()
	}
	activity.GetLogger(ctx).Info("traffic change", "environment", req.Environment, "version", req.Version,
		"percent", req.Percent, "key", req.IdempotencyKey, "result", result)
	var se *traffic.StatusError
	if errors.As(err, &se) && se.Permanent() {
		return nonRetryable(err, "TrafficRefused")
	}
	return err
}

func (t *Traffic) backend(cfg release.Traffic) (traffic.Backend, error) {
	switch cfg.Backend {
	case "webhook":
		getenv := t.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		var token string
		if cfg.TokenEnv != "" {
			if token = getenv(cfg.TokenEnv); token == "" {
				return nil, fmt.Errorf("traffic backend token: environment variable %s is not set on the worker", cfg.TokenEnv)
			}
		}
		return &traffic.Webhook{URL: cfg.URL, Token: token, Client: t.HTTP}, nil
	}
	return nil, fmt.Errorf("unknown traffic backend %q", cfg.Backend)
}
