// Package gatewayapi is the traffic backend for services on Kubernetes behind a Gateway API
// HTTPRoute: each version runs as a Deployment of its own, the environment's stable and canary
// Services select the version traffic returns to and the version being released, and one rule
// of the route splits traffic between them by its backendRefs' weights. With deploy: image
// (release.DeployImage) the platform team's two Deployments behind those Services stay, and a
// step patches their container image instead.
//
// Every step is declarative (the Deployments, the two selectors, the weights), so a retried
// step changes nothing. Everything is server-side applied as kube.FieldManager: the first step
// of a release takes the route's rules over (forced apply, stamped with the release), later
// steps apply without force, so a route someone else edited meanwhile is refused by the API
// server and reported (kube.ForeignEditError) instead of overwritten. The way back (0 %)
// always applies with force: returning traffic comes first.
package gatewayapi

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appsac "k8s.io/client-go/applyconfigurations/apps/v1"
	coreac "k8s.io/client-go/applyconfigurations/core/v1"
	metaac "k8s.io/client-go/applyconfigurations/meta/v1"

	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/traffic"
)

// HTTPRoutes is the resource the backend moves traffic with (Gateway API v1, standard channel).
var HTTPRoutes = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// Backend applies changes to the environments the policy names.
type Backend struct {
	Kube *kube.Clients
	Envs []release.KubeEnvironment
	// PollEvery is how often a Deployment's status is read while waiting (default 500 ms).
	PollEvery time.Duration
}

var _ traffic.Backend = (*Backend)(nil)

// Apply deploys c.Version (and c.PreviousVersion while it keeps traffic), points the Services
// at them and sets the route's weights to c.Percent / 100 − c.Percent.
func (b *Backend) Apply(ctx context.Context, key string, c traffic.Change) error {
	env, err := kube.StepEnvironment(b.Envs, c.Environment, c.Percent)
	if err != nil {
		return err
	}
	rel := kube.ReleaseOf(key)
	wayBack := c.Percent == 0
	canary := int64(c.Percent*100+0.5) / 100 // weights are integers: whole percent
	if c.Percent > 0 && canary == 0 {
		canary = 1
	}
	// Force is decided once per step, from the route as it was before the step: the first
	// step of a release takes the rules over with force in every apply it makes (a force
	// that changes no value would leave the route's author as a co-owner, and the release's
	// next change would then conflict with it); every later step applies without force.
	owner, err := b.preflight(ctx, env)
	if err != nil {
		return err
	}
	force := wayBack || owner != rel
	if env.ImagePatch() {
		return b.applyImage(ctx, env, rel, c, canary, force)
	}
	if c.Percent > 0 {
		if err := b.deploy(ctx, env, c.Service, c.Version); err != nil {
			return err
		}
	}
	if c.Percent < 100 {
		if err := b.deploy(ctx, env, c.Service, c.PreviousVersion); err != nil {
			return err
		}
	}
	if err := b.point(ctx, env, env.StableService, c.Service, c.PreviousVersion); err != nil {
		return err
	}
	// The canary Service may still select another version (a release before this one, which
	// ended at 100 % through it): its weight goes to stable, which serves the same version now,
	// before the Service is pointed at this release's version.
	sel, err := b.selects(ctx, env, env.CanaryService)
	if err != nil {
		return err
	}
	if sel != kube.LabelValue(c.Version) {
		if err := b.route(ctx, env, rel, 0, force); err != nil {
			return err
		}
		if err := b.point(ctx, env, env.CanaryService, c.Service, c.Version); err != nil {
			return err
		}
	}
	return b.route(ctx, env, rel, canary, force)
}

// applyImage is Apply for an environment that deploys by image patch (release.DeployImage):
// the stable Deployment runs c.PreviousVersion and the canary Deployment c.Version, each
// patched only while its Service has no traffic or already serves that version, except on
// the way back to a version stable does not run (then stable's rolling update is the way).
func (b *Backend) applyImage(ctx context.Context, env release.KubeEnvironment, rel string, c traffic.Change, canary int64, force bool) error {
	if c.Percent < 100 {
		if err := b.patchImage(ctx, env, env.StableDeployment, c.Service, c.PreviousVersion); err != nil {
			return err
		}
	}
	if c.Percent > 0 {
		img, err := b.image(ctx, env, env.CanaryDeployment, c.Service)
		if err != nil {
			return err
		}
		// The canary Deployment may still run another version with traffic (a release before
		// this one, which ended at 100 % through it): its weight goes to stable, which runs that
		// same version now, before its image changes.
		if img != imageOf(env, c.Version) {
			if err := b.route(ctx, env, rel, 0, force); err != nil {
				return err
			}
			if err := b.patchImage(ctx, env, env.CanaryDeployment, c.Service, c.Version); err != nil {
				return err
			}
		}
	}
	return b.route(ctx, env, rel, canary, force)
}

func imageOf(env release.KubeEnvironment, version string) string {
	return env.Image + ":" + kube.LabelValue(version)
}

// container is the index of the container whose image a step sets: the one the policy names,
// else the one named after the service, else the only one.
func container(d *appsv1.Deployment, env release.KubeEnvironment, service string) (int, error) {
	cs := d.Spec.Template.Spec.Containers
	for i, c := range cs {
		if env.Container != "" && c.Name == env.Container || env.Container == "" && c.Name == service {
			return i, nil
		}
	}
	if env.Container == "" && len(cs) == 1 {
		return 0, nil
	}
	if env.Container != "" {
		return 0, fmt.Errorf("has no container %q (the policy's container)", env.Container)
	}
	return 0, fmt.Errorf("has no container named %q and %d containers: the policy's container says which", service, len(cs))
}

// image is the image the Deployment's container runs now (in its spec).
func (b *Backend) image(ctx context.Context, env release.KubeEnvironment, name, service string) (string, error) {
	op := fmt.Sprintf("read deployment %s/%s", env.Namespace, name)
	d, err := b.Kube.Core.AppsV1().Deployments(env.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", kube.Wrap(op, err)
	}
	i, err := container(d, env, service)
	if err != nil {
		return "", kube.Wrap(op, apierrors.NewBadRequest(fmt.Sprintf("deployment %s/%s %v", env.Namespace, name, err)))
	}
	return d.Spec.Template.Spec.Containers[i].Image, nil
}

// patchImage sets the image of the platform team's Deployment name to version and waits until
// it is available. A Deployment that runs it already is not written (a retried step changes
// nothing). The image is server-side applied with force: in this mode the image is
// shipgate's to set, whoever set it before (the platform team's manifests keep the rest).
func (b *Backend) patchImage(ctx context.Context, env release.KubeEnvironment, name, service, version string) error {
	deployments := b.Kube.Core.AppsV1().Deployments(env.Namespace)
	op := fmt.Sprintf("set image of deployment %s/%s to %s", env.Namespace, name, version)
	// read first: an apply would create a Deployment that is not there (and fail as invalid)
	d, err := deployments.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return kube.Wrap(op, err)
	}
	i, err := container(d, env, service)
	if err != nil {
		return kube.Wrap(op, apierrors.NewBadRequest(fmt.Sprintf("deployment %s/%s %v", env.Namespace, name, err)))
	}
	want := imageOf(env, version)
	if d.Spec.Template.Spec.Containers[i].Image != want {
		ac := appsac.Deployment(name, env.Namespace).WithSpec(appsac.DeploymentSpec().
			WithTemplate(coreac.PodTemplateSpec().WithSpec(coreac.PodSpec().
				WithContainers(coreac.Container().WithName(d.Spec.Template.Spec.Containers[i].Name).WithImage(want)))))
		if _, err := deployments.Apply(ctx, ac, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true}); err != nil {
			return kube.Wrap(op, err)
		}
	}
	return b.waitAvailable(ctx, env.Namespace, name, op)
}

// DeploymentName is the Deployment of one version of a service.
func DeploymentName(service, version string) string { return service + "-" + kube.Slug(version) }

func labels(service, version string) map[string]string {
	return map[string]string{kube.LabelName: service, kube.LabelVersion: kube.LabelValue(version)}
}

// deploy applies version's Deployment and waits until it is available.
func (b *Backend) deploy(ctx context.Context, env release.KubeEnvironment, service, version string) error {
	name := DeploymentName(service, version)
	replicas, port := env.Replicas, env.Port
	if replicas == 0 {
		replicas = 1
	}
	if port == 0 {
		port = 8080
	}
	sel := labels(service, version)
	podLabels := labels(service, version)
	objLabels := labels(service, version)
	objLabels[kube.LabelManagedBy] = kube.FieldManager
	d := appsac.Deployment(name, env.Namespace).WithLabels(objLabels).WithSpec(appsac.DeploymentSpec().
		WithReplicas(replicas).
		WithSelector(metaac.LabelSelector().WithMatchLabels(sel)).
		WithTemplate(coreac.PodTemplateSpec().WithLabels(podLabels).WithSpec(coreac.PodSpec().
			WithContainers(coreac.Container().WithName(service).
				WithImage(env.Image + ":" + kube.LabelValue(version)).
				WithPorts(coreac.ContainerPort().WithName("http").WithContainerPort(port))))))
	op := fmt.Sprintf("deploy %s/%s", env.Namespace, name)
	// The Deployment is shipgate's own object, named by it: applied with force.
	if _, err := b.Kube.Core.AppsV1().Deployments(env.Namespace).Apply(ctx, d,
		metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true}); err != nil {
		return kube.Wrap(op, err)
	}
	return b.waitAvailable(ctx, env.Namespace, name, op)
}

// waitAvailable polls the Deployment until Available.
func (b *Backend) waitAvailable(ctx context.Context, ns, name, op string) error {
	return kube.Wrap(op+": wait until available", kube.Poll(ctx, b.every(), func(ctx context.Context) (bool, error) {
		got, err := b.Kube.Core.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return Available(got), nil
	}))
}

// Available: the Deployment controller has seen the latest spec, every replica runs it and the
// Deployment reports Available.
func Available(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation {
		return false
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if d.Status.UpdatedReplicas < want || d.Status.AvailableReplicas < want {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (b *Backend) every() time.Duration {
	if b.PollEvery > 0 {
		return b.PollEvery
	}
	return 500 * time.Millisecond
}

// point sets the Service's selector to one version of the service. The Service (its ports)
// is the platform team's; its selector is shipgate's.
func (b *Backend) point(ctx context.Context, env release.KubeEnvironment, svc, service, version string) error {
	s := coreac.Service(svc, env.Namespace).WithSpec(coreac.ServiceSpec().WithSelector(labels(service, version)))
	op := fmt.Sprintf("point service %s/%s at %s", env.Namespace, svc, version)
	if _, err := b.Kube.Core.CoreV1().Services(env.Namespace).Get(ctx, svc, metav1.GetOptions{}); err != nil {
		return kube.Wrap(op, err)
	}
	_, err := b.Kube.Core.CoreV1().Services(env.Namespace).Apply(ctx, s, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true})
	return kube.Wrap(op, err)
}

// selects is the version the Service selects now ("" when none).
func (b *Backend) selects(ctx context.Context, env release.KubeEnvironment, svc string) (string, error) {
	s, err := b.Kube.Core.CoreV1().Services(env.Namespace).Get(ctx, svc, metav1.GetOptions{})
	if err != nil {
		return "", kube.Wrap(fmt.Sprintf("read service %s/%s", env.Namespace, svc), err)
	}
	return s.Spec.Selector[kube.LabelVersion], nil
}

// preflight reads the route and checks its rule names both Services before anything is
// deployed: a missing CRD, route or backendRef fails the step before it changes anything. It
// returns the release that last moved the route.
func (b *Backend) preflight(ctx context.Context, env release.KubeEnvironment) (string, error) {
	object := fmt.Sprintf("HTTPRoute %s/%s", env.Namespace, env.Route)
	cur, err := b.Kube.Dynamic.Resource(HTTPRoutes).Namespace(env.Namespace).Get(ctx, env.Route, metav1.GetOptions{})
	if err != nil {
		return "", kube.Wrap("read "+object, err)
	}
	rules, _, err := unstructured.NestedSlice(cur.Object, "spec", "rules") // a deep copy
	if err == nil {
		err = SetWeights(rules, env.Rule, env.StableService, env.CanaryService, 100, 0)
	}
	if err != nil {
		return "", kube.Wrap("read "+object, apierrors.NewBadRequest(object+": "+err.Error()))
	}
	return cur.GetAnnotations()[kube.AnnotationRelease], nil
}

// route sets the rule's canary weight to canary and the stable weight to the rest of 100.
// Without force, a conflict about fields shipgate still owns is no edit (kube.StillOwned: the
// release's first step took over values someone had already set, and shares them with that
// someone): the apply is made again with force against the route as read after the conflict,
// so that anything written since still fails it.
func (b *Backend) route(ctx context.Context, env release.KubeEnvironment, rel string, canary int64, force bool) error {
	object := fmt.Sprintf("HTTPRoute %s/%s", env.Namespace, env.Route)
	op := "set weights of " + object
	routes := b.Kube.Dynamic.Resource(HTTPRoutes).Namespace(env.Namespace)
	cur, err := routes.Get(ctx, env.Route, metav1.GetOptions{})
	if err != nil {
		return kube.Wrap(op, err)
	}
	for stale := 0; ; {
		rules, _, err := unstructured.NestedSlice(cur.Object, "spec", "rules")
		if err != nil {
			return kube.Wrap(op, apierrors.NewBadRequest(err.Error()))
		}
		if err := SetWeights(rules, env.Rule, env.StableService, env.CanaryService, 100-canary, canary); err != nil {
			return kube.Wrap(op, apierrors.NewBadRequest(object+": "+err.Error()))
		}
		apply := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gateway.networking.k8s.io/v1",
			"kind":       "HTTPRoute",
			"metadata": map[string]any{
				"name": env.Route, "namespace": env.Namespace,
				// what was read is what is changed: a write in between fails the apply (read again)
				"resourceVersion": cur.GetResourceVersion(),
				"annotations":     map[string]any{kube.AnnotationRelease: rel},
			},
			"spec": map[string]any{"rules": rules},
		}}
		_, err = routes.Apply(ctx, env.Route, apply, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: force})
		if kube.StaleRead(err) && stale < kube.StaleReadRetries {
			// written since it was read (a gateway controller's status): read it again
			stale++
			if cur, err = routes.Get(ctx, env.Route, metav1.GetOptions{}); err != nil {
				return kube.Wrap(op, err)
			}
			continue
		}
		if err == nil || force || !apierrors.IsConflict(err) {
			return kube.Wrap(op, kube.ApplyConflict(object, err))
		}
		again, gerr := routes.Get(ctx, env.Route, metav1.GetOptions{})
		if gerr != nil || !kube.StillOwned(err, again) {
			return kube.Wrap(op, kube.ApplyConflict(object, err))
		}
		cur, force = again, true
	}
}

// SetWeights sets, in rules[rule], the weight of the backendRef named stable and of the one
// named canary; every other field of the rules stays as it is. Both refs must be there: which
// Services a route may reach is the platform team's to write, not shipgate's.
func SetWeights(rules []any, rule int, stable, canary string, stableWeight, canaryWeight int64) error {
	if rule < 0 || rule >= len(rules) {
		return fmt.Errorf("has %d rules; the policy names rule %d", len(rules), rule)
	}
	r, ok := rules[rule].(map[string]any)
	if !ok {
		return fmt.Errorf("rule %d is not an object", rule)
	}
	refs, _ := r["backendRefs"].([]any)
	found := map[string]bool{}
	for _, ref := range refs {
		m, ok := ref.(map[string]any)
		if !ok {
			continue
		}
		if k, _ := m["kind"].(string); k != "" && k != "Service" {
			continue
		}
		switch m["name"] {
		case stable:
			m["weight"] = stableWeight
			found[stable] = true
		case canary:
			m["weight"] = canaryWeight
			found[canary] = true
		}
	}
	for _, n := range []string{stable, canary} {
		if !found[n] {
			return fmt.Errorf("rule %d has no backendRef to Service %q", rule, n)
		}
	}
	return nil
}

// Weights reads the stable and canary weights of rules[rule] of a route (for status and tests).
func Weights(route *unstructured.Unstructured, rule int, stable, canary string) (stableWeight, canaryWeight int64, err error) {
	rules, _, _ := unstructured.NestedSlice(route.Object, "spec", "rules")
	if rule >= len(rules) {
		return 0, 0, fmt.Errorf("route has no rule %d", rule)
	}
	r, _ := rules[rule].(map[string]any)
	refs, _ := r["backendRefs"].([]any)
	for _, ref := range refs {
		m, _ := ref.(map[string]any)
		w, ok := m["weight"].(int64)
		if !ok {
			w = 1 // the Gateway API default
		}
		switch m["name"] {
		case stable:
			stableWeight = w
		case canary:
			canaryWeight = w
		}
	}
	return stableWeight, canaryWeight, nil
}
