package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/analysis/promtest"
	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/demosvc"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/release"
)

// stack is a real Temporal dev server, the real demo service and the worker binary, on loopback.
type stack struct {
	t         testing.TB
	root      string
	bin       string
	temporal  *devstack.Temporal
	demo      *demosvc.Server
	demoURL   string
	worker    *exec.Cmd
	workerLog *bytes.Buffer
	promURL   string
	// usage stands in for the process metrics of the version deployed to staging (the demo
	// service plays every version in one process, so it has none per version of its own).
	usage *promtest.App
	// workerEnv is added to the worker's environment (after the defaults: it wins).
	workerEnv []string
	// chainData is the worker's nonce store and deployment records, kept across restarts.
	chainData string
	// keys are the test people's keys; policyDir is the worker's policy directory.
	keys      *people.Keyring
	policyDir string
	// workerAddr serves the running worker's /metrics.
	workerAddr string
	// s3 is the evidence store both the starter and the worker use: a real S3-compatible
	// server on loopback, so they share no path (each runs in a directory of its own).
	s3 *devstack.S3Server
	// workerDir and cliDir are the worker's and the starter's working directories.
	workerDir, cliDir string
}

// buildBinaries builds the worker and the CLI (as shipgate, its installed name); with
// crashPoints the worker has the test crash points (package crashpoint) a product build lacks.
func buildBinaries(t testing.TB, root string, crashPoints bool) string {
	t.Helper()
	bin := t.TempDir()
	worker := []string{"build", "-o", bin + "/"}
	if crashPoints {
		worker = append(worker, "-tags", "crashpoints")
	}
	for _, args := range [][]string{append(worker, "./worker"), {"build", "-o", filepath.Join(bin, "shipgate"), "./starter"}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin
}

// newStack starts the stack with a product build of the worker.
func newStack(t testing.TB) *stack { return startStack(t, false) }

// newCrashStack starts the stack with a worker that stops at the crash point its environment
// names (SHIPGATE_TEST_CRASH_AT, package crashpoint).
func newCrashStack(t testing.TB) *stack { return startStack(t, true) }

func startStack(t testing.TB, crashPoints bool) *stack {
	t.Helper()
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, root: root, bin: buildBinaries(t, root, crashPoints), chainData: t.TempDir(),
		keys: &people.Keyring{Dir: t.TempDir()}, policyDir: t.TempDir(), workerDir: t.TempDir(), cliDir: t.TempDir()}
	s.s3 = devstack.S3TestServer(t)
	// the store and its credentials, for the starter and the worker processes and this one
	for _, kv := range append(s.s3.Env(), evstore.EnvStore+"="+s.s3.Spec("shipgate")) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s.temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.temporal.Stop() })

	s.demo, err = demosvc.New(demosvc.Config{Service: "demo", InitialVersion: "1.3.0", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	go func() { _ = s.demo.Serve(sctx, ln) }()
	t.Cleanup(stop)
	s.demoURL = "http://" + ln.Addr().String()
	// a real Prometheus scraping the real demo service, for the observability probes
	for range 10 {
		if resp, err := http.Get(s.demoURL + "/"); err == nil {
			resp.Body.Close()
		}
	}
	s.usage = promtest.NewApp(t)
	s.promURL = promtest.Start(t, s.usage, promtest.Options{Target: ln.Addr().String()}).URL
	// steady, bounded traffic through the router, as users would send: the analysis judges it
	go func() {
		_, _ = demosvc.Load(sctx, demosvc.LoadConfig{Target: s.demoURL + "/", RPS: 50, Duration: 5 * time.Minute})
	}()
	s.startWorker()
	return s
}

func (s *stack) startWorker() {
	s.t.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		s.t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.workerAddr = addr
	cmd := exec.Command(filepath.Join(s.bin, "worker"))
	cmd.Dir = s.workerDir
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+s.temporal.Address, "SHIPGATE_HTTP_ADDR="+addr, "SHIPGATE_PROMETHEUS_URL="+s.promURL,
		"SHIPGATE_CHAIN_DATA="+s.chainData, policies.EnvDir+"="+s.policyDir, policies.EnvAllowDev+"=true")
	cmd.Env = append(cmd.Env, s.workerEnv...)
	s.workerLog = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.workerLog, s.workerLog
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.worker = cmd
	s.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("worker not ready: %v\n%s", err, s.workerLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if !strings.Contains(b.String(), "go_goroutines") {
		s.t.Fatalf("/metrics lacks the Go collector:\n%s", b.String()[:min(500, b.Len())])
	}
}

// killWorker kills the worker as a crash would: no graceful stop.
func (s *stack) killWorker() {
	_ = s.worker.Process.Signal(syscall.SIGKILL)
	_ = s.worker.Wait()
}

// cli runs the CLI binary (shipgate) as the person --as names, with their key (SHIPGATE_SSH_KEY); it
// returns stdout, stderr and the exit code.
func (s *stack) cli(args ...string) (string, string, int) {
	s.t.Helper()
	as := "rm-ada"
	for i, a := range args {
		if a == "--as" && i+1 < len(args) {
			as = args[i+1]
		}
	}
	key, err := s.keys.KeyFile(as)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.cliWithKey(key, args...)
}

// cliWithKey runs the CLI binary signing with the key file given.
func (s *stack) cliWithKey(key string, args ...string) (string, string, int) {
	s.t.Helper()
	return s.cliWithEnv(key, nil, args...)
}

// cliWithEnv is cliWithKey with more variables in the CLI's environment (e.g. a Safe owner's
// keystore for safe-sign).
func (s *stack) cliWithEnv(key string, env []string, args ...string) (string, string, int) {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "shipgate"), args...)
	cmd.Dir = s.cliDir
	cmd.Env = append(append(os.Environ(), "TEMPORAL_ADDRESS="+s.temporal.Address, control.EnvKey+"="+key, "SSH_AUTH_SOCK="), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func (s *stack) mustCLI(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.cli(args...)
	if code != 0 {
		s.t.Fatalf("shipgate %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

func (s *stack) status(id string) release.Status {
	s.t.Helper()
	var st release.Status
	if err := json.Unmarshal([]byte(s.mustCLI("status", id, "--json")), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *stack) waitFor(id, what string, timeout time.Duration, ok func(release.Status) bool) release.Status {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := s.status(id)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("release never reached %s; now %s/%s waiting for %v\nworker log:\n%s", what, st.Stage, st.State, st.WaitingFor, s.workerLog)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// putPolicy puts a policy on the worker as name, with the test people's keys enrolled.
func (s *stack) putPolicy(name, text string) {
	s.t.Helper()
	src := s.t.TempDir()
	if err := os.WriteFile(filepath.Join(src, name+".yaml"), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := s.keys.RenderPolicies(src, s.policyDir); err != nil {
		s.t.Fatal(err)
	}
}

// load is a release of the manifest under the worker's policy name, driven by the test people,
// its files uploaded to the stack's evidence store.
func (s *stack) load(manifest, policy string) devstack.Release {
	s.t.Helper()
	st, err := evstore.Open(context.Background(), os.Getenv(evstore.EnvStore))
	if err != nil {
		s.t.Fatal(err)
	}
	in, pol, err := evstore.Load(context.Background(), st, manifest, filepath.Join(s.policyDir, policy+".yaml"), checks.Validate)
	if err != nil {
		s.t.Fatal(err)
	}
	return devstack.Release{In: in, Policy: pol, Keys: s.keys}
}

// writeRelease puts the demo's dev policy with short windows on the worker (as "demo", edited
// by edits, each an old → new replacement) and writes the demo manifest into a temp dir, with
// a copy of its evidence and documents beside it (paths relative to the manifest, as written).
func (s *stack) writeRelease(soak string, edits ...string) (manifest, policy string) {
	s.t.Helper()
	dir := s.t.TempDir()
	pol, err := os.ReadFile(filepath.Join(s.root, "deployments/policies/demo.yaml"))
	if err != nil {
		s.t.Fatal(err)
	}
	p := strings.Replace(string(pol), "http://127.0.0.1:8090/v1/traffic", s.demoURL+"/v1/traffic", 1)
	p = strings.Replace(p, "testnetSoak: 20s", "testnetSoak: "+soak, 1)
	p = strings.Replace(p, "canaryWatchMin: 10s", "canaryWatchMin: 2s", 1)
	p = strings.ReplaceAll(p, "bake: 5s", "bake: 1s")
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(p, edits[i]) {
			s.t.Fatalf("demo policy has no %q to edit", edits[i])
		}
		p = strings.Replace(p, edits[i], edits[i+1], 1)
	}
	policy = "demo"
	s.putPolicy(policy, p)
	manifest = filepath.Join(dir, "release.yaml")
	m, err := os.ReadFile(filepath.Join(s.root, "deployments/examples/demo/release.yaml"))
	if err != nil {
		s.t.Fatal(err)
	}
	// the service alone: contract tests add the contracts and start the chains themselves
	ms, _, _ := strings.Cut(string(m), "\n# The demo's upgradeable counter")
	ms = strings.Replace(ms, "contracts: true", "contracts: false", 1)
	for _, sub := range []string{"evidence", "docs"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(s.root, "deployments/examples/demo", sub))); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := os.WriteFile(manifest, []byte(ms), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return manifest, policy
}

func TestReleaseThroughCLIAgainstDevServer(t *testing.T) {
	s := newStack(t)
	// the resource-usage probe measures 1.4.0 on staging after its deploy there
	s.usage.Resources("demo", "staging", "1.4.0", 0.25, 256<<20)
	manifest, policy := s.writeRelease("12s", "      - {name: qa-validation",
		`      - {name: resource-usage, kind: probe, type: resource-usage, params: {cpuMax: "2", memoryMaxMiB: "2048", windowSeconds: "2"}}
      - {name: qa-validation`)

	// an invalid manifest starts nothing
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("service: demo\nversion: nope\n"), 0o644)
	if _, errOut, code := s.cli("start", "-f", bad, "--policy", policy); code == 0 || !strings.Contains(errOut, "bad.yaml:2: version") {
		t.Fatalf("invalid manifest: exit %d %s", code, errOut)
	}

	id := strings.TrimSpace(s.mustCLI("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"))
	if id != "release/demo/1.4.0" {
		t.Fatalf("start printed %q", id)
	}
	if _, errOut, code := s.cli("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"); code == 0 || !strings.Contains(errOut, "already running") {
		t.Fatalf("second start: exit %d %s", code, errOut)
	}
	s.waitFor(id, "G1 waiting", 30*time.Second, func(st release.Status) bool { return st.Gates[0].State == release.GateWaiting })

	// the author cannot approve; the CLI reports the workflow's refusal with a non-zero exit
	_, errOut, code := s.cli("approve", id, "--check", "peer-review", "--as", "alice")
	if code != 4 || !strings.Contains(errOut, "alice is the author") {
		t.Fatalf("author approval: exit %d %q", code, errOut)
	}
	s.mustCLI("approve", id, "--check", "peer-review", "--as", "bob", "--comment", "lgtm")
	if _, errOut, code := s.cli("approve", id, "--check", "peer-review", "--as", "bob"); code != 4 || !strings.Contains(errOut, "already approved") {
		t.Fatalf("duplicate approval: exit %d %q", code, errOut)
	}
	s.mustCLI("approve", id, "--as", "carol", "--check", "peer-review")
	s.waitFor(id, "G3 waiting", 30*time.Second, func(st release.Status) bool { return st.Gates[1].State == release.GateWaiting })
	s.mustCLI("approve", id, "--check", "qa-validation", "--as", "grace")
	st := s.waitFor(id, "the testnet soak", 30*time.Second, func(st release.Status) bool {
		return st.Stage == release.StageTestnet && st.Windows[0].State == release.WindowOpen
	})

	// visibility: the release is found by its search attributes
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.mustCLI("list", "--stage", "testnet"), id) {
		if time.Now().After(deadline) {
			t.Fatalf("list --stage testnet never showed %s", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := c.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Query: "ReleaseService = 'demo' AND ReleaseVersion = '1.4.0' AND ReleaseStage = 'testnet'"})
	if err != nil || n.GetCount() != 1 {
		t.Fatalf("visibility count: %v %v", n, err)
	}

	// the worker crashes in the middle of the soak; the window survives it
	soak := st.Windows[0]
	if soak.State != release.WindowOpen || soak.EndsAt.Sub(soak.StartedAt) != 12*time.Second {
		t.Fatalf("soak window %+v", soak)
	}
	s.killWorker()
	time.Sleep(3 * time.Second)
	s.startWorker()
	for _, a := range [][2]string{{"security-checklist", "erin"}, {"dashboards-tracing-logs", "heidi"}, {"product-signoff", "judy"}} {
		s.mustCLI("approve", id, "--check", a[0], "--as", a[1])
	}
	// the canary lasts seconds here: any stage from it on will do (a slow poll may miss it)
	st = s.waitFor(id, "canary", 60*time.Second, func(st release.Status) bool {
		return st.Stage == release.StageCanary || st.Stage == release.StageProduction || st.Stage == release.StageDone
	})
	if got := st.Windows[0]; got.EndsAt != soak.EndsAt || got.State != release.WindowDone {
		t.Fatalf("soak deadline moved across the worker restart: %+v vs %+v", got, soak)
	}
	final := s.waitFor(id, "the end", 60*time.Second, func(st release.Status) bool { return st.State.Final() })
	if final.State != release.StateSucceeded || final.Stage != release.StageDone || final.TrafficPercent != 100 {
		t.Fatalf("final %s/%s %g %%: %s", final.Stage, final.State, final.TrafficPercent, final.Reason)
	}
	if len(final.Analyses) != 4 {
		t.Fatalf("want the canary and three production steps analysed on live Prometheus data, got %+v", final.Analyses)
	}
	for _, a := range final.Analyses {
		if a.Action != "promote" || a.Intervals == 0 {
			t.Fatalf("analysis %+v", a)
		}
	}
	if split := s.demo.State().Environments["production"]; split.Stable != "1.4.0" || split.CanaryPercent != 0 {
		t.Fatalf("demo service production split %+v", split)
	}
	var refused bool
	for _, a := range final.Audit {
		if a.Action == "approve" && a.Actor == "alice" && !a.Accepted && a.Channel == "cli" {
			refused = true
		}
	}
	if !refused || final.PolicyDigest == "" {
		t.Fatal("audit lacks the author's refused approval, or the policy digest")
	}
	if out := s.mustCLI("status", id); !strings.Contains(out, "succeeded") || !strings.Contains(out, "G1 Code quality") {
		t.Fatalf("human status:\n%s", out)
	}
	s.checkJudgedTheSubmittedBytes(c, id, manifest, final)
	if cs := final.Gates[1].Checks[2]; cs.Name != "resource-usage" || cs.State != release.CheckPassed ||
		!strings.Contains(cs.Detail, "256 MiB") {
		t.Fatalf("resource-usage check %+v", cs)
	}
	recordHistory(t, c, id)

	// production serves 1.4.0 now: a release built on 1.3.0 again is refused at start, before
	// its testnet weeks (the lane itself would refuse it at its canary)
	if _, errOut, code := s.cli("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"); code != 1 ||
		!strings.Contains(errOut, "previousVersion: production serves 1.4.0 (left by release/demo/1.4.0), not 1.3.0") {
		t.Fatalf("start from a version production no longer serves: exit %d %q", code, errOut)
	}
	if out := s.mustCLI("list"); !strings.Contains(out, "WAITS FOR") {
		t.Fatalf("list has no WAITS FOR column:\n%s", out)
	}

	// SIGTERM stops the worker gracefully: it exits 0, promptly
	_ = s.worker.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.worker.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker exit after SIGTERM: %v\n%s", err, s.workerLog)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop within 20 s of SIGTERM")
	}
	if !strings.Contains(s.workerLog.String(), `"msg":"stopping: finishing running tasks"`) {
		t.Fatalf("no graceful-stop line in the worker log:\n%s", s.workerLog)
	}
}

// checkJudgedTheSubmittedBytes: every check read exactly the bytes of the file the manifest
// names (its sha256), labelled as the manifest wrote it, and the release's input carries no
// path of the starter's machine: the worker, in a directory of its own, read the store only.
func (s *stack) checkJudgedTheSubmittedBytes(c client.Client, id, manifest string, st release.Status) {
	s.t.Helper()
	read := 0
	for _, g := range st.Gates {
		for _, cs := range g.Checks {
			for _, e := range cs.Evidence {
				data, err := os.ReadFile(filepath.Join(filepath.Dir(manifest), e.Location))
				if err != nil {
					s.t.Fatalf("%s read %q, which is not a file beside the manifest: %v", cs.Name, e.Location, err)
				}
				if b := evstore.NewBlob(e.Location, data); b.SHA256 != e.SHA256 || b.Size != e.Bytes {
					s.t.Fatalf("%s: %s read as %s, the file is %s", cs.Name, e.Location, e.SHA256, b.SHA256)
				}
				read++
			}
		}
	}
	if read < 8 {
		s.t.Fatalf("only %d evidence files were read", read)
	}
	iter := c.GetWorkflowHistory(context.Background(), id, "", false, 0)
	ev, err := iter.Next()
	if err != nil {
		s.t.Fatal(err)
	}
	input := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().String()
	if dir := filepath.Dir(manifest); strings.Contains(input, dir) || !strings.Contains(input, "sha256") {
		s.t.Fatalf("the release's input names the starter's directory %s, or no blob", dir)
	}
}
