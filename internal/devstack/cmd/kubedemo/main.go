// Command kubedemo moves the demo release's traffic steps (canary and rollout steps of
// deployments/policies/demo.yaml) through the gatewayapi backend (what the Traffic activity calls)
// against a local Kubernetes API server (kube-apiserver and etcd from .bin/, started by
// envtest), printing the HTTPRoute's weights after each step, then rolls back. It is the
// traffic part of a release only: gates, windows and approvals are the embedded stack's demo
// (go tool task demo). No kubelet runs: a stand-in writes the Deployments' available status.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/kube/kubetest"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/traffic"
	"github.com/shipgate/shipgate/internal/traffic/gatewayapi"
)

func main() {
	policy := flag.String("policy", "deployments/policies/demo.yaml", "the demo policy (its canary and rollout steps)")
	flag.Parse()
	if err := run(*policy); err != nil {
		fmt.Fprintln(os.Stderr, "kubedemo:", err)
		os.Exit(1)
	}
}

func run(policyPath string) error {
	pol, err := release.LoadPolicy(policyPath, checks.Validate)
	if err != nil {
		return err
	}
	fmt.Println("starting kube-apiserver and etcd (.bin/) with the Gateway API CRDs ...")
	start := time.Now()
	env, err := kubetest.New(kubetest.GatewayAPI)
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	fmt.Printf("API server %s up in %s\n", env.Admin.Host, time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ns = "demo"
	if err := platform(ctx, env, ns); err != nil {
		return err
	}
	fmt.Println("no kubelet runs here: a stand-in writes each Deployment's available status")
	env.RunDeploymentController(ctx, ns)

	kenv := release.KubeEnvironment{Name: "production", Namespace: ns, Image: "registry.example/demo", Route: "demo",
		StableService: "demo-stable", CanaryService: "demo-canary"}
	backend := &gatewayapi.Backend{Kube: env.Kube, Envs: []release.KubeEnvironment{kenv}, PollEvery: 100 * time.Millisecond}
	type step struct {
		name    string
		percent float64
	}
	steps := []step{{"canary", pol.Canary.Percent}}
	for _, s := range pol.Rollout.Steps {
		steps = append(steps, step{fmt.Sprintf("production-%g", s.Percent), s.Percent})
	}
	steps = append(steps, step{"rollback", 0})
	id := "release/demo/1.4.0/kubedemo"
	for _, s := range steps {
		c := traffic.Change{Service: "demo", Version: "1.4.0", PreviousVersion: "1.3.0", Environment: "production", Percent: s.percent}
		t := time.Now()
		if err := backend.Apply(ctx, id+"/"+s.name, c); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		took := time.Since(t)
		route, err := env.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace(ns).Get(ctx, "demo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		st, ca, err := gatewayapi.Weights(route, 0, "demo-stable", "demo-canary")
		if err != nil {
			return err
		}
		fmt.Printf("%-15s %5g %%  HTTPRoute demo/demo: demo-stable (1.3.0) weight %3d, demo-canary (1.4.0) weight %3d  [%s]\n",
			s.name, s.percent, st, ca, took.Round(time.Millisecond))
	}
	return nil
}

// platform creates what the platform team owns: the two Services and the HTTPRoute.
func platform(ctx context.Context, env *kubetest.Env, ns string) error {
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
