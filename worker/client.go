package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/telemetry"
)

// clientOptions are Temporal's connection settings from its standard environment
// configuration (default 127.0.0.1:7233, namespace default), logging and measuring through
// the worker's logger and registry.
func clientOptions(log *zap.Logger, metrics *telemetry.Metrics) (client.Options, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return opts, fmt.Errorf("temporal connection settings: %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = "127.0.0.1:7233"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	opts.Logger = telemetry.NewSDKLogger(log)
	opts.MetricsHandler = telemetry.NewSDKMetrics(metrics.Registry)
	return opts, nil
}

// dial connects to Temporal, waiting for it to come up (the dev server may still be starting).
func dial(ctx context.Context, opts client.Options, log *zap.Logger) (client.Client, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to temporal at %s: %w", opts.HostPort, err)
		}
		log.Warn("temporal not reachable yet", zap.String("address", opts.HostPort), zap.Error(err))
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
	}
}
