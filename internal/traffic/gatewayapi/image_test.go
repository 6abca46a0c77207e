package gatewayapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/kube/kubetest"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/traffic"
	"github.com/shipgate/shipgate/internal/traffic/gatewayapi"
)

// setupImage is setup with the platform team's two Deployments behind the stable and canary
// Services, both running 1.3.0 with a sidecar, and the environment deploying by image patch.
// The Services' selectors (track: stable / canary) are the platform team's in this mode.
func setupImage(t testing.TB, controller bool) release.KubeEnvironment {
	t.Helper()
	e := setupWith(t, controller)
	ctx := context.Background()
	for _, track := range []string{"stable", "canary"} {
		labels := map[string]string{"app": "demo", "track": track}
		replicas := int32(2)
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "demo-" + track}, Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "proxy", Image: "registry.example/proxy:2.0"},
				{Name: "demo", Image: "registry.example/demo:1.3.0", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
			}}},
		}}
		if _, err := env.Kube.Core.AppsV1().Deployments(e.Namespace).Create(ctx, d, metav1.CreateOptions{FieldManager: "platform-team"}); err != nil {
			t.Fatal(err)
		}
		svc, err := env.Kube.Core.CoreV1().Services(e.Namespace).Get(ctx, "demo-"+track, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Spec.Selector = labels
		if _, err := env.Kube.Core.CoreV1().Services(e.Namespace).Update(ctx, svc, metav1.UpdateOptions{FieldManager: "platform-team"}); err != nil {
			t.Fatal(err)
		}
	}
	e.Deploy, e.StableDeployment, e.CanaryDeployment = release.DeployImage, "demo-stable", "demo-canary"
	if controller {
		// the platform team's Deployments run before any release: wait for the stand-in
		// controller to have made both available (a test that checks availability after a
		// step that failed at once otherwise met them before its first tick, on a loaded machine)
		deadline := time.Now().Add(30 * time.Second)
		for _, n := range []string{"demo-stable", "demo-canary"} {
			for {
				d, err := env.Kube.Core.AppsV1().Deployments(e.Namespace).Get(ctx, n, metav1.GetOptions{})
				if err == nil && gatewayapi.Available(d) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("deployment %s not available after 30 s: %v", n, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	return e
}

// wantImages checks the route's weights, what each Deployment's demo container runs, that the
// sidecar and the Services were left alone and that shipgate created no Deployment of its own.
func wantImages(t *testing.T, e release.KubeEnvironment, stable, canary int64, stableVersion, canaryVersion string) {
	t.Helper()
	ctx := context.Background()
	if s, c, err := gatewayapi.Weights(getRoute(t, e), e.Rule, e.StableService, e.CanaryService); err != nil || s != stable || c != canary {
		t.Fatalf("route weights stable %d canary %d (%v), want %d/%d", s, c, err, stable, canary)
	}
	list, err := env.Kube.Core.AppsV1().Deployments(e.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d Deployments in the namespace, want the platform team's 2", len(list.Items))
	}
	for _, d := range list.Items {
		want := map[string]string{"demo-stable": stableVersion, "demo-canary": canaryVersion}[d.Name]
		cs := d.Spec.Template.Spec.Containers
		if cs[0].Image != "registry.example/proxy:2.0" || cs[1].Image != "registry.example/demo:"+want || len(cs[1].Ports) != 1 {
			t.Fatalf("deployment %s runs %s and %s (ports %v), want demo %s beside the untouched sidecar", d.Name, cs[0].Image, cs[1].Image, cs[1].Ports, want)
		}
		if !gatewayapi.Available(&d) {
			t.Fatalf("deployment %s is not available: %+v", d.Name, d.Status)
		}
	}
	for _, track := range []string{"stable", "canary"} {
		svc, err := env.Kube.Core.CoreV1().Services(e.Namespace).Get(ctx, "demo-"+track, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.Selector["track"] != track || len(svc.Spec.Selector) != 2 {
			t.Fatalf("service demo-%s's selector changed: %v", track, svc.Spec.Selector)
		}
	}
}

// resourceVersions of the route and the two Deployments: a retried step must change none.
func resourceVersions(t *testing.T, e release.KubeEnvironment) string {
	t.Helper()
	rv := getRoute(t, e).GetResourceVersion()
	for _, n := range []string{"demo-stable", "demo-canary"} {
		d, err := env.Kube.Core.AppsV1().Deployments(e.Namespace).Get(context.Background(), n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rv += "/" + d.ResourceVersion
	}
	return rv
}

// TestImagePatchEveryStepAndRollbackFromEach is TestEveryStepAndRollbackFromEach for an
// environment that deploys by image patch: each step patches the canary Deployment's image and
// waits until it is available (the stand-in controller writes the status, no kubelet runs),
// a retried step writes nothing, and a rollback from each step returns all traffic to stable,
// which still runs the previous version.
func TestImagePatchEveryStepAndRollbackFromEach(t *testing.T) {
	for upto := range steps {
		t.Run(steps[upto].name, func(t *testing.T) {
			e := setupImage(t, true)
			b := backend(env.Admin, e, t)
			ctx := context.Background()
			for _, s := range steps[:upto+1] {
				start := time.Now()
				if err := b.Apply(ctx, rel+"/"+s.name, change(s.percent)); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				t.Logf("%s → %g %%: %s", s.name, s.percent, time.Since(start).Round(time.Millisecond))
				wantImages(t, e, 100-int64(s.percent), int64(s.percent), "1.3.0", "1.4.0")
				rv := resourceVersions(t, e)
				if err := b.Apply(ctx, rel+"/"+s.name, change(s.percent)); err != nil {
					t.Fatalf("%s retried: %v", s.name, err)
				}
				if got := resourceVersions(t, e); got != rv {
					t.Fatalf("%s retried wrote to the cluster (resourceVersions %s → %s)", s.name, rv, got)
				}
			}
			if err := b.Apply(ctx, rel+"/rollback", change(0)); err != nil {
				t.Fatalf("rollback from %s: %v", steps[upto].name, err)
			}
			wantImages(t, e, 100, 0, "1.3.0", "1.4.0")
		})
	}
}

// TestImagePatchNextRelease: after a release ended at 100 % on the canary Deployment, the next
// release's first step patches stable to that version, moves the canary's share to it, and
// only then patches the canary Deployment to the new version.
func TestImagePatchNextRelease(t *testing.T) {
	e := setupImage(t, true)
	b := backend(env.Admin, e, t)
	ctx := context.Background()
	if err := b.Apply(ctx, rel+"/production-100", change(100)); err != nil {
		t.Fatal(err)
	}
	wantImages(t, e, 0, 100, "1.3.0", "1.4.0")
	next := traffic.Change{Service: "demo", Version: "1.5.0", PreviousVersion: "1.4.0", Environment: "production", Percent: 5}
	if err := b.Apply(ctx, "release/demo/1.5.0/run1/canary", next); err != nil {
		t.Fatal(err)
	}
	wantImages(t, e, 95, 5, "1.4.0", "1.5.0")
	next.Percent = 0
	if err := b.Apply(ctx, "release/demo/1.5.0/run1/rollback", next); err != nil {
		t.Fatal(err)
	}
	wantImages(t, e, 100, 0, "1.4.0", "1.5.0")
}

// TestImagePatchWaitsUntilAvailable: with no stand-in controller running, the step patches the
// canary's image and then waits, the route untouched; once the test writes the available status
// a controller would (and only then), the step moves the route.
func TestImagePatchWaitsUntilAvailable(t *testing.T) {
	e := setupImage(t, false)
	ctx := context.Background()
	for _, n := range []string{"demo-stable", "demo-canary"} { // the platform's 1.3.0 runs already
		d, err := env.Kube.Core.AppsV1().Deployments(e.Namespace).Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := kubetest.SetDeploymentAvailable(ctx, env, d); err != nil {
			t.Fatal(err)
		}
	}
	b := backend(env.Admin, e, t)
	done := make(chan error, 1)
	go func() { done <- b.Apply(ctx, rel+"/canary", change(5)) }()
	deployments := env.Kube.Core.AppsV1().Deployments(e.Namespace)
	var d *appsv1.Deployment
	wait, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := kube.Poll(wait, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		var err error
		d, err = deployments.Get(ctx, "demo-canary", metav1.GetOptions{})
		return err == nil && d.Spec.Template.Spec.Containers[1].Image == "registry.example/demo:1.4.0", err
	}); err != nil {
		t.Fatalf("the canary's image was not patched: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("the step returned (%v) before the Deployment was available", err)
	case <-time.After(time.Second):
	}
	if s, c, _ := gatewayapi.Weights(getRoute(t, e), 1, "demo-stable", "demo-canary"); s != 100 || c != 0 {
		t.Fatalf("the route moved (%d/%d) before the canary was available", s, c)
	}
	// what the Deployment controller and kubelets would write once the new pods run
	if err := kubetest.SetDeploymentAvailable(ctx, env, d); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the step did not end after the Deployment became available")
	}
	wantImages(t, e, 95, 5, "1.3.0", "1.4.0")
}

// TestImagePatchMissingDeploymentOrContainer: a Deployment the policy names that is not there,
// or a container it does not have, fails the step for good, saying which, and creates nothing.
func TestImagePatchMissingDeploymentOrContainer(t *testing.T) {
	e := setupImage(t, true)
	ctx := context.Background()
	missing := e
	missing.CanaryDeployment = "demo-next"
	err := backend(env.Admin, missing, t).Apply(ctx, rel+"/canary", change(5))
	var ke *kube.Error
	if !errors.As(err, &ke) || !ke.Permanent() || !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "demo-next") {
		t.Fatalf("missing Deployment: want a permanent not-found error naming it, got %v", err)
	}
	if _, err := env.Kube.Core.AppsV1().Deployments(e.Namespace).Get(ctx, "demo-next", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the step created the missing Deployment: %v", err)
	}
	e.Container = "app"
	err = backend(env.Admin, e, t).Apply(ctx, rel+"/canary", change(5))
	if !errors.As(err, &ke) || !ke.Permanent() || !strings.Contains(err.Error(), `has no container "app"`) {
		t.Fatalf("missing container: %v", err)
	}
	wantImages(t, e, 100, 0, "1.3.0", "1.3.0")
}

// BenchmarkImagePatchStep is BenchmarkStep for an environment that deploys by image patch: one
// traffic step (weights 25 ↔ 50, both Deployments already on their image and available).
func BenchmarkImagePatchStep(b *testing.B) {
	e := setupImage(b, true)
	be := backend(env.Admin, e, b)
	ctx := context.Background()
	if err := be.Apply(ctx, rel+"/canary", change(5)); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		p := float64(25 + 25*(i%2))
		if err := be.Apply(ctx, fmt.Sprintf("%s/step-%d", rel, i), change(p)); err != nil {
			b.Fatal(err)
		}
	}
}
