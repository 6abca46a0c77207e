package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/crashpoint"
	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
	"github.com/shipgate/shipgate/internal/traffic"
	"github.com/shipgate/shipgate/internal/traffic/argorollouts"
	"github.com/shipgate/shipgate/internal/traffic/gatewayapi"
)

// Traffic deploys versions and moves traffic through the policy's backend.
type Traffic struct {
	HTTP    *http.Client
	Metrics *telemetry.Metrics
	// Getenv reads the backend's token from the worker's secret namespace
	// (release.SecretEnv: SHIPGATE_SECRET_<NAME> only); os.Getenv by default.
	Getenv func(string) string
	// Kube connects to the Kubernetes API server of the gatewayapi and argorollouts backends
	// (kube.Lazy: the kubeconfig the worker's operator names, or in-cluster); nil: none.
	Kube func() (*kube.Clients, error)
}

// heartbeatEvery is how often a traffic activity tells Temporal it is alive while it waits
// on the backend: well inside the workflow's HeartbeatTimeout, so a dead worker is noticed
// in seconds and the step retried on another.
const heartbeatEvery = 2 * time.Second

// SetTraffic applies one traffic change; the idempotency key makes retries harmless. A
// refusal (4xx) or a configuration error is final for a forward step and retried for the
// way back (req.Rollback): rolling back must not give up while a person can still fix it.
func (t *Traffic) SetTraffic(ctx context.Context, req release.TrafficRequest) error {
	backend, err := t.backend(req.Backend)
	if err != nil {
		return t.permanent(req, err, "TrafficConfig")
	}
	change := traffic.Change{Service: req.Service, Version: req.Version, PreviousVersion: req.PreviousVersion,
		Environment: req.Environment, Percent: req.Percent}
	stop := func() {}
	if activity.IsActivity(ctx) {
		stop = heartbeat(ctx, heartbeatEvery, func() { activity.RecordHeartbeat(ctx) })
	}
	err = backend.Apply(ctx, req.IdempotencyKey, change)
	if err == nil {
		// a test crash point (package crashpoint): applied, not yet recorded
		crashpoint.Reach(nil, "traffic:"+req.IdempotencyKey[strings.LastIndexByte(req.IdempotencyKey, '/')+1:])
	}
	stop()
	result := "ok"
	if err != nil {
		result = "error"
	}
	if t.Metrics != nil {
		t.Metrics.TrafficMoves.WithLabelValues(req.Environment, result).Inc()
	}
	activity.GetLogger(ctx).Info("traffic change", "environment", req.Environment, "version", req.Version,
		"percent", req.Percent, "key", req.IdempotencyKey, "result", result)
	// the backend refused the change itself (a webhook's 4xx; Kubernetes: forbidden, no such
	// kind or object, an edit by someone else): retrying cannot help a forward step
	var perm interface{ Permanent() bool }
	if errors.As(err, &perm) && perm.Permanent() {
		return t.permanent(req, err, "TrafficRefused")
	}
	return err
}

// permanent is how an error retrying cannot fix is returned: non-retryable for a forward
// step, retryable for the way back.
func (t *Traffic) permanent(req release.TrafficRequest, err error, kind string) error {
	if req.Rollback {
		return temporal.NewApplicationErrorWithCause(err.Error(), kind, err)
	}
	return nonRetryable(err, kind)
}

// heartbeat calls record every interval until stop is called or ctx ends; once stop returns,
// record is not called again (no heartbeat after the activity's answer). Not at once: the
// server counts the heartbeat timeout from the activity's start, and a heartbeat is a write of
// the workflow's state (measured with bench/releases: the heartbeat at the start of each of a
// release's two quick traffic changes was 2 of its ~20 writes of its state through G3).
func heartbeat(ctx context.Context, every time.Duration, record func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				record()
			}
		}
	})
	return sync.OnceFunc(func() { close(done); wg.Wait() })
}

func (t *Traffic) backend(cfg release.Traffic) (traffic.Backend, error) {
	switch cfg.Backend {
	case "webhook":
		token, err := t.token(cfg)
		if err != nil {
			return nil, err
		}
		return &traffic.Webhook{URL: cfg.URL, Token: token, Client: t.HTTP}, nil
	case release.BackendGatewayAPI, release.BackendArgoRollouts:
		if t.Kube == nil {
			return nil, fmt.Errorf("traffic backend %s: this worker has no Kubernetes connection", cfg.Backend)
		}
		clients, err := t.Kube()
		if err != nil {
			return nil, err
		}
		if cfg.Backend == release.BackendGatewayAPI {
			return &gatewayapi.Backend{Kube: clients, Envs: cfg.Kubernetes}, nil
		}
		return &argorollouts.Backend{Kube: clients, Envs: cfg.Kubernetes}, nil
	}
	return nil, fmt.Errorf("unknown traffic backend %q", cfg.Backend)
}

// token reads the backend's bearer token from the secret the policy names, and from nowhere
// else: the input may be forged, so the name is checked here again, and a policy's old
// tokenEnv (any variable, a deployer key too) is never read. Errors name no value.
func (t *Traffic) token(cfg release.Traffic) (string, error) {
	if cfg.TokenSecret == "" {
		return "", nil
	}
	env, err := release.SecretEnv(cfg.TokenSecret)
	if err != nil {
		return "", fmt.Errorf("traffic backend token: tokenSecret %w", err)
	}
	getenv := t.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	token := getenv(env)
	if token == "" {
		return "", fmt.Errorf("traffic backend token: %s is not set on the worker", env)
	}
	return token, nil
}
