// Command worker runs shipgate's workflows and activities and serves /healthz, /readyz and
// /metrics. Connection settings come from Temporal's standard environment configuration
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS); secrets only from the
// environment, never from workflow inputs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/dora"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/searchattr"
	"github.com/shipgate/shipgate/internal/slackapp"
	"github.com/shipgate/shipgate/internal/slackbridge"
	"github.com/shipgate/shipgate/internal/telemetry"
	"github.com/shipgate/shipgate/workflows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
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

func run() error {
	httpAddr := flag.String("http", envOr("SHIPGATE_HTTP_ADDR", "127.0.0.1:9464"), "address of /healthz, /readyz and /metrics (env SHIPGATE_HTTP_ADDR)")
	promURL := flag.String("prometheus", envOr("SHIPGATE_PROMETHEUS_URL", "http://127.0.0.1:9090"), "Prometheus for probe checks (env SHIPGATE_PROMETHEUS_URL)")
	chainData := flag.String("chain-data", envOr("SHIPGATE_CHAIN_DATA", ".data/chain"), "directory of the contract nonce store and deployment records, shared by every release (env SHIPGATE_CHAIN_DATA)")
	otlp := flag.String("otlp-endpoint", os.Getenv(telemetry.EnvOTLPEndpoint), "OTLP/gRPC collector for traces, http://host:4317 (plaintext) or https://host:4317 (TLS); empty: no tracing (env "+telemetry.EnvOTLPEndpoint+")")
	doraWindow := flag.Duration("dora-window", envDuration("SHIPGATE_DORA_WINDOW", 30*24*time.Hour), "period the shipgate_dora_* gauges cover (env SHIPGATE_DORA_WINDOW)")
	doraRefresh := flag.Duration("dora-refresh", envDuration("SHIPGATE_DORA_REFRESH", time.Minute), "how long the shipgate_dora_* gauges are cached between reads of the releases (env SHIPGATE_DORA_REFRESH)")
	logLevel := flag.String("log-level", envOr("SHIPGATE_LOG_LEVEL", "info"), "debug, info, warn or error (env SHIPGATE_LOG_LEVEL)")
	flag.Parse()

	log, err := telemetry.NewLogger(*logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	metrics := telemetry.NewMetrics()

	// The policies this worker runs: a release names one, never brings its own.
	store, err := policies.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if err := store.CheckAll(); err != nil {
		log.Warn("some policies cannot be used: releases naming them are refused", zap.Error(err))
	}
	log.Info("policies", zap.String("dir", store.Dir), zap.Strings("names", store.Names()), zap.Bool("allowDev", store.AllowDev))

	// Slack is optional: with none of its variables set nothing changes; a partial or
	// malformed configuration stops the worker before it takes any task.
	slackEnv, slackOn, err := slackapp.LoadEnv(os.Getenv)
	if err != nil {
		return err
	}

	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return fmt.Errorf("temporal connection settings: %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = "127.0.0.1:7233"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	opts.Logger = telemetry.NewSDKLogger(log)
	opts.MetricsHandler = telemetry.NewSDKMetrics(metrics.Registry)
	workerOpts, err := tuning(os.Getenv)
	if err != nil {
		return err
	}
	if *otlp != "" {
		tracing, err := telemetry.NewTracing(context.Background(), *otlp, "shipgate-worker")
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tracing.Close(ctx); err != nil {
				log.Warn("flushing traces", zap.Error(err))
			}
		}()
		opts.Interceptors = append(opts.Interceptors, tracing.ClientInterceptor())
		workerOpts.Interceptors = append(workerOpts.Interceptors, telemetry.StageInterceptor(workflows.SearchStage), tracing.Interceptor)
		log.Info("tracing", zap.String("otlpEndpoint", *otlp))
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var ready atomic.Bool
	var c client.Client
	mux := routes(metrics, &ready, func() client.Client { return c })
	srv := &http.Server{Addr: *httpAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.ListenAndServe() }()
	log.Info("http listening", zap.String("addr", *httpAddr))

	c, err = dial(ctx, opts, log)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := searchattr.Ensure(ctx, c, opts.Namespace); err != nil {
		return err
	}
	metrics.Registry.MustRegister(telemetry.NewReleasesCollector(releaseCounter(c), 15*time.Second))
	doraSource := &dora.Source{Client: c}
	metrics.Registry.MustRegister(telemetry.NewDORACollector(doraSource.Releases, *doraWindow, *doraRefresh))

	notify := &activities.Notify{Log: log, Metrics: metrics}
	var sl *slackbridge.Worker
	socketErr := make(chan error, 1)
	if slackOn {
		key, err := slackbridge.LoadBridgeKey(os.Getenv(slackbridge.EnvBridgeKey))
		if err != nil {
			return err
		}
		if sl, err = slackbridge.NewWorker(c, slackEnv, os.Getenv(slackbridge.EnvPolicy), key, log); err != nil {
			return err
		}
		notify.Slack, notify.Channel = sl.Poster, slackEnv.Channel
		notify.UIBase, notify.Namespace = os.Getenv(slackbridge.EnvUIURL), opts.Namespace
		if slackEnv.SocketMode() {
			go func() { socketErr <- sl.RunSocketMode(ctx) }()
		} else {
			mux.Handle(slackbridge.InteractionsPath, sl.Handler)
		}
	}

	evidenceStore, err := evstore.Open(ctx, os.Getenv(evstore.EnvStore))
	if err != nil {
		return err
	}
	log.Info("evidence store", zap.String("store", evidenceStore.String()))
	w := worker.New(c, release.TaskQueue, workerOpts)
	workflows.Register(w)
	activities.RegisterLanes(w, &activities.Lanes{Client: c})
	activities.RegisterPolicies(w, &activities.Policies{Store: store})
	activities.RegisterLine(w, &activities.Line{Client: c})
	activities.RegisterAnalysis(w, &activities.Analysis{PrometheusURL: *promURL, HTTP: &http.Client{Timeout: 30 * time.Second}, Metrics: metrics})
	httpClient := &http.Client{Timeout: 30 * time.Second}
	activities.RegisterContracts(w, &activities.Contracts{Log: log, Store: evidenceStore,
		Nonces:       &chain.NonceStore{Dir: filepath.Join(*chainData, "nonces")},
		Records:      &chain.RecordStore{Dir: filepath.Join(*chainData, "records")},
		AllowHexKeys: store.AllowDev, // raw hex keys only on a worker that runs dev policies
	})
	activities.Register(w,
		&activities.Gates{Store: evidenceStore, HTTP: httpClient, Metrics: metrics, PrometheusURL: *promURL, Client: c},
		&activities.Traffic{HTTP: httpClient, Metrics: metrics, Kube: kube.Lazy(os.Getenv(kube.EnvKubeconfig))},
		notify)
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	ready.Store(true)
	log.Info("worker started", zap.String("temporal", opts.HostPort), zap.String("namespace", opts.Namespace), zap.String("taskQueue", release.TaskQueue))

	select {
	case <-ctx.Done():
	case err := <-socketErr:
		// Without its connection no click would arrive: stop rather than run half-deaf.
		// (nil means ctx ended, which is the ordinary shutdown below.)
		if err != nil {
			w.Stop()
			return err
		}
	case err := <-httpErr:
		if !errors.Is(err, http.ErrServerClosed) {
			w.Stop()
			return fmt.Errorf("http server: %w", err)
		}
	}
	log.Info("stopping: finishing running tasks")
	ready.Store(false)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if sl != nil {
		// Clicks already acked are still being delivered; their verdicts need this worker
		// running, so it stops after them.
		sl.Handler.Wait()
	}
	w.Stop()
	return err
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

func routes(m *telemetry.Metrics, ready *atomic.Bool, c func() client.Client) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "worker not started", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if _, err := c().CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			http.Error(w, "temporal: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	return mux
}

// tuning reads the worker's task-slot, poller and cache settings; unset ones keep the SDK's
// defaults (README "Sizing" says when to change them).
func tuning(getenv func(string) string) (worker.Options, error) {
	var o worker.Options
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
