// Package activities holds every side effect of a release, as methods on structs that hold
// their clients (one struct per concern). They are thin: the logic lives in internal/.
package activities

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/evidence"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/probe"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// Gates evaluates the automated checks of quality gates.
type Gates struct {
	// Store holds the evidence the starter uploaded: the only place evidence is read from.
	Store   evstore.Store
	HTTP    *http.Client
	Metrics *telemetry.Metrics
	// PrometheusURL is where probe checks ask Prometheus (the worker's SHIPGATE_PROMETHEUS_URL).
	PrometheusURL string
	// Client reads the service's production lane and the release it names, whose evidence
	// document checks compare with.
	Client client.Client
}

// EvaluateCheck reads a check's evidence from the evidence store by digest (never a path or
// URL), records what it read (sha256 per blob) and returns the verdict. Missing, corrupt or
// malformed evidence is an "error" verdict naming the file; a store that cannot be reached is
// returned as an error so Temporal retries it.
//
// It heartbeats while it reads and judges (evidence up to 50 MiB, a Prometheus query), so a
// worker that dies mid-check is noticed within the workflow's heartbeat timeout and the check
// retried on another, instead of the gate waiting out the check's whole time budget.
func (g *Gates) EvaluateCheck(ctx context.Context, req release.CheckRequest) (release.CheckResult, error) {
	start := time.Now()
	stop := func() {}
	if activity.IsActivity(ctx) {
		stop = heartbeat(ctx, heartbeatEvery, func() { activity.RecordHeartbeat(ctx) })
	}
	res, err := g.evaluate(ctx, req)
	stop()
	if err == nil && g.Metrics != nil {
		g.Metrics.CheckOutcomes.WithLabelValues(req.Gate, req.Check.Name, req.Check.Type, string(res.Outcome)).Inc()
		g.Metrics.CheckSeconds.WithLabelValues(req.Check.Type).Observe(time.Since(start).Seconds())
	}
	activity.GetLogger(ctx).Info("check evaluated", "gate", req.Gate, "check", req.Check.Name,
		"type", req.Check.Type, "outcome", res.Outcome, "detail", res.Detail)
	return res, err
}

func (g *Gates) evaluate(ctx context.Context, req release.CheckRequest) (release.CheckResult, error) {
	switch req.Check.Kind {
	case release.KindEvidence:
	case release.KindProbe:
		r := probe.Evaluate(ctx, probe.Input{Type: req.Check.Type, Params: req.Check.Params, Service: req.Service,
			Version: req.Version, Environment: req.Environment}, g.PrometheusURL, g.client())
		return release.CheckResult{Outcome: release.Outcome(r.Outcome), Detail: r.Detail}, nil
	default:
		return release.CheckResult{Outcome: release.OutcomeError,
			Detail: fmt.Sprintf("%s checks of type %q are not evaluated by this worker", req.Check.Kind, req.Check.Type)}, nil
	}
	if len(req.Blobs) == 0 {
		if len(req.Evidence) > 0 {
			return release.CheckResult{Outcome: release.OutcomeError, Detail: "the release names " + req.Check.Name +
				"'s evidence by location: this worker reads only blobs the starter uploaded to the evidence store (recheck with --evidence)"}, nil
		}
		return release.CheckResult{Outcome: release.OutcomeError, Detail: "the manifest names no evidence for " + req.Check.Name}, nil
	}
	if g.Store == nil {
		return release.CheckResult{}, temporal.NewNonRetryableApplicationError("the worker has no evidence store", "NoEvidenceStore", nil)
	}
	var files []evidence.File
	var digests []release.EvidenceDigest
	for _, b := range req.Blobs {
		data, err := g.Store.Get(ctx, b)
		if err != nil {
			if evstore.Permanent(err) {
				return release.CheckResult{Outcome: release.OutcomeError, Detail: fmt.Sprintf("%s: %v", b.Name, err), Evidence: digests}, nil
			}
			return release.CheckResult{}, fmt.Errorf("reading evidence %s: %w", b.Name, err)
		}
		digests = append(digests, release.EvidenceDigest{Location: b.Name, SHA256: b.SHA256, Bytes: b.Size})
		files = append(files, evidence.File{Name: b.Name, Data: data})
	}
	var prev *evidence.Previous
	if req.Check.Type == evidence.TypeDocument {
		p, err := g.previousEvidence(ctx, req)
		if err != nil {
			return release.CheckResult{}, err
		}
		prev = p
	}
	r := evidence.Evaluate(evidence.Input{Type: req.Check.Type, Params: req.Check.Params, Files: files, Previous: prev,
		Version: req.Version, Commit: req.Commit, CheckURL: func(u string) error { return g.reachability(req.Check.Params).Check(ctx, u) }})
	return release.CheckResult{Outcome: release.Outcome(r.Outcome), Detail: r.Detail, Evidence: digests}, nil
}

// reachability checks the URLs evidence names (audit reports): https to public addresses only,
// or private ones of hosts the check's allowHosts lists; redirects checked again.
func (g *Gates) reachability(params map[string]string) *probe.Reachability {
	r := &probe.Reachability{}
	for _, h := range strings.Split(params["allowHosts"], ",") {
		if h = strings.TrimSpace(h); h != "" {
			r.AllowHosts = append(r.AllowHosts, h)
		}
	}
	return r
}

func (g *Gates) client() *http.Client {
	if g.HTTP != nil {
		return g.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// nonRetryable marks errors retrying cannot fix.
func nonRetryable(err error, kind string) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), kind, err)
}
