// Package activities holds every side effect of a release, as methods on structs that hold
// their clients (one struct per concern). They are thin: the logic lives in internal/.
package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/shipgate/shipgate/internal/evidence"
	"github.com/shipgate/shipgate/internal/probe"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// Gates evaluates the automated checks of quality gates.
type Gates struct {
	HTTP    *http.Client
	Metrics *telemetry.Metrics
	// PrometheusURL is where probe checks ask Prometheus (the worker's SHIPGATE_PROMETHEUS_URL).
	PrometheusURL string
}

// EvaluateCheck reads a check's evidence, records what it read (sha256 per file) and returns
// the verdict. Unreadable or malformed evidence is an "error" verdict naming the file; a
// network failure is returned as an error so Temporal retries it.
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
		g.Metrics.CheckOutcomes.WithLabelValues(req.Gate, req.Check.Name, req.Check.Type, res.Outcome).Inc()
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
		return release.CheckResult{Outcome: string(r.Outcome), Detail: r.Detail}, nil
	default:
		return release.CheckResult{Outcome: release.OutcomeError,
			Detail: fmt.Sprintf("%s checks of type %q are not evaluated by this worker", req.Check.Kind, req.Check.Type)}, nil
	}
	if len(req.Evidence) == 0 {
		return release.CheckResult{Outcome: release.OutcomeError, Detail: "the manifest names no evidence for " + req.Check.Name}, nil
	}
	limit := int64(evidence.DefaultMaxBytes)
	var files []evidence.File
	var digests []release.EvidenceDigest
	for _, loc := range req.Evidence {
		data, err := g.fetch(ctx, loc, limit)
		if err != nil {
			var bad *badEvidence
			if errors.As(err, &bad) {
				return release.CheckResult{Outcome: release.OutcomeError, Detail: bad.Error(), Evidence: digests}, nil
			}
			return release.CheckResult{}, err
		}
		sum := sha256.Sum256(data)
		digests = append(digests, release.EvidenceDigest{Location: loc, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))})
		files = append(files, evidence.File{Name: loc, Data: data})
	}
	r := evidence.Evaluate(evidence.Input{Type: req.Check.Type, Params: req.Check.Params, Files: files,
		Version: req.Version, CheckURL: func(u string) error { return g.reachable(ctx, u) }})
	return release.CheckResult{Outcome: string(r.Outcome), Detail: r.Detail, Evidence: digests}, nil
}

// badEvidence is a problem with the evidence itself: retrying will not fix it, a recheck with
// new evidence will.
type badEvidence struct{ msg string }

func (e *badEvidence) Error() string { return e.msg }

// fetch reads a path or http(s) URL, refusing more than limit bytes.
func (g *Gates) fetch(ctx context.Context, loc string, limit int64) ([]byte, error) {
	var r io.ReadCloser
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
		if err != nil {
			return nil, &badEvidence{fmt.Sprintf("%s: %v", loc, err)}
		}
		resp, err := g.client().Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetching evidence %s: %w", loc, err)
		}
		if resp.StatusCode/100 != 2 {
			resp.Body.Close()
			msg := fmt.Sprintf("%s: HTTP %d", loc, resp.StatusCode)
			if resp.StatusCode >= 500 {
				return nil, errors.New(msg)
			}
			return nil, &badEvidence{msg}
		}
		r = resp.Body
	} else {
		f, err := os.Open(loc)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &badEvidence{fmt.Sprintf("%s: no such file", loc)}
			}
			return nil, &badEvidence{err.Error()}
		}
		r = f
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading evidence %s: %w", loc, err)
	}
	if int64(len(data)) > limit {
		return nil, &badEvidence{fmt.Sprintf("%s: more than the %d-byte evidence limit", loc, limit)}
	}
	return data, nil
}

func (g *Gates) reachable(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := g.client().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
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
