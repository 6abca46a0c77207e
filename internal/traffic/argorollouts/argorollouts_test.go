package argorollouts_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
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
	created, err := rollouts.Create(ctx, r, metav1.CreateOptions{FieldManager: "platform-team"})
	if err != nil {
		t.Fatal(err)
	}
	if err := replicaSet(ctx, created, "registry.example/demo:1.3.0"); err != nil {
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
	return statusAt(ctx, ns, "", s)
}

// statusAt merge-patches the status, against resourceVersion when it is not empty: the write
// fails with a conflict if the Rollout changed since it was read at that version, as the real
// controller's status updates do (it then reconciles again). Without it the stand-in's write
// of a status computed from an old read could clear a promoteFull or abort shipgate set in
// between, and the step would wait for a controller that had forgotten it (seen once in the
// ten-run series: a rollback from 100 % waited 25 minutes).
func statusAt(ctx context.Context, ns, resourceVersion string, s map[string]any) error {
	patch := map[string]any{"status": s}
	if resourceVersion != "" {
		patch["metadata"] = map[string]any{"resourceVersion": resourceVersion}
	}
	body, _ := json.Marshal(patch)
	_, err := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(ns).Patch(ctx, "demo", types.MergePatchType, body,
		metav1.PatchOptions{FieldManager: "kubetest-argo-rollouts-controller"}, "status")
	return err
}

// replicaSet creates the ReplicaSet the controller would for the Rollout's pod template with
// image: named <rollout>-<pod template hash>, labelled with the hash, owned by the Rollout.
// It is there already when the controller saw this template before.
func replicaSet(ctx context.Context, r *unstructured.Unstructured, image string) error {
	h := podHash(image)
	labels := map[string]string{"app": "demo", argorollouts.PodTemplateHashLabel: h}
	controller := true
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: r.GetName() + "-" + h, Labels: labels, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: r.GetName(), UID: r.GetUID(), Controller: &controller}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "demo", Image: image}}}}},
	}
	_, err := env.Kube.Core.AppsV1().ReplicaSets(r.GetNamespace()).Create(ctx, rs, metav1.CreateOptions{FieldManager: "kubetest-argo-rollouts-controller"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// controller stands in for Argo Rollouts' controller (which does not run here) with what it
// writes for the calls shipgate makes: the status, and a ReplicaSet per pod template.
func controller(ctx context.Context, ns string) {
	rollouts := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(ns)
	seen := map[string]bool{}
	for ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		r, err := rollouts.Get(ctx, "demo", metav1.GetOptions{})
		if err != nil {
			continue
		}
		gen := strconv.FormatInt(r.GetGeneration(), 10)
		containers, _, _ := unstructured.NestedSlice(r.Object, "spec", "template", "spec", "containers")
		image := containers[0].(map[string]any)["image"].(string)
		if !seen[image] {
			if err := replicaSet(ctx, r, image); err != nil {
				if ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "stand-in controller:", err)
				}
				continue
			}
			seen[image] = true
		}
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
			if err := statusAt(ctx, ns, r.GetResourceVersion(), want); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) {
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
				t.Fatalf("rollback from %s: %v", steps[upto].name, err)
			}
			if steps[upto].percent == 100 {
				// promoted: the stable ReplicaSet runs 1.4.0, so an abort would keep it; the
				// way back promotes 1.3.0 instead
				wantPromoted(t, e, "1.3.0")
			} else if r := get(t, e); !argorollouts.Aborted(r) {
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
	role := kubetest.ShippedRole(t)
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

// wantPromoted: the Rollout runs version, fully promoted (its stable ReplicaSet's hash is the
// version's pod template's), with no canary weight left and no abort.
func wantPromoted(t *testing.T, e release.KubeEnvironment, version string) {
	t.Helper()
	r := get(t, e)
	img, _, _ := unstructured.NestedSlice(r.Object, "spec", "template", "spec", "containers")
	stable, _, _ := unstructured.NestedString(r.Object, "status", "stableRS")
	abort, _, _ := unstructured.NestedBool(r.Object, "status", "abort")
	image := "registry.example/demo:" + version
	if !argorollouts.Promoted(r) || img[0].(map[string]any)["image"] != image || stable != podHash(image) || abort {
		t.Fatalf("want %s promoted, got image %v, status %v", version, img[0].(map[string]any)["image"], r.Object["status"])
	}
}

// TestRollbackToAnotherVersion: releases stacked on one Rollout. 1.4.0 is promoted (its
// ReplicaSet is the stable one); 1.5.0's canary is at 25 %. Its way back to 1.4.0 is an abort
// (the stable ReplicaSet runs it). Then a person points production at 1.3.0 (rollback --to,
// or the version the service's production lane says is live): an abort would leave 1.4.0
// serving, so 1.3.0 is applied and promoted; a retry of that way back writes nothing.
func TestRollbackToAnotherVersion(t *testing.T) {
	e := setup(t)
	b := backend(env.Admin, e, t)
	ctx := context.Background()
	for _, s := range steps {
		if err := b.Apply(ctx, rel+"/"+s.name, change(s.percent)); err != nil {
			t.Fatalf("1.4.0 %s: %v", s.name, err)
		}
	}
	wantPromoted(t, e, "1.4.0")
	next := traffic.Change{Service: "demo", Version: "1.5.0", PreviousVersion: "1.4.0", Environment: "production", Percent: 25}
	const rel5 = "release/demo/1.5.0/run1"
	if err := b.Apply(ctx, rel5+"/production-25", next); err != nil {
		t.Fatal(err)
	}
	next.Percent = 0
	if err := b.Apply(ctx, rel5+"/rollback", next); err != nil {
		t.Fatalf("1.5.0 back to 1.4.0: %v", err)
	}
	if r := get(t, e); !argorollouts.Aborted(r) {
		t.Fatalf("1.5.0 back to the stable 1.4.0: want an abort, got %v", r.Object["status"])
	}
	next.PreviousVersion = "1.3.0"
	start := time.Now()
	if err := b.Apply(ctx, rel5+"/rollback-to-1.3.0", next); err != nil {
		t.Fatalf("1.5.0 back to 1.3.0: %v", err)
	}
	t.Logf("back to 1.3.0 (apply, retry, promote --full, wait): %s", time.Since(start).Round(time.Millisecond))
	wantPromoted(t, e, "1.3.0")
	gen := get(t, e).GetGeneration()
	time.Sleep(200 * time.Millisecond) // the stand-in controller has written all it would
	rv := get(t, e).GetResourceVersion()
	if err := b.Apply(ctx, rel5+"/rollback-to-1.3.0", next); err != nil {
		t.Fatalf("the way back retried: %v", err)
	}
	if r := get(t, e); r.GetGeneration() != gen || r.GetResourceVersion() != rv {
		t.Fatalf("the way back retried wrote to the Rollout (generation %d → %d, resourceVersion %s → %s)", gen, r.GetGeneration(), rv, r.GetResourceVersion())
	}
	wantPromoted(t, e, "1.3.0")
}

// TestFirstStepThatChangesNoValue: the platform team has already set the Rollout to the new
// image and the first step's canary (setWeight 5, pause); the release's first step takes it
// over with a forced apply that changes no value (the platform team stays a co-owner), and the
// next step must not be reported as an edit by someone else. A real edit afterwards still is.
func TestFirstStepThatChangesNoValue(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	rollouts := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(e.Namespace)
	r := get(t, e)
	containers, _, _ := unstructured.NestedSlice(r.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = "registry.example/demo:1.4.0"
	_ = unstructured.SetNestedSlice(r.Object, containers, "spec", "template", "spec", "containers")
	_ = unstructured.SetNestedSlice(r.Object, []any{map[string]any{"setWeight": int64(5)}, map[string]any{"pause": map[string]any{}}}, "spec", "strategy", "canary", "steps")
	if _, err := rollouts.Update(ctx, r, metav1.UpdateOptions{FieldManager: "platform-team"}); err != nil {
		t.Fatal(err)
	}
	b := backend(env.Admin, e, t)
	if err := b.Apply(ctx, rel+"/canary", change(5)); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(ctx, rel+"/production-25", change(25)); err != nil {
		t.Fatalf("the step after a first step that changed no value: %v", err)
	}
	if r := get(t, e); !argorollouts.AtWeight(25)(r) {
		t.Fatalf("not at 25 %%: %v", r.Object["status"])
	}
	r = get(t, e)
	_ = unstructured.SetNestedSlice(r.Object, []any{map[string]any{"setWeight": int64(50)}}, "spec", "strategy", "canary", "steps")
	if _, err := rollouts.Update(ctx, r, metav1.UpdateOptions{FieldManager: "platform-team"}); err != nil {
		t.Fatal(err)
	}
	err := b.Apply(ctx, rel+"/production-100", change(100))
	var fe *kube.ForeignEditError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "platform-team") {
		t.Fatalf("a real edit afterwards: want a foreign edit by platform-team, got %v", err)
	}
}

// TestStepsWhileTheControllerWritesStatus: Argo Rollouts' controller writes the Rollout's
// status at every reconcile, and each write moves the resourceVersion a step's apply is made
// against. A step whose read went stale in between reads again and applies (found as a rare
// failure of TestFirstStepThatChangesNoValue: the stand-in controller's status write landed
// between the step's read and its apply). Here a writer patches an unrelated status field
// 100 times a second, so most applies meet a stale read; each step must still land, and a
// stale-read conflict is told apart from another manager's field.
func TestStepsWhileTheControllerWritesStatus(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rollouts := env.Kube.Dynamic.Resource(argorollouts.Rollouts).Namespace(e.Namespace)

	// the classification, on the API server's own errors: a write against an old read ...
	old := get(t, e)
	if err := status(ctx, e.Namespace, map[string]any{"message": "moved"}); err != nil {
		t.Fatal(err)
	}
	apply := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": "demo", "namespace": e.Namespace, "resourceVersion": old.GetResourceVersion(),
			"labels": map[string]any{"probe": "x"}}}}
	_, err := rollouts.Apply(ctx, "demo", apply, metav1.ApplyOptions{FieldManager: "probe"})
	if !kube.StaleRead(err) {
		t.Fatalf("a write against a stale read: want StaleRead, got %v", err)
	}
	// ... and a field another manager owns are different conflicts
	apply.SetResourceVersion("")
	apply.Object["spec"] = map[string]any{"replicas": int64(9)} // platform-team's field
	if _, err := rollouts.Apply(ctx, "demo", apply, metav1.ApplyOptions{FieldManager: "probe"}); err != nil && !apierrors.IsConflict(err) {
		t.Fatal(err)
	} else if err == nil || kube.StaleRead(err) {
		t.Fatalf("a field another manager owns: want a field-manager conflict, got %v", err)
	}

	var writes atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			if status(ctx, e.Namespace, map[string]any{"message": fmt.Sprint("reconcile ", i)}) == nil {
				writes.Add(1)
			}
			time.Sleep(10 * time.Millisecond) // 100 writes a second: a busier controller than any real one
		}
	}()
	b := backend(env.Admin, e, t)
	for _, s := range steps {
		if err := b.Apply(ctx, rel+"/"+s.name, change(s.percent)); err != nil {
			t.Fatalf("%s while the controller writes status: %v", s.name, err)
		}
	}
	cancel()
	<-done
	if writes.Load() < 10 {
		t.Fatalf("the status writer wrote %d times: the steps met no concurrent writes", writes.Load())
	}
	t.Logf("%d status writes during the steps", writes.Load())
}
