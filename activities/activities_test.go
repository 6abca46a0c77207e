package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/demosvc"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

func demoEvidence(t testing.TB, name string) string {
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deployments/examples/demo/evidence", name)
}

// execute runs an activity the way a worker does, with its activity context.
func execute(fn any, arg any) (converter.EncodedValue, error) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(fn)
	return env.ExecuteActivity(fn, arg)
}

func evaluate(t *testing.T, g *Gates, req release.CheckRequest) release.CheckResult {
	t.Helper()
	v, err := execute(g.EvaluateCheck, req)
	if err != nil {
		t.Fatal(err)
	}
	var res release.CheckResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// store puts files into a fresh local evidence store, as the starter does, and returns their
// blobs labelled with their base names.
func store(t *testing.T, g *Gates, paths ...string) []release.Blob {
	t.Helper()
	if g.Store == nil {
		g.Store = evstore.Dir{Root: t.TempDir()}
	}
	var out []release.Blob
	for _, p := range paths {
		b, err := evstore.PutFile(context.Background(), g.Store, filepath.Base(p), p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestEvaluateCheckReadsRealEvidence(t *testing.T) {
	cover := demoEvidence(t, "coverage.out")
	data, err := os.ReadFile(cover)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	m := telemetry.NewMetrics()
	g := &Gates{Metrics: m}
	blobs := store(t, g, cover)
	check := release.Check{Name: "unit-coverage", Kind: release.KindEvidence, Type: "coverage", Params: map[string]string{"min": "80"}}
	res := evaluate(t, g, release.CheckRequest{Gate: "G1", Check: check, Blobs: blobs})
	if res.Outcome != release.OutcomePass || !strings.Contains(res.Detail, "coverage") {
		t.Fatalf("%+v", res)
	}
	if len(res.Evidence) != 1 || res.Evidence[0].SHA256 != hex.EncodeToString(sum[:]) || res.Evidence[0].Bytes != int64(len(data)) ||
		res.Evidence[0].Location != "coverage.out" {
		t.Fatalf("digest %+v", res.Evidence)
	}
	check.Params["min"] = "99.9"
	if res := evaluate(t, g, release.CheckRequest{Gate: "G1", Check: check, Blobs: blobs}); res.Outcome != release.OutcomeFail {
		t.Fatalf("coverage below threshold passed: %+v", res)
	}
	check.Params["min"] = "80"
	// a blob the store does not hold is an error naming it, never a pass
	missing := evstore.NewBlob("nope.out", []byte("mode: set\n"))
	res = evaluate(t, g, release.CheckRequest{Gate: "G1", Check: check, Blobs: []release.Blob{missing}})
	if res.Outcome != release.OutcomeError || !strings.Contains(res.Detail, "nope.out: not in the evidence store") {
		t.Fatalf("missing blob: %+v", res)
	}
	// a JUnit report passed off as coverage is an error, not a pass
	res = evaluate(t, g, release.CheckRequest{Gate: "G1", Check: check, Blobs: store(t, g, demoEvidence(t, "regression-junit.xml"))})
	if res.Outcome != release.OutcomeError {
		t.Fatalf("junit as coverage: %+v", res)
	}
}

// The stored bytes are checked against the reference: a blob changed in the store after the
// release manager submitted it is an error, never judged.
func TestEvaluateCheckRefusesChangedBlob(t *testing.T) {
	g := &Gates{}
	blobs := store(t, g, demoEvidence(t, "coverage.out"))
	check := release.Check{Name: "unit-coverage", Kind: release.KindEvidence, Type: "coverage", Params: map[string]string{"min": "80"}}
	p := filepath.Join(g.Store.(evstore.Dir).Root, "sha256", blobs[0].SHA256[:2], blobs[0].SHA256)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 1 // same size, other bytes
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res := evaluate(t, g, release.CheckRequest{Gate: "G1", Check: check, Blobs: blobs})
	if res.Outcome != release.OutcomeError || !strings.Contains(res.Detail, "coverage.out: stored blob does not match its reference: sha256 differs") {
		t.Fatalf("changed blob: %+v", res)
	}
}

// The attacks of issue 12 against the worker: an input naming files on the worker's disk
// (secrets, the deployer key, paths out of any directory) or internal URLs as evidence, or a
// blob reference crafted to be a path. The worker opens none, fetches none, and says so
// without a byte of any of them.
func TestEvaluateCheckOpensNoPathOrURLFromTheManifest(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "deployer.key")
	const key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
	if err := os.WriteFile(secret, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("shipgate_internal_metric 1\n"))
	}))
	defer internal.Close()
	g := &Gates{}
	store(t, g) // an empty store
	lcov := release.Check{Name: "unit-coverage", Kind: release.KindEvidence, Type: "coverage", Params: map[string]string{"format": "lcov"}}
	for _, loc := range []string{secret, "/etc/hostname", "../../../../etc/hostname", "/proc/self/environ", internal.URL + "/metrics"} {
		res := evaluate(t, g, release.CheckRequest{Gate: "G1", Check: lcov, Evidence: []string{loc}})
		if res.Outcome != release.OutcomeError || len(res.Evidence) != 0 || !strings.Contains(res.Detail, "reads only blobs") {
			t.Errorf("%s: %+v", loc, res)
		}
		if strings.Contains(res.Detail, key[:8]) {
			t.Errorf("%s: the detail echoes the file: %q", loc, res.Detail)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the worker fetched an internal URL %d times", n)
	}
	// a blob reference whose digest is a path is refused before the store is asked
	for _, digest := range []string{"../../../../etc/hostname", "/etc/hostname", strings.Repeat("A", 64)} {
		res := evaluate(t, g, release.CheckRequest{Gate: "G1", Check: lcov, Blobs: []release.Blob{{Name: "x", SHA256: digest, Size: 3}}})
		if res.Outcome != release.OutcomeError || !strings.Contains(res.Detail, "invalid blob reference") {
			t.Errorf("digest %q: %+v", digest, res)
		}
	}
}

// An audit report naming an internal URL as where it is published makes the worker fetch
// nothing: the reachability check refuses plain http, loopback and private addresses, and
// the check fails naming the report and why, without the page.
func TestAuditReportURLsAreNotFetchedInternally(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("shipgate_internal 1"))
	}))
	defer internal.Close()
	dir := t.TempDir()
	var paths []string
	for i, u := range []string{internal.URL + "/metrics", strings.Replace(internal.URL, "http:", "https:", 1) + "/report.pdf"} {
		p := filepath.Join(dir, fmt.Sprintf("audit-%d.yaml", i))
		text := fmt.Sprintf("firm: Firm %d\ndate: 2026-11-01\nreportURL: %s\nfindings: []\n", i, u)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	g := &Gates{}
	check := release.Check{Name: "audits", Kind: release.KindEvidence, Type: "audit"}
	res := evaluate(t, g, release.CheckRequest{Gate: "G2", Check: check, Blobs: store(t, g, paths...)})
	if res.Outcome != release.OutcomeFail || !strings.Contains(res.Detail, "only https URLs are checked") || !strings.Contains(res.Detail, "never checked") {
		t.Fatalf("%+v", res)
	}
	if strings.Contains(res.Detail, "shipgate_internal") || hits.Load() != 0 {
		t.Fatalf("the worker reached the internal URL (%d requests) or quoted it: %s", hits.Load(), res.Detail)
	}
}

// A store that cannot be reached is returned as an error, for Temporal to retry; it is not a
// verdict on the evidence.
func TestEvaluateCheckTransientErrorsAreRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A store that hangs up on every connection. The port stays ours: a closed port is soon
	// handed to another test's server on a busy machine, which once answered this request
	// with a blob of its own (series B, run 1).
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	st, err := evstore.Open(context.Background(), "s3://evidence?endpoint=http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gates{Store: st}
	_, err = execute(g.EvaluateCheck, release.CheckRequest{
		Check: release.Check{Name: "c", Kind: release.KindEvidence, Type: "coverage"},
		Blobs: []release.Blob{evstore.NewBlob("cover.out", []byte("mode: set\n"))}})
	var app *temporal.ApplicationError
	if err == nil || !errors.As(err, &app) || app.NonRetryable() || !strings.Contains(err.Error(), "reading evidence cover.out") {
		t.Fatalf("an unreachable store must be returned as a retryable error, got %v", err)
	}
}

func setTraffic(tr *Traffic, req release.TrafficRequest) error {
	_, err := execute(tr.SetTraffic, req)
	return err
}

func startDemo(t *testing.T) (*demosvc.Server, string) {
	s, err := demosvc.New(demosvc.Config{Service: "demo", InitialVersion: "1.3.0", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = s.Serve(ctx, ln) }()
	return s, "http://" + ln.Addr().String() + "/v1/traffic"
}

func TestSetTrafficOnTheDemoService(t *testing.T) {
	demo, url := startDemo(t)
	tr := &Traffic{Metrics: telemetry.NewMetrics()}
	req := release.TrafficRequest{Backend: release.Traffic{Backend: "webhook", URL: url}, Service: "demo",
		Version: "1.4.0", PreviousVersion: "1.3.0", Environment: "production", Percent: 5, IdempotencyKey: "release/demo/1.4.0/canary"}
	if err := setTraffic(tr, req); err != nil {
		t.Fatal(err)
	}
	if err := setTraffic(tr, req); err != nil { // a retry is harmless
		t.Fatal(err)
	}
	if sp := demo.State().Environments["production"]; sp.Canary != "1.4.0" || sp.CanaryPercent != 5 || sp.Stable != "1.3.0" {
		t.Fatalf("split %+v", sp)
	}
	req.Percent, req.IdempotencyKey = 0, "release/demo/1.4.0/rollback"
	if err := setTraffic(tr, req); err != nil {
		t.Fatal(err)
	}
	if sp := demo.State().Environments["production"]; sp.CanaryPercent != 0 || sp.Stable != "1.3.0" {
		t.Fatalf("after rollback %+v", sp)
	}
	// the backend refuses a service it does not run: permanent, not retried
	req.Service, req.IdempotencyKey = "other", "release/other/1.4.0/canary"
	err := setTraffic(tr, req)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("want a non-retryable error, got %v", err)
	}
	// the way back retries the same refusal: a person may fix the backend meanwhile
	req.Rollback, req.Percent, req.IdempotencyKey = true, 0, "release/other/1.4.0/rollback"
	err = setTraffic(tr, req)
	if !errors.As(err, &appErr) || appErr.NonRetryable() || !strings.Contains(err.Error(), "answered 4") {
		t.Fatalf("want a retryable refusal on the way back, got %v", err)
	}
}

func TestSetTrafficTokenComesFromTheWorkerSecretNamespace(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { auth = r.Header.Get("Authorization") }))
	defer srv.Close()
	env := map[string]string{"SHIPGATE_SECRET_DEPLOY_TOKEN": "t0ken", "DEPLOY_TOKEN": "wrong"}
	tr := &Traffic{Getenv: func(k string) string { return env[k] }}
	req := release.TrafficRequest{Backend: release.Traffic{Backend: "webhook", URL: srv.URL, TokenSecret: "DEPLOY_TOKEN"}, Percent: 5, IdempotencyKey: "k"}
	if err := setTraffic(tr, req); err != nil || auth != "Bearer t0ken" {
		t.Fatalf("err %v auth %q", err, auth)
	}
	delete(env, "SHIPGATE_SECRET_DEPLOY_TOKEN")
	err := setTraffic(tr, req)
	if err == nil || !strings.Contains(err.Error(), "SHIPGATE_SECRET_DEPLOY_TOKEN is not set") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("missing token: %v", err)
	}
}

// However a policy (or a forged workflow input) names the deployer key, the traffic activity
// never sends it: only SHIPGATE_SECRET_<NAME> is ever read.
func TestSetTrafficNeverSendsAChainKey(t *testing.T) {
	const key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths = append(auths, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	env := map[string]string{}
	for _, prefix := range []string{chain.EnvKeyHex, chain.EnvKeystoreFile, chain.EnvKeystorePass, chain.EnvClef, chain.EnvClefAddress} {
		env[prefix+"DEPLOYER"] = key
		if strings.HasPrefix(release.EnvSecretPrefix, prefix) || strings.HasPrefix(prefix, release.EnvSecretPrefix) {
			t.Fatalf("the secret namespace %s overlaps the chain keys' %s", release.EnvSecretPrefix, prefix)
		}
	}
	var read []string
	tr := &Traffic{Getenv: func(k string) string { read = append(read, k); return env[k] }}
	for _, cfg := range []release.Traffic{
		{TokenEnv: "SHIPGATE_KEY_DEPLOYER"},
		{TokenEnv: "SHIPGATE_KEYSTORE_PASS_DEPLOYER"},
		{TokenSecret: "SHIPGATE_KEY_DEPLOYER"},
		{TokenSecret: "KEY_DEPLOYER"},
		{TokenSecret: "../KEY_DEPLOYER"},
		{TokenSecret: "shipgate_key_deployer"},
		{TokenSecret: "DEPLOYER"},
	} {
		cfg.Backend, cfg.URL = "webhook", srv.URL
		err := setTraffic(tr, release.TrafficRequest{Backend: cfg, Percent: 5, IdempotencyKey: "k"})
		if err != nil && strings.Contains(err.Error(), key[2:]) {
			t.Fatalf("%+v: the error carries the key: %v", cfg, err)
		}
	}
	for _, a := range auths {
		if strings.Contains(a, key[2:]) {
			t.Fatalf("the deployer key was sent: %q", a)
		}
	}
	for _, k := range read {
		if !strings.HasPrefix(k, release.EnvSecretPrefix) {
			t.Fatalf("the activity read %s, outside the secret namespace", k)
		}
	}
	// the old field does not even travel in the workflow input
	b, _ := json.Marshal(release.Traffic{Backend: "webhook", TokenEnv: "SHIPGATE_KEY_DEPLOYER"})
	if strings.Contains(string(b), "SHIPGATE_KEY") {
		t.Fatalf("tokenEnv in the input: %s", b)
	}
}

func TestEvaluateCheckRunsProbes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/status/payments" {
			_, _ = w.Write([]byte("payments 2.4.0 healthy"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	g := &Gates{}
	check := release.Check{Name: "status-page", Kind: release.KindProbe, Type: "http",
		Params: map[string]string{"url": srv.URL + "/status/{{.Service}}", "contains": "{{.Version}} healthy"}}
	req := release.CheckRequest{Gate: "G4", Service: "payments", Version: "2.4.0", Environment: "staging", Check: check}
	if res := evaluate(t, g, req); res.Outcome != release.OutcomePass {
		t.Fatalf("%+v", res)
	}
	req.Version = "2.5.0"
	if res := evaluate(t, g, req); res.Outcome != release.OutcomeFail {
		t.Fatalf("a page without the version passed: %+v", res)
	}
	// a Prometheus probe with no Prometheus is an error, never a pass
	g.PrometheusURL = "http://127.0.0.1:1"
	req.Check = release.Check{Name: "red", Kind: release.KindProbe, Type: "prometheus-series", Params: map[string]string{"queries": `up{job="{{.Service}}"}`}}
	if res := evaluate(t, g, req); res.Outcome != release.OutcomeError {
		t.Fatalf("unreachable prometheus: %+v", res)
	}
}

// A traffic change heartbeats while it waits on the backend (SetTraffic runs the backend's
// call inside heartbeat), so a worker that dies mid-call is noticed within the workflow's
// heartbeat timeout; once the call is over, the heartbeats stop.
func TestHeartbeatWhileWaiting(t *testing.T) {
	var n atomic.Int32
	stop := heartbeat(context.Background(), 5*time.Millisecond, func() { n.Add(1) })
	time.Sleep(60 * time.Millisecond)
	stop()
	beats := n.Load()
	if beats < 3 {
		t.Fatalf("%d heartbeats in 60 ms at one per 5 ms", beats)
	}
	time.Sleep(20 * time.Millisecond)
	if n.Load() != beats {
		t.Fatalf("heartbeats went on after stop: %d, then %d", beats, n.Load())
	}
}

// An automated check heartbeats while it runs (the workflow gives it a heartbeat timeout), so
// a worker killed mid-check is noticed in seconds, not after the check's 5-minute budget; a
// check that answers within the heartbeat interval sends none (each is a write of the
// workflow's state on the server, and its timeout counts from the activity's start).
func TestEvaluateCheckHeartbeats(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration // the evidence store's answer
		beats bool
	}{{"quick", 0, false}, {"slow", heartbeatEvery + time.Second, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			var beats atomic.Int32
			env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { beats.Add(1) })
			g := &Gates{}
			blobs := store(t, g, demoEvidence(t, "coverage.out"))
			g.Store = slowStore{Store: g.Store, delay: tc.delay}
			env.RegisterActivity(g.EvaluateCheck)
			check := release.Check{Name: "unit-coverage", Kind: release.KindEvidence, Type: "coverage", Params: map[string]string{"min": "80"}}
			if _, err := env.ExecuteActivity(g.EvaluateCheck, release.CheckRequest{Gate: "G1", Check: check, Blobs: blobs}); err != nil {
				t.Fatal(err)
			}
			if got := beats.Load() > 0; got != tc.beats {
				t.Fatalf("evidence read in %s: %d heartbeats; want heartbeats: %v", tc.delay, beats.Load(), tc.beats)
			}
		})
	}
}

// slowStore answers each read after delay.
type slowStore struct {
	evstore.Store
	delay time.Duration
}

func (s slowStore) Get(ctx context.Context, b release.Blob) ([]byte, error) {
	time.Sleep(s.delay)
	return s.Store.Get(ctx, b)
}
