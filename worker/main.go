// Command worker runs shipgate's workflows and activities and serves /healthz, /readyz and
// /metrics. Connection settings come from Temporal's standard environment configuration
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS); secrets only from the
// environment, never from workflow inputs.
//
// One job per file: config.go (flags and tuning), client.go (Temporal), http.go (endpoints),
// slack.go (Slack), register.go (workflows and activities); main wires them in order.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/dora"
	"github.com/shipgate/shipgate/internal/evstore"
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

func run() error {
	cfg := parseConfig()
	log, err := telemetry.NewLogger(cfg.logLevel)
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

	opts, err := clientOptions(log, metrics)
	if err != nil {
		return err
	}
	workerOpts, err := tuning(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.otlp != "" {
		tracing, err := telemetry.NewTracing(context.Background(), cfg.otlp, "shipgate-worker")
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
		log.Info("tracing", zap.String("otlpEndpoint", cfg.otlp))
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var ready atomic.Bool
	var c client.Client
	mux := routes(metrics, &ready, func() client.Client { return c })
	srv := &http.Server{Addr: cfg.httpAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.ListenAndServe() }()
	log.Info("http listening", zap.String("addr", cfg.httpAddr))

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
	metrics.Registry.MustRegister(telemetry.NewDORACollector(doraSource.Releases, cfg.doraWindow, cfg.doraRefresh))

	notify := &activities.Notify{Log: log, Metrics: metrics}
	var sl *slackbridge.Worker
	socketErr := make(chan error, 1)
	if slackOn {
		if sl, err = startSlack(ctx, c, slackEnv, opts.Namespace, notify, mux, socketErr, log); err != nil {
			return err
		}
	}

	evidenceStore, err := evstore.Open(ctx, os.Getenv(evstore.EnvStore))
	if err != nil {
		return err
	}
	log.Info("evidence store", zap.String("store", evidenceStore.String()))
	w := worker.New(c, release.TaskQueue, workerOpts)
	register(w, c, cfg, store, evidenceStore, notify, metrics, log)
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
