package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/shipgate/shipgate/internal/telemetry"
)

// config is the worker's own settings: each a flag whose default is its environment variable.
// (Policies, Slack, the evidence store, Kubernetes and secrets are read by their packages from
// the environment; Temporal's connection from its standard environment configuration.)
type config struct {
	httpAddr, promURL, chainData, otlp, logLevel string
	doraWindow, doraRefresh                      time.Duration
}

// parseConfig reads the flags of the command line.
func parseConfig() config {
	var c config
	flag.StringVar(&c.httpAddr, "http", envOr("SHIPGATE_HTTP_ADDR", "127.0.0.1:9464"), "address of /healthz, /readyz and /metrics (env SHIPGATE_HTTP_ADDR)")
	flag.StringVar(&c.promURL, "prometheus", envOr("SHIPGATE_PROMETHEUS_URL", "http://127.0.0.1:9090"), "Prometheus for probe checks (env SHIPGATE_PROMETHEUS_URL)")
	flag.StringVar(&c.chainData, "chain-data", envOr("SHIPGATE_CHAIN_DATA", ".data/chain"), "directory of the contract nonce store and deployment records, shared by every release (env SHIPGATE_CHAIN_DATA)")
	flag.StringVar(&c.otlp, "otlp-endpoint", os.Getenv(telemetry.EnvOTLPEndpoint), "OTLP/gRPC collector for traces, http://host:4317 (plaintext) or https://host:4317 (TLS); empty: no tracing (env "+telemetry.EnvOTLPEndpoint+")")
	flag.DurationVar(&c.doraWindow, "dora-window", envDuration("SHIPGATE_DORA_WINDOW", 30*24*time.Hour), "period the shipgate_dora_* gauges cover (env SHIPGATE_DORA_WINDOW)")
	flag.DurationVar(&c.doraRefresh, "dora-refresh", envDuration("SHIPGATE_DORA_REFRESH", time.Minute), "how long the shipgate_dora_* gauges are cached between reads of the releases (env SHIPGATE_DORA_REFRESH)")
	flag.StringVar(&c.logLevel, "log-level", envOr("SHIPGATE_LOG_LEVEL", "info"), "debug, info, warn or error (env SHIPGATE_LOG_LEVEL)")
	flag.Parse()
	return c
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// envDuration is the duration in the environment variable key, or def; a malformed one stops
// the worker (flag.Duration's own parse reports it with the flag's name).
func envDuration(key string, def time.Duration) time.Duration {
	if v := os.Getenv(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "worker: %s: %q is not a positive duration like 720h\n", key, v)
			os.Exit(2)
		}
		return d
	}
	return def
}

// defaultWorkflowTaskPollers is how many workflow task polls a worker keeps open when
// SHIPGATE_WORKFLOW_TASK_POLLERS is unset, instead of the SDK's two (one for the worker's
// sticky queue, one for the shared one). Measured with bench/releases on the cluster: with two,
// a ramp of 1,000 releases kept workflow tasks waiting 5–9 s for a poll while the worker idled,
// the server wrote nearly every task to its database and read it back; with eight the ramp was
// shorter and the server spent fewer CPU seconds per release. An open poll that finds no task
// costs the server one long poll a minute.
const defaultWorkflowTaskPollers = 8

// tuning reads the worker's task-slot, poller and cache settings; unset ones keep the SDK's
// defaults, but for the workflow task pollers (defaultWorkflowTaskPollers; README "Sizing" says
// when to change them).
func tuning(getenv func(string) string) (worker.Options, error) {
	o := worker.Options{MaxConcurrentWorkflowTaskPollers: defaultWorkflowTaskPollers}
	for _, s := range []struct {
		env string
		dst *int
	}{
		{"SHIPGATE_WORKFLOW_TASK_POLLERS", &o.MaxConcurrentWorkflowTaskPollers},
		{"SHIPGATE_ACTIVITY_TASK_POLLERS", &o.MaxConcurrentActivityTaskPollers},
		{"SHIPGATE_MAX_WORKFLOW_TASKS", &o.MaxConcurrentWorkflowTaskExecutionSize},
		{"SHIPGATE_MAX_ACTIVITIES", &o.MaxConcurrentActivityExecutionSize},
		{"SHIPGATE_MAX_LOCAL_ACTIVITIES", &o.MaxConcurrentLocalActivityExecutionSize},
	} {
		if v := getenv(s.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, fmt.Errorf("%s: %q is not a positive number", s.env, v)
			}
			*s.dst = n
		}
	}
	// The sticky cache keeps each release's workflow state between its tasks: without it every
	// task replays the release's whole history. It is process-wide, set before the worker starts.
	if v := getenv("SHIPGATE_STICKY_CACHE_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return o, fmt.Errorf("SHIPGATE_STICKY_CACHE_SIZE: %q is not a positive number", v)
		}
		worker.SetStickyWorkflowCacheSize(n)
	}
	return o, nil
}
