package gatewayapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"

	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/kube/kubetest"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/traffic"
	"github.com/shipgate/shipgate/internal/traffic/gatewayapi"
)

// env is one real API server (kube-apiserver + etcd from .bin/) with the Gateway API CRDs,
// shared by the tests of this package; each test works in a namespace of its own.
var env *kubetest.Env

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childWorker())
	}
	e, err := kubetest.New(kubetest.GatewayAPI)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

var nsSeq atomic.Int32

// setup makes a namespace with what the platform team owns: the stable and canary Services
// and the HTTPRoute (created as field manager "platform-team", all traffic to stable), and a
// stand-in for the Deployment controller (no kubelet runs: it writes the status a controller
// would once the pods run).
func setup(t testing.TB) release.KubeEnvironment { return setupWith(t, true) }

// setupWith is setup, with the stand-in Deployment controller running or not.
func setupWith(t testing.TB, controller bool) release.KubeEnvironment {
	t.Helper()
	ns := fmt.Sprintf("gw-%d-%d", time.Now().UnixNano()%100000, nsSeq.Add(1))
	env.Namespace(t, ns)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if controller {
		env.RunDeploymentController(ctx, ns)
	}
	for _, s := range []string{"demo-stable", "demo-canary"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s}, Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if _, err := env.Kube.Core.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{FieldManager: "platform-team"}); err != nil {
			t.Fatal(err)
		}
	}
	route := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "demo"},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": "gateway"}},
			"rules": []any{
				map[string]any{
					"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/admin"}}},
					"backendRefs": []any{map[string]any{"name": "admin", "port": int64(80)}},
				},
				map[string]any{
					"matches": []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/"}}},
					"backendRefs": []any{
						map[string]any{"name": "demo-stable", "port": int64(80), "weight": int64(100)},
						map[string]any{"name": "demo-canary", "port": int64(80), "weight": int64(0)},
					},
				},
			},
		},
	}}
	if _, err := env.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace(ns).Create(ctx, route, metav1.CreateOptions{FieldManager: "platform-team"}); err != nil {
		t.Fatal(err)
	}
	return release.KubeEnvironment{Name: "production", Namespace: ns, Image: "registry.example/demo", Route: "demo", Rule: 1,
		StableService: "demo-stable", CanaryService: "demo-canary"}
}

func backend(cfg *rest.Config, e release.KubeEnvironment, t testing.TB) *gatewayapi.Backend {
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &gatewayapi.Backend{Kube: c, Envs: []release.KubeEnvironment{e}, PollEvery: 50 * time.Millisecond}
}

func change(percent float64) traffic.Change {
	return traffic.Change{Service: "demo", Version: "1.4.0", PreviousVersion: "1.3.0", Environment: "production", Percent: percent}
}

const rel = "release/demo/1.4.0/run1"

func getRoute(t *testing.T, e release.KubeEnvironment) *unstructured.Unstructured {
	t.Helper()
	r, err := env.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace(e.Namespace).Get(context.Background(), e.Route, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantWeights checks the route's weights, that the Services select the versions they should
// and that the other rule was left alone.
func wantWeights(t *testing.T, e release.KubeEnvironment, stable, canary int64, canaryVersion string) {
	t.Helper()
	r := getRoute(t, e)
	s, c, err := gatewayapi.Weights(r, e.Rule, e.StableService, e.CanaryService)
	if err != nil || s != stable || c != canary {
		t.Fatalf("route weights stable %d canary %d (%v), want %d/%d", s, c, err, stable, canary)
	}
	rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
	other := rules[0].(map[string]any)["backendRefs"].([]any)[0].(map[string]any)
	if other["name"] != "admin" || other["weight"] != nil && other["weight"] != int64(1) {
		t.Fatalf("the other rule changed: %v", other)
	}
	for svc, v := range map[string]string{e.StableService: "1.3.0", e.CanaryService: canaryVersion} {
		got, err := env.Kube.Core.CoreV1().Services(e.Namespace).Get(context.Background(), svc, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Spec.Selector[kube.LabelVersion] != v || got.Spec.Selector[kube.LabelName] != "demo" {
			t.Fatalf("service %s selects %v, want demo %s", svc, got.Spec.Selector, v)
		}
		if len(got.Spec.Ports) != 1 || got.Spec.Ports[0].Port != 80 {
			t.Fatalf("service %s's ports changed: %v", svc, got.Spec.Ports)
		}
	}
}

var steps = []struct {
	name    string
	percent float64
}{{"canary", 5}, {"production-5", 5}, {"production-25", 25}, {"production-100", 100}}

// TestEveryStepAndRollbackFromEach moves the route through every production step against the
// real API server, retries each step (nothing changes: the route's resourceVersion stays),
// and from each step rolls back: all traffic to stable, which selects the previous version.
func TestEveryStepAndRollbackFromEach(t *testing.T) {
	for upto := range steps {
		t.Run(steps[upto].name, func(t *testing.T) {
			e := setup(t)
			b := backend(env.Admin, e, t)
			ctx := context.Background()
			for _, s := range steps[:upto+1] {
				start := time.Now()
				if err := b.Apply(ctx, rel+"/"+s.name, change(s.percent)); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				t.Logf("%s → %g %%: %s", s.name, s.percent, time.Since(start).Round(time.Millisecond))
				wantWeights(t, e, 100-int64(s.percent), int64(s.percent), "1.4.0")
				rv := getRoute(t, e).GetResourceVersion()
				if err := b.Apply(ctx, rel+"/"+s.name, change(s.percent)); err != nil {
					t.Fatalf("%s retried: %v", s.name, err)
				}
				if got := getRoute(t, e).GetResourceVersion(); got != rv {
					t.Fatalf("%s retried changed the route (resourceVersion %s → %s)", s.name, rv, got)
				}
			}
			for _, d := range []string{"demo-1-4-0", "demo-1-3-0"} {
				got, err := env.Kube.Core.AppsV1().Deployments(e.Namespace).Get(ctx, d, metav1.GetOptions{})
				if err != nil {
					t.Fatalf("deployment %s: %v", d, err)
				}
				if img := got.Spec.Template.Spec.Containers[0].Image; img != "registry.example/demo:"+strings.ReplaceAll(d[5:], "-", ".") {
					t.Fatalf("deployment %s runs %s", d, img)
				}
			}
			if err := b.Apply(ctx, rel+"/rollback", change(0)); err != nil {
				t.Fatalf("rollback from %s: %v", steps[upto].name, err)
			}
			wantWeights(t, e, 100, 0, "1.4.0")
		})
	}
}

// TestNextReleaseAfterFullRollout: a release that ended at 100 % through the canary Service is
// followed by the next one: its first step moves the old canary's share to stable (which now
// selects that same version) before the canary Service is pointed at the new version.
func TestNextReleaseAfterFullRollout(t *testing.T) {
	e := setup(t)
	b := backend(env.Admin, e, t)
	ctx := context.Background()
	if err := b.Apply(ctx, rel+"/production-100", change(100)); err != nil {
		t.Fatal(err)
	}
	next := traffic.Change{Service: "demo", Version: "1.5.0", PreviousVersion: "1.4.0", Environment: "production", Percent: 5}
	if err := b.Apply(ctx, "release/demo/1.5.0/run1/canary", next); err != nil {
		t.Fatal(err)
	}
	r := getRoute(t, e)
	if s, c, _ := gatewayapi.Weights(r, 1, "demo-stable", "demo-canary"); s != 95 || c != 5 {
		t.Fatalf("weights %d/%d, want 95/5", s, c)
	}
	for svc, v := range map[string]string{"demo-stable": "1.4.0", "demo-canary": "1.5.0"} {
		got, _ := env.Kube.Core.CoreV1().Services(e.Namespace).Get(ctx, svc, metav1.GetOptions{})
		if got.Spec.Selector[kube.LabelVersion] != v {
			t.Fatalf("%s selects %v, want %s", svc, got.Spec.Selector, v)
		}
	}
}

// TestForeignEditIsReported: someone edits the route mid-release (kubectl edit: an update as
// another field manager); the next step is refused by the API server's conflict check and
// reported naming the editor, the edit stays, and the rollback still returns all traffic.
func TestForeignEditIsReported(t *testing.T) {
	e := setup(t)
	b := backend(env.Admin, e, t)
	ctx := context.Background()
	if err := b.Apply(ctx, rel+"/canary", change(5)); err != nil {
		t.Fatal(err)
	}
	routes := env.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace(e.Namespace)
	r := getRoute(t, e)
	rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
	if err := gatewayapi.SetWeights(rules, 1, "demo-stable", "demo-canary", 50, 50); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedSlice(r.Object, rules, "spec", "rules")
	if _, err := routes.Update(ctx, r, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	err := b.Apply(ctx, rel+"/production-25", change(25))
	var fe *kube.ForeignEditError
	if !errors.As(err, &fe) || !fe.Permanent() || !strings.Contains(err.Error(), `kubectl-edit`) || !strings.Contains(err.Error(), "HTTPRoute "+e.Namespace+"/demo") {
		t.Fatalf("want a foreign edit by kubectl-edit reported, got %v", err)
	}
	t.Logf("reported: %v", err)
	if s, c, _ := gatewayapi.Weights(getRoute(t, e), 1, "demo-stable", "demo-canary"); s != 50 || c != 50 {
		t.Fatalf("the edit was overwritten: %d/%d", s, c)
	}
	if err := b.Apply(ctx, rel+"/rollback", change(0)); err != nil {
		t.Fatalf("rollback after a foreign edit: %v", err)
	}
	wantWeights(t, e, 100, 0, "1.4.0")
}

// TestRBACRole: the worker, as a user with nothing but the shipped Role bound in the
// namespace, runs a step and a rollback; without the binding it is refused, and the error says
// what to grant and is final (no retry can help).
func TestRBACRole(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	worker := env.User(t, "shipgate-worker")
	err := backend(worker, e, t).Apply(ctx, rel+"/canary", change(5))
	var ke *kube.Error
	if !errors.As(err, &ke) || !ke.Permanent() || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "rbac.yaml") {
		t.Fatalf("without the Role: want a permanent forbidden error naming rbac.yaml, got %v", err)
	}
	t.Logf("without the Role: %v", err)
	role := kubetest.ShippedRole(t)
	role.Namespace = e.Namespace
	if _, err := env.Kube.Core.RbacV1().Roles(e.Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "shipgate-worker"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "shipgate-worker"}}}
	if _, err := env.Kube.Core.RbacV1().RoleBindings(e.Namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := backend(worker, e, t)
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := kube.Poll(wait, 100*time.Millisecond, func(ctx context.Context) (bool, error) { // RBAC caches
		err := b.Apply(ctx, rel+"/canary", change(5))
		return err == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		key string
		p   float64
	}{{"production-25", 25}, {"production-100", 100}, {"rollback", 0}} {
		if err := b.Apply(ctx, rel+"/"+s.key, change(s.p)); err != nil {
			t.Fatalf("with the Role, %s: %v", s.key, err)
		}
	}
	wantWeights(t, e, 100, 0, "1.4.0")
}

// TestMissingCRD: on an API server without the Gateway API CRDs the step fails at once with an
// error that says so, and is final.
func TestMissingCRD(t *testing.T) {
	bare := kubetest.Start(t)
	bare.Namespace(t, "demo")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bare.RunDeploymentController(ctx, "demo")
	for _, s := range []string{"demo-stable", "demo-canary"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: s}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
		if _, err := bare.Kube.Core.CoreV1().Services("demo").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e := release.KubeEnvironment{Name: "production", Namespace: "demo", Image: "registry.example/demo", Route: "demo",
		StableService: "demo-stable", CanaryService: "demo-canary"}
	b := &gatewayapi.Backend{Kube: bare.Kube, Envs: []release.KubeEnvironment{e}, PollEvery: 50 * time.Millisecond}
	err := b.Apply(ctx, rel+"/canary", change(5))
	var ke *kube.Error
	if !errors.As(err, &ke) || !ke.Permanent() || !strings.Contains(err.Error(), "CRD installed") {
		t.Fatalf("want a permanent missing-CRD error, got %v", err)
	}
	t.Logf("reported: %v", err)
}

// TestUnknownEnvironmentAndRule: an environment the policy does not name, and a rule the route
// does not have, are final errors that say which.
func TestUnknownEnvironmentAndRule(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := change(5)
	c.Environment = "prod"
	err := backend(env.Admin, e, t).Apply(ctx, rel+"/canary", c)
	var ke *kube.Error
	if !errors.As(err, &ke) || !ke.Permanent() || !strings.Contains(err.Error(), `no environment "prod"`) {
		t.Fatalf("unknown environment: %v", err)
	}
	e.Rule = 7
	err = backend(env.Admin, e, t).Apply(ctx, rel+"/canary", change(5))
	if !errors.As(err, &ke) || !ke.Permanent() || !strings.Contains(err.Error(), "policy names rule 7") {
		t.Fatalf("missing rule: %v", err)
	}
}

// The worker-crash test runs a worker in a child process (this test binary again): it applies
// a step and is SIGKILLed before it can record anything. A new worker retries the same step
// with the same key: nothing changes; then the rollback returns all traffic.
const childEnv = "SHIPGATE_TEST_GATEWAYAPI_CHILD"

func childWorker() int {
	var e release.KubeEnvironment
	e.Name, e.Namespace, e.Image, e.Route, e.Rule = "production", os.Getenv(childEnv), "registry.example/demo", "demo", 1
	e.StableService, e.CanaryService = "demo-stable", "demo-canary"
	cfg, err := kube.Config(os.Getenv(kube.EnvKubeconfig))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	c, err := kube.New(cfg)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	b := &gatewayapi.Backend{Kube: c, Envs: []release.KubeEnvironment{e}, PollEvery: 50 * time.Millisecond}
	if err := b.Apply(context.Background(), rel+"/canary", change(5)); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("applied") // and never records it: the parent kills this process now
	time.Sleep(time.Hour)
	return 0
}

func TestWorkerKilledBetweenPatchAndRecord(t *testing.T) {
	e := setup(t)
	kubeconfig := kubetest.Kubeconfig(t, env.Admin)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+e.Namespace, kube.EnvKubeconfig+"="+kubeconfig)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "applied" {
		t.Fatalf("child worker: %q", line)
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	wantWeights(t, e, 95, 5, "1.4.0")
	rv := getRoute(t, e).GetResourceVersion()
	b := backend(env.Admin, e, t)
	ctx := context.Background()
	if err := b.Apply(ctx, rel+"/canary", change(5)); err != nil {
		t.Fatalf("the retried step on a new worker: %v", err)
	}
	if got := getRoute(t, e).GetResourceVersion(); got != rv {
		t.Fatalf("the retried step changed the route (resourceVersion %s → %s)", rv, got)
	}
	if err := b.Apply(ctx, rel+"/rollback", change(0)); err != nil {
		t.Fatal(err)
	}
	wantWeights(t, e, 100, 0, "1.4.0")
}

// BenchmarkStep is one traffic step (weights 25 ↔ 50, both Deployments already available)
// against the local API server: reads, four server-side applies, the status reads.
func BenchmarkStep(b *testing.B) {
	e := setup(b)
	be := backend(env.Admin, e, b)
	ctx := context.Background()
	if err := be.Apply(ctx, rel+"/canary", change(5)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := float64(25 + 25*(i%2))
		if err := be.Apply(ctx, fmt.Sprintf("%s/step-%d", rel, i), change(p)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFirstStepThatChangesNoValue: the platform team has already pointed the canary Service at
// the new version and set the route to the first step's weights (95/5) itself. The release's
// first step takes the route over with a forced apply that changes no value, which leaves the
// platform team a co-owner of the rules; the next step changes them and must not be reported
// as an edit by someone else (nobody edited anything). A real edit afterwards still is.
func TestFirstStepThatChangesNoValue(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	routes := env.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace(e.Namespace)
	r := getRoute(t, e)
	rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
	if err := gatewayapi.SetWeights(rules, 1, "demo-stable", "demo-canary", 95, 5); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedSlice(r.Object, rules, "spec", "rules")
	if _, err := routes.Update(ctx, r, metav1.UpdateOptions{FieldManager: "platform-team"}); err != nil {
		t.Fatal(err)
	}
	for svc, v := range map[string]string{"demo-stable": "1.3.0", "demo-canary": "1.4.0"} {
		s, err := env.Kube.Core.CoreV1().Services(e.Namespace).Get(ctx, svc, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Spec.Selector = map[string]string{kube.LabelName: "demo", kube.LabelVersion: v}
		if _, err := env.Kube.Core.CoreV1().Services(e.Namespace).Update(ctx, s, metav1.UpdateOptions{FieldManager: "platform-team"}); err != nil {
			t.Fatal(err)
		}
	}
	b := backend(env.Admin, e, t)
	rv := getRoute(t, e)
	if err := b.Apply(ctx, rel+"/canary", change(5)); err != nil {
		t.Fatal(err)
	}
	wantWeights(t, e, 95, 5, "1.4.0")
	if got := getRoute(t, e); !equalRules(rv, got) {
		t.Fatal("the first step was meant to change no weight")
	}
	if err := b.Apply(ctx, rel+"/production-25", change(25)); err != nil {
		t.Fatalf("the step after a first step that changed no value: %v", err)
	}
	wantWeights(t, e, 75, 25, "1.4.0")
	r = getRoute(t, e)
	rules, _, _ = unstructured.NestedSlice(r.Object, "spec", "rules")
	_ = gatewayapi.SetWeights(rules, 1, "demo-stable", "demo-canary", 50, 50)
	_ = unstructured.SetNestedSlice(r.Object, rules, "spec", "rules")
	if _, err := routes.Update(ctx, r, metav1.UpdateOptions{FieldManager: "platform-team"}); err != nil {
		t.Fatal(err)
	}
	err := b.Apply(ctx, rel+"/production-100", change(100))
	var fe *kube.ForeignEditError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "platform-team") {
		t.Fatalf("a real edit afterwards: want a foreign edit by platform-team, got %v", err)
	}
	if err := b.Apply(ctx, rel+"/rollback", change(0)); err != nil {
		t.Fatal(err)
	}
	wantWeights(t, e, 100, 0, "1.4.0")
}

func equalRules(a, b *unstructured.Unstructured) bool {
	ra, _, _ := unstructured.NestedSlice(a.Object, "spec", "rules")
	rb, _, _ := unstructured.NestedSlice(b.Object, "spec", "rules")
	return fmt.Sprint(ra) == fmt.Sprint(rb)
}
