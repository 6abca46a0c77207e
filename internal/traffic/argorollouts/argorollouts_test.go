package argorollouts_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"

	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/kube/kubetest"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/traffic"
	"github.com/shipgate/shipgate/internal/traffic/argorollouts"
)

// env is one real API server with the Argo Rollouts CRDs, shared by this package's tests.
var env *kubetest.Env

func TestMain(m *testing.M) {
	e, err := kubetest.New(kubetest.ArgoRollouts)
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

func podHash(image string) string {
	s := sha256.Sum256([]byte(image))
	return fmt.Sprintf("%x", s[:5])
}

// setup creates the platform team's Rollout (1.3.0 stable and healthy) in a namespace of its
// own, and starts a stand-in for the Argo Rollouts controller: no controller runs here, so
// the test writes the status it would (step index, weights, promotion, abort) through the API.
func setup(t *testing.T) release.KubeEnvironment {
	t.Helper()
	ns := fmt.Sprintf("ar-%d-%d", time.Now().UnixNano()%100000, nsSeq.Add(1))
	env.Namespace(t, ns)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "demo"},
		"spec": map[string]any{
			"replicas": int64(4),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "demo"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "demo"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "demo", "image": "registry.example/demo:1.3.0",
					"ports": []any{map[string]any{"containerPort": int64(8080)}}}}},
			},
			"strategy": map[string]any{"canary": map[string]any{"steps": []any{
				map[string]any{"setWeight": int64(20)}, map[string]any{"pause": map[string]any{}}}}},
		},
	}}
	rollouts := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(ns)
	if _, err := rollouts.Create(ctx, r, metav1.CreateOptions{FieldManager: "platform-team"}); err != nil {
		t.Fatal(err)
	}
	h := podHash("registry.example/demo:1.3.0")
	if err := status(ctx, ns, map[string]any{"phase": "Healthy", "stableRS": h, "currentPodHash": h, "observedGeneration": "1"}); err != nil {
		t.Fatal(err)
	}
	go controller(ctx, ns)
	return release.KubeEnvironment{Name: "production", Namespace: ns, Image: "registry.example/demo", Rollout: "demo"}
}

func status(ctx context.Context, ns string, s map[string]any) error {
	body, _ := json.Marshal(map[string]any{"status": s})
	_, err := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(ns).Patch(ctx, "demo", types.MergePatchType, body,
		metav1.PatchOptions{FieldManager: "kubetest-argo-rollouts-controller"}, "status")
	return err
}

// controller stands in for Argo Rollouts' controller (which does not run here) with what it
// writes in status for the calls shipgate makes.
func controller(ctx context.Context, ns string) {
	rollouts := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(ns)
	for ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		r, err := rollouts.Get(ctx, "demo", metav1.GetOptions{})
		if err != nil {
			continue
		}
		gen := strconv.FormatInt(r.GetGeneration(), 10)
		containers, _, _ := unstructured.NestedSlice(r.Object, "spec", "template", "spec", "containers")
		image := containers[0].(map[string]any)["image"].(string)
		st, _, _ := unstructured.NestedMap(r.Object, "status")
		steps, _, _ := unstructured.NestedSlice(r.Object, "spec", "strategy", "canary", "steps")
		weight, _, _ := unstructured.NestedInt64(steps[0].(map[string]any), "setWeight")
		var want map[string]any
		switch {
		case st["abort"] == true:
			if st["abortedAt"] == nil {
				want = map[string]any{"abortedAt": time.Now().UTC().Format(time.RFC3339), "phase": "Degraded",
					"canary": map[string]any{"weights": map[string]any{"canary": map[string]any{"weight": int64(0), "podTemplateHash": podHash(image)},
						"stable": map[string]any{"weight": int64(100), "podTemplateHash": st["stableRS"]}}}}
			}
		case st["promoteFull"] == true:
			want = map[string]any{"promoteFull": nil, "phase": "Healthy", "stableRS": podHash(image), "currentPodHash": podHash(image),
				"observedGeneration": gen, "currentStepIndex": int64(len(steps)), "pauseConditions": nil, "abortedAt": nil,
				"canary": map[string]any{"weights": nil}}
		case st["observedGeneration"] != gen:
			want = map[string]any{"observedGeneration": gen, "currentPodHash": podHash(image), "currentStepIndex": int64(1), "phase": "Paused",
				"abortedAt": nil, "pauseConditions": []any{map[string]any{"reason": "CanaryPauseStep", "startTime": time.Now().UTC().Format(time.RFC3339)}},
				"canary": map[string]any{"weights": map[string]any{"canary": map[string]any{"weight": weight, "podTemplateHash": podHash(image)},
					"stable": map[string]any{"weight": 100 - weight, "podTemplateHash": st["stableRS"]}}}}
		}
		if want != nil {
			if err := status(ctx, ns, want); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "stand-in controller:", err)
			}
		}
	}
}

func backend(cfg *rest.Config, e release.KubeEnvironment, t *testing.T) *argorollouts.Backend {
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &argorollouts.Backend{Kube: c, Envs: []release.KubeEnvironment{e}, PollEvery: 50 * time.Millisecond}
}

func change(percent float64) traffic.Change {
	return traffic.Change{Service: "demo", Version: "1.4.0", PreviousVersion: "1.3.0", Environment: "production", Percent: percent}
}

const rel = "release/demo/1.4.0/run1"

func get(t *testing.T, e release.KubeEnvironment) *unstructured.Unstructured {
	t.Helper()
	r, err := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(e.Namespace).Get(context.Background(), "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var steps = []struct {
	name    string
	percent float64
}{{"canary", 5}, {"production-5", 5}, {"production-25", 25}, {"production-100", 100}}

// TestEveryStepAndRollbackFromEach: every step sets the image and the weight and waits for
// the controller's status; a retried step leaves the spec as it is (same generation); an
// abort from each step is taken (status.abort, weight 0).
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
				r := get(t, e)
				img, _, _ := unstructured.NestedSlice(r.Object, "spec", "template", "spec", "containers")
				if got := img[0].(map[string]any)["image"]; got != "registry.example/demo:1.4.0" {
					t.Fatalf("image %v", got)
				}
				if ports := img[0].(map[string]any)["ports"]; ports == nil {
					t.Fatal("the container's other fields were dropped")
				}
				if s.percent < 100 && !argorollouts.AtWeight(int64(s.percent))(r) || s.percent == 100 && !argorollouts.Promoted(r) {
					t.Fatalf("%s: status %v", s.name, r.Object["status"])
				}
				gen := r.GetGeneration()
				if err := b.Apply(ctx, rel+"/"+s.name, change(s.percent)); err != nil {
					t.Fatalf("%s retried: %v", s.name, err)
				}
				if g := get(t, e).GetGeneration(); g != gen {
					t.Fatalf("%s retried changed the spec (generation %d → %d)", s.name, gen, g)
				}
			}
			if err := b.Apply(ctx, rel+"/rollback", change(0)); err != nil {
				t.Fatalf("abort from %s: %v", steps[upto].name, err)
			}
			if r := get(t, e); !argorollouts.Aborted(r) {
				t.Fatalf("not aborted: %v", r.Object["status"])
			}
		})
	}
}

// TestForeignEditIsReported: someone changes the Rollout's steps mid-release; the next step is
// refused and reported naming the editor; the abort still goes through.
func TestForeignEditIsReported(t *testing.T) {
	e := setup(t)
	b := backend(env.Admin, e, t)
	ctx := context.Background()
	if err := b.Apply(ctx, rel+"/canary", change(5)); err != nil {
		t.Fatal(err)
	}
	r := get(t, e)
	_ = unstructured.SetNestedSlice(r.Object, []any{map[string]any{"setWeight": int64(50)}}, "spec", "strategy", "canary", "steps")
	if _, err := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(e.Namespace).Update(ctx, r, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	err := b.Apply(ctx, rel+"/production-25", change(25))
	var fe *kube.ForeignEditError
	if !errors.As(err, &fe) || !fe.Permanent() || !strings.Contains(err.Error(), "kubectl-edit") {
		t.Fatalf("want a foreign edit reported, got %v", err)
	}
	t.Logf("reported: %v", err)
	if err := b.Apply(ctx, rel+"/rollback", change(0)); err != nil {
		t.Fatal(err)
	}
}

func roleFromFile(t *testing.T) *rbacv1.Role {
	t.Helper()
	f, err := os.Open("../../../deployments/kubernetes/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var role rbacv1.Role
		if err := dec.Decode(&role); err != nil {
			if err == io.EOF {
				t.Fatal("no Role in rbac.yaml")
			}
			t.Fatal(err)
		}
		if role.Kind == "Role" {
			return &role
		}
	}
}

// TestRBACRole: refused without the shipped Role, every call succeeds with it.
func TestRBACRole(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	worker := env.User(t, "shipgate-worker")
	err := backend(worker, e, t).Apply(ctx, rel+"/canary", change(5))
	var ke *kube.Error
	if !errors.As(err, &ke) || !ke.Permanent() || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("without the Role: %v", err)
	}
	role := roleFromFile(t)
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
	if err := kube.Poll(wait, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		return b.Apply(ctx, rel+"/canary", change(5)) == nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []float64{25, 100, 0} {
		if err := b.Apply(ctx, fmt.Sprintf("%s/step-%g", rel, p), change(p)); err != nil {
			t.Fatalf("with the Role, %g %%: %v", p, err)
		}
	}
}

// TestMissingCRD: without the Argo Rollouts CRDs the step fails at once, saying so.
func TestMissingCRD(t *testing.T) {
	bare := kubetest.Start(t)
	bare.Namespace(t, "demo")
	e := release.KubeEnvironment{Name: "production", Namespace: "demo", Image: "registry.example/demo", Rollout: "demo"}
	b := &argorollouts.Backend{Kube: bare.Kube, Envs: []release.KubeEnvironment{e}, PollEvery: 50 * time.Millisecond}
	for _, p := range []float64{5, 0} {
		err := b.Apply(context.Background(), rel+"/canary", change(p))
		var ke *kube.Error
		if !errors.As(err, &ke) || !ke.Permanent() || !strings.Contains(err.Error(), "CRD installed") {
			t.Fatalf("%g %%: want a permanent missing-CRD error, got %v", p, err)
		}
	}
}
