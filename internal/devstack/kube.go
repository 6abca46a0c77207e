package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/kube/kubetest"
	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/traffic/gatewayapi"
)

// KubeStack runs the demo release through Temporal with the gatewayapi backend: a
// kube-apiserver (kubetest) with the Gateway API CRDs and, per environment the release deploys
// to, a namespace holding what the platform team owns (HTTPRoute demo, Services demo-stable
// and demo-canary); the Temporal dev server; the worker binary, connected to the API server by
// a kubeconfig (SHIPGATE_KUBECONFIG), running the demo policy with its traffic moved by the
// gatewayapi backend; an evidence store in a directory. No kubelet runs: a stand-in writes each
// Deployment's available status, as its controller would.
//
// The demo policy loses what needs the other parts of the embedded stack: the observability
// gate (Prometheus probes) and the analysis (the demo service's metrics per version, which
// only its own router has). Everything else (gates, signoffs, windows, steps, bakes, the way
// back) is the demo's.
type KubeStack struct {
	Kube     *kubetest.Env
	Temporal *Temporal
	Client   client.Client
	Keys     *people.Keyring
	// Dir holds the stack's files: logs, kubeconfig, policies, evidence, the worker binary.
	Dir string
	// WorkerEnv is added to the worker's environment at its next start (SHIPGATE_TEST_CRASH_AT
	// of a stack started with KubeOptions.CrashPoints).
	WorkerEnv []string

	root, bin, kubeconfig, policyDir, evidence string
	worker                                     *exec.Cmd
	workers                                    int
	stopControllers                            context.CancelFunc
}

// KubeEnvironments are the environments the demo release deploys to, a namespace each.
var KubeEnvironments = []string{"staging", "testnet", "production"}

// KubePolicy is the name of the demo policy with the gatewayapi backend on the stack's worker.
const KubePolicy = "kube-demo"

// KubeOptions change the stack StartKubeStack starts.
type KubeOptions struct {
	// Edits (old → new pairs) change the demo policy (shorter windows for tests).
	Edits []string
	// CrashPoints builds the worker with the test crash points (-tags crashpoints, package
	// crashpoint): it stops where WorkerEnv's SHIPGATE_TEST_CRASH_AT says. Tests only.
	CrashPoints bool
}

// StartKubeStack starts the stack in dir, its progress written to out. Stop ends it.
func StartKubeStack(ctx context.Context, dir string, out io.Writer, o KubeOptions) (_ *KubeStack, err error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	s := &KubeStack{Dir: dir, root: root, bin: filepath.Join(dir, "bin"), policyDir: filepath.Join(dir, "policies"),
		evidence: "dir:" + filepath.Join(dir, "evidence"), Keys: &people.Keyring{Dir: filepath.Join(dir, "keys")}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	start := time.Now()
	args := []string{"build", "-o", s.bin + "/"}
	if o.CrashPoints {
		args = append(args, "-tags", "crashpoints")
	}
	build := exec.CommandContext(ctx, "go", append(args, "./worker")...)
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./worker: %v\n%s", err, b)
	}
	fmt.Fprintf(out, "worker binary built in %s\n", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	if s.Kube, err = kubetest.New(kubetest.GatewayAPI); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	s.stopControllers = cancel
	for _, ns := range KubeEnvironments {
		if err := DemoPlatform(ctx, s.Kube, ns); err != nil {
			return nil, fmt.Errorf("namespace %s: %w", ns, err)
		}
		s.Kube.RunDeploymentController(cctx, ns)
	}
	s.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := kubetest.WriteKubeconfig(s.Kube.Admin, s.kubeconfig); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "kube-apiserver %s up in %s with the Gateway API CRDs; namespaces %s, each with HTTPRoute demo → Services demo-stable (weight 100), demo-canary (0)\n",
		s.Kube.Admin.Host, time.Since(start).Round(time.Millisecond), strings.Join(KubeEnvironments, ", "))
	fmt.Fprintln(out, "no kubelet runs here: a stand-in writes each Deployment's available status, as its controller would")

	start = time.Now()
	if s.Temporal, err = StartTemporal(ctx, TemporalOptions{Log: filepath.Join(dir, "temporal.log")}); err != nil {
		return nil, err
	}
	if s.Client, err = client.Dial(client.Options{HostPort: s.Temporal.Address, Logger: nopLogger{}}); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "temporal dev server %s up in %s (Web UI %s)\n", s.Temporal.Address, time.Since(start).Round(time.Millisecond), s.Temporal.UIURL)
	if err := s.putPolicy(o.Edits); err != nil {
		return nil, err
	}
	if err := s.StartWorker(); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "worker up (gatewayapi backend, SHIPGATE_KUBECONFIG=%s)\n", s.kubeconfig)
	return s, nil
}

// kubeTraffic is the demo policy's traffic section for the stack: the gatewayapi backend on
// each environment's namespace.
func kubeTraffic() string {
	var b strings.Builder
	b.WriteString("traffic:\n  backend: gatewayapi\n  kubernetes:\n")
	for _, ns := range KubeEnvironments {
		fmt.Fprintf(&b, "    - {name: %s, namespace: %s, image: registry.example/demo, route: demo, stableService: demo-stable, canaryService: demo-canary}\n", ns, ns)
	}
	return b.String()
}

// putPolicy writes the demo policy with the gatewayapi backend, without the observability gate
// and the analysis, edited by edits, to the worker's policy directory with the people's keys.
func (s *KubeStack) putPolicy(edits []string) error {
	b, err := os.ReadFile(filepath.Join(s.root, "deployments/policies/demo.yaml"))
	if err != nil {
		return err
	}
	p := string(b)
	cut := func(from, to string) error {
		i, j := strings.Index(p, from), strings.Index(p, to)
		if i < 0 || j < i {
			return fmt.Errorf("demo policy: no %q before %q to cut", from, to)
		}
		p = p[:i] + p[j:]
		return nil
	}
	if err := cut("  - id: G4\n", "  - id: G5\n"); err != nil {
		return err
	}
	if err := cut("# Canary and production-step analysis", "traffic:\n"); err != nil {
		return err
	}
	const webhook = "traffic:\n  backend: webhook\n  url: http://127.0.0.1:8090/v1/traffic\n"
	edits = append([]string{webhook, kubeTraffic()}, edits...)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(p, edits[i]) {
			return fmt.Errorf("demo policy has no %q to edit", edits[i])
		}
		p = strings.ReplaceAll(p, edits[i], edits[i+1])
	}
	src := filepath.Join(s.Dir, "policy-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, KubePolicy+".yaml"), []byte(p), 0o644); err != nil {
		return err
	}
	return s.Keys.RenderPolicies(src, s.policyDir)
}

// StartWorker starts the worker binary and waits until it is ready.
func (s *KubeStack) StartWorker() error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.workers++
	logf, err := os.Create(filepath.Join(s.Dir, fmt.Sprintf("worker-%d.log", s.workers)))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "worker"))
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "TEMPORAL_ADDRESS="+s.Temporal.Address, "SHIPGATE_HTTP_ADDR="+addr,
		"SHIPGATE_CHAIN_DATA="+filepath.Join(s.Dir, "chain"), kube.EnvKubeconfig+"="+s.kubeconfig,
		evstore.EnvStore+"="+s.evidence, policies.EnvDir+"="+s.policyDir, policies.EnvAllowDev+"=true")
	cmd.Env = append(cmd.Env, s.WorkerEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	s.worker = cmd
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || s.WorkerExited() {
			return fmt.Errorf("worker not ready: %v (log %s)", err, logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WorkerExited reports whether the worker process has ended (a crash point kills it).
func (s *KubeStack) WorkerExited() bool {
	if s.worker == nil {
		return true
	}
	return s.worker.ProcessState != nil || syscall.Kill(s.worker.Process.Pid, 0) != nil
}

// WaitWorker waits until the worker process ends (at a crash point), at most timeout.
func (s *KubeStack) WaitWorker(timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- s.worker.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("the worker still runs after %s", timeout)
	}
}

// KillWorker SIGKILLs the worker: a crash, no graceful stop.
func (s *KubeStack) KillWorker() {
	if s.worker != nil && s.worker.ProcessState == nil {
		_ = s.worker.Process.Signal(syscall.SIGKILL)
		_ = s.worker.Wait()
	}
}

// Release is the demo release (1.3.0 → 1.4.0, the service alone: no contracts) under the
// stack's policy, its evidence uploaded to the stack's store, driven by the stack's people.
func (s *KubeStack) Release(ctx context.Context) (Release, error) {
	dir := filepath.Join(s.Dir, "release")
	src := filepath.Join(s.root, "deployments/examples/demo")
	for _, sub := range []string{"evidence", "docs"} {
		if err := os.CopyFS(filepath.Join(dir, sub), os.DirFS(filepath.Join(src, sub))); err != nil {
			return Release{}, err
		}
	}
	m, err := os.ReadFile(filepath.Join(src, "release.yaml"))
	if err != nil {
		return Release{}, err
	}
	ms, _, _ := strings.Cut(string(m), "\n# The demo's upgradeable counter")
	ms = strings.Replace(ms, "contracts: true", "contracts: false", 1)
	// the evidence of the observability gate, which the stack's policy does not have
	for _, check := range []string{"runbook", "rollback-procedure"} {
		i := strings.Index(ms, "\n  "+check+": [")
		if i < 0 {
			return Release{}, fmt.Errorf("demo manifest: no evidence for %s to drop", check)
		}
		ms = ms[:i] + ms[i+1+strings.IndexByte(ms[i+1:], '\n'):]
	}
	manifest := filepath.Join(dir, "release.yaml")
	if err := os.WriteFile(manifest, []byte(ms), 0o644); err != nil {
		return Release{}, err
	}
	st, err := evstore.Open(ctx, s.evidence)
	if err != nil {
		return Release{}, err
	}
	in, pol, err := evstore.Load(ctx, st, manifest, filepath.Join(s.policyDir, KubePolicy+".yaml"), checks.Validate)
	if err != nil {
		return Release{}, err
	}
	return Release{In: in, Policy: pol, Keys: s.Keys}, nil
}

// Weights reads the stable and canary weights of environment env's route.
func (s *KubeStack) Weights(ctx context.Context, env string) (stable, canary int64, err error) {
	r, err := s.Kube.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace(env).Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		return 0, 0, err
	}
	return gatewayapi.Weights(r, 0, "demo-stable", "demo-canary")
}

// Stop ends the worker, the dev server and the API server.
func (s *KubeStack) Stop() error {
	s.KillWorker()
	if s.Client != nil {
		s.Client.Close()
	}
	var errs []error
	if s.Temporal != nil {
		errs = append(errs, s.Temporal.Stop())
	}
	if s.stopControllers != nil {
		s.stopControllers()
	}
	if s.Kube != nil {
		errs = append(errs, s.Kube.Stop())
	}
	return errors.Join(errs...)
}

// DemoPlatform creates in namespace ns what the platform team owns for the demo service: the
// Services demo-stable and demo-canary and the HTTPRoute demo sending all traffic to stable.
func DemoPlatform(ctx context.Context, env *kubetest.Env, ns string) error {
	if _, err := env.Kube.Core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, s := range []string{"demo-stable", "demo-canary"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s}, Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if _, err := env.Kube.Core.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{FieldManager: "platform-team"}); err != nil {
			return err
		}
	}
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "demo"},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "gateway"}},
			"rules": []any{map[string]any{"backendRefs": []any{
				map[string]any{"name": "demo-stable", "port": int64(80), "weight": int64(100)},
				map[string]any{"name": "demo-canary", "port": int64(80), "weight": int64(0)},
			}}},
		},
	}}
	_, err := env.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace(ns).Create(ctx, route, metav1.CreateOptions{FieldManager: "platform-team"})
	return err
}
