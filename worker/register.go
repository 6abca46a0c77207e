package main

import (
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/telemetry"
	"github.com/shipgate/shipgate/workflows"
)

// register puts every workflow and activity on w, each activity struct holding its clients.
func register(w worker.Worker, c client.Client, cfg config, store *policies.Store, evidence evstore.Store,
	notify *activities.Notify, metrics *telemetry.Metrics, log *zap.Logger) {
	workflows.Register(w)
	activities.RegisterLanes(w, &activities.Lanes{Client: c})
	activities.RegisterPolicies(w, &activities.Policies{Store: store})
	activities.RegisterLine(w, &activities.Line{Client: c})
	activities.RegisterAnalysis(w, &activities.Analysis{PrometheusURL: cfg.promURL, HTTP: &http.Client{Timeout: 30 * time.Second}, Metrics: metrics})
	httpClient := &http.Client{Timeout: 30 * time.Second}
	activities.RegisterContracts(w, &activities.Contracts{Log: log, Store: evidence,
		Nonces:       &chain.NonceStore{Dir: filepath.Join(cfg.chainData, "nonces")},
		Records:      &chain.RecordStore{Dir: filepath.Join(cfg.chainData, "records")},
		AllowHexKeys: store.AllowDev, // raw hex keys only on a worker that runs dev policies
	})
	activities.Register(w,
		&activities.Gates{Store: evidence, HTTP: httpClient, Metrics: metrics, PrometheusURL: cfg.promURL, Client: c},
		&activities.Traffic{HTTP: httpClient, Metrics: metrics, Kube: kube.Lazy(os.Getenv(kube.EnvKubeconfig))},
		notify)
}
