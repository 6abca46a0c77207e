// Package argorollouts is the traffic backend for services whose pods Argo Rollouts moves:
// shipgate keeps the decision (which weight, when, whether to go back), Argo Rollouts does the
// rest. Each forward step server-side applies the Rollout's image (the release's version) and
// a canary strategy of two steps, setWeight to the step's percent and an indefinite pause, so
// the controller sets the weight and waits for shipgate's next step; 100 % is a full
// promotion and 0 % an abort, written the way the kubectl-argo-rollouts plugin writes them
// (promote --full sets status.promoteFull, abort sets status.abort). Each step then reads the
// Rollout's status back until the controller reports it done. An abort returns traffic to the
// Rollout's stable ReplicaSet, so 0 % is an abort only when that ReplicaSet runs the way back's
// target; otherwise (the release was promoted at 100 %, or the target is another version) the
// target is applied and promoted fully (see back).
//
// Ownership is the gatewayapi backend's rule: the first step of a release takes the Rollout's
// containers and steps over (forced apply, stamped with the release), later steps apply
// without force, so an edit by someone else is reported (kube.ForeignEditError) rather than
// overwritten; the way back always goes through.
package argorollouts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/traffic"
)

// Rollouts is the Argo Rollouts resource (argoproj.io/v1alpha1).
var Rollouts = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

// Backend applies changes to the Rollouts the policy names.
type Backend struct {
	Kube      *kube.Clients
	Envs      []release.KubeEnvironment
	PollEvery time.Duration // default 500 ms
}

var _ traffic.Backend = (*Backend)(nil)

// Apply sets the Rollout to c.Version at c.Percent (0: abort, back to the stable ReplicaSet).
func (b *Backend) Apply(ctx context.Context, key string, c traffic.Change) error {
	env, err := kube.StepEnvironment(b.Envs, c.Environment, c.Percent)
	if err != nil {
		return err
	}
	object := fmt.Sprintf("Rollout %s/%s", env.Namespace, env.Rollout)
	rollouts := b.Kube.Dynamic.Resource(Rollouts).Namespace(env.Namespace)
	weight := int64(c.Percent*100+0.5) / 100
	if c.Percent > 0 && weight == 0 {
		weight = 1
	}
	cur, err := rollouts.Get(ctx, env.Rollout, metav1.GetOptions{})
	if err != nil {
		return kube.Wrap("read "+object, err)
	}
	if c.Percent == 0 {
		return b.back(ctx, env, rollouts, cur, key, c)
	}
	force := cur.GetAnnotations()[kube.AnnotationRelease] != kube.ReleaseOf(key)
	return b.set(ctx, env, rollouts, cur, key, c.Service, c.Version, weight, force)
}

// set applies version's image and a canary of weight to the Rollout (cur as read), clears an
// earlier abort, promotes fully at 100 %, and waits for the controller.
func (b *Backend) set(ctx context.Context, env release.KubeEnvironment, rollouts dynamic.ResourceInterface, cur *unstructured.Unstructured,
	key, service, version string, weight int64, force bool) error {
	object := fmt.Sprintf("Rollout %s/%s", env.Namespace, env.Rollout)
	for stale := 0; ; {
		err := b.applySpec(ctx, env, rollouts, cur, key, service, version, weight, force)
		if kube.StaleRead(err) && stale < kube.StaleReadRetries {
			// the controller wrote the Rollout (its status) since it was read: read it again
			stale++
			if cur, err = rollouts.Get(ctx, env.Rollout, metav1.GetOptions{}); err != nil {
				return kube.Wrap("read "+object, err)
			}
			continue
		}
		if err == nil || force || !apierrors.IsConflict(err) {
			if err != nil {
				return kube.Wrap(fmt.Sprintf("set %s to %s at %d %%", object, version, weight), kube.ApplyConflict(object, err))
			}
			break
		}
		// a conflict only about fields shipgate still owns is no edit (see kube.StillOwned):
		// apply again with force against the Rollout as read now
		again, gerr := rollouts.Get(ctx, env.Rollout, metav1.GetOptions{})
		if gerr != nil || !kube.StillOwned(err, again) {
			return kube.Wrap(fmt.Sprintf("set %s to %s at %d %%", object, version, weight), kube.ApplyConflict(object, err))
		}
		cur, force = again, true
	}
	if abort, _, _ := unstructured.NestedBool(cur.Object, "status", "abort"); abort {
		// `kubectl argo rollouts retry`: an earlier release was aborted; this one goes on
		if err := patchStatus(ctx, rollouts, env.Rollout, map[string]any{"abort": false}); err != nil {
			return kube.Wrap("retry "+object, err)
		}
	}
	done := AtWeight(weight)
	if weight == 100 { // `kubectl argo rollouts promote --full`
		if err := patchStatus(ctx, rollouts, env.Rollout, map[string]any{"promoteFull": true}); err != nil {
			return kube.Wrap("promote "+object, err)
		}
		done = func(r *unstructured.Unstructured) bool {
			if !Promoted(r) {
				return false
			}
			// promoted to this version, not a status from before the apply
			img, err := b.stableImage(ctx, env, r, service)
			return err == nil && img == imageOf(env, version)
		}
	}
	return kube.Wrap(fmt.Sprintf("%s at %d %%: wait for the controller", object, weight), b.wait(ctx, rollouts, env.Rollout, done))
}

// applySpec server-side applies version's image and a canary of weight to the Rollout, against
// cur's resourceVersion (what was read is what is changed).
func (b *Backend) applySpec(ctx context.Context, env release.KubeEnvironment, rollouts dynamic.ResourceInterface, cur *unstructured.Unstructured,
	key, service, version string, weight int64, force bool) error {
	object := fmt.Sprintf("Rollout %s/%s", env.Namespace, env.Rollout)
	containers, _, err := unstructured.NestedSlice(cur.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return apierrors.NewBadRequest(object + ": " + err.Error())
	}
	if err := setImage(containers, service, imageOf(env, version)); err != nil {
		return apierrors.NewBadRequest(object + ": " + err.Error())
	}
	steps := []any{map[string]any{"setWeight": weight}, map[string]any{"pause": map[string]any{}}}
	if weight == 100 {
		steps = []any{map[string]any{"setWeight": int64(100)}}
	}
	apply := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": env.Rollout, "namespace": env.Namespace,
			"resourceVersion": cur.GetResourceVersion(),
			"annotations":     map[string]any{kube.AnnotationRelease: kube.ReleaseOf(key)}},
		"spec": map[string]any{
			"template": map[string]any{"spec": map[string]any{"containers": containers}},
			"strategy": map[string]any{"canary": map[string]any{"steps": steps}},
		},
	}}
	_, err = rollouts.Apply(ctx, env.Rollout, apply, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: force})
	return err
}

// back returns all traffic to c.PreviousVersion (the way back's target). When the Rollout's
// stable ReplicaSet runs it, that is an abort (`kubectl argo rollouts abort`), or nothing
// when no canary is under way. When it runs another version (the release reached 100 % and
// was promoted, or the target is not the release's previous version: a person's rollback
// --to, or the version the service's production lane says is live), an abort would leave
// traffic where it is: the target's image is applied with force and promoted fully instead.
func (b *Backend) back(ctx context.Context, env release.KubeEnvironment, rollouts dynamic.ResourceInterface, cur *unstructured.Unstructured,
	key string, c traffic.Change) error {
	object := fmt.Sprintf("Rollout %s/%s", env.Namespace, env.Rollout)
	stable, err := b.stableImage(ctx, env, cur, c.Service)
	if err != nil {
		return err
	}
	if stable != imageOf(env, c.PreviousVersion) {
		return b.set(ctx, env, rollouts, cur, key, c.Service, c.PreviousVersion, 100, true)
	}
	if settled(cur) {
		return nil // the stable ReplicaSet is all there is: nothing to abort
	}
	if err := patchStatus(ctx, rollouts, env.Rollout, map[string]any{"abort": true}); err != nil {
		return kube.Wrap("abort "+object, err)
	}
	return kube.Wrap("abort "+object+": wait for the controller", b.wait(ctx, rollouts, env.Rollout, Aborted))
}

// settled: the controller has seen the latest spec, its pods are the stable ReplicaSet's and
// nothing is aborted (an aborted Rollout stays aborted: the abort is retried, harmlessly).
func settled(r *unstructured.Unstructured) bool {
	abort, _, _ := unstructured.NestedBool(r.Object, "status", "abort")
	stable, _, _ := unstructured.NestedString(r.Object, "status", "stableRS")
	current, _, _ := unstructured.NestedString(r.Object, "status", "currentPodHash")
	return observed(r) && !abort && stable != "" && stable == current
}

// stableImage is the image the Rollout's stable ReplicaSet runs: Argo Rollouts names its
// ReplicaSets <rollout>-<pod template hash> and records the stable one's hash in
// status.stableRS, so one get finds it (the Rollout's spec may already name the canary).
func (b *Backend) stableImage(ctx context.Context, env release.KubeEnvironment, r *unstructured.Unstructured, service string) (string, error) {
	hash, _, _ := unstructured.NestedString(r.Object, "status", "stableRS")
	if hash == "" {
		return "", kube.Wrap(fmt.Sprintf("read Rollout %s/%s", env.Namespace, env.Rollout),
			errors.New("status.stableRS is empty: the controller has not made any ReplicaSet stable yet"))
	}
	name := env.Rollout + "-" + hash
	op := fmt.Sprintf("read the stable ReplicaSet %s/%s of Rollout %s", env.Namespace, name, env.Rollout)
	rs, err := b.Kube.Core.AppsV1().ReplicaSets(env.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", kube.Wrap(op, err)
	}
	if rs.Labels[PodTemplateHashLabel] != hash || !ownedBy(rs.OwnerReferences, r) {
		return "", kube.Wrap(op, apierrors.NewBadRequest(fmt.Sprintf("ReplicaSet %s is not the Rollout's (label %s=%q, owners %v)",
			name, PodTemplateHashLabel, rs.Labels[PodTemplateHashLabel], rs.OwnerReferences)))
	}
	cs := rs.Spec.Template.Spec.Containers
	for _, c := range cs {
		if c.Name == service || len(cs) == 1 {
			return c.Image, nil
		}
	}
	return "", kube.Wrap(op, apierrors.NewBadRequest(fmt.Sprintf("ReplicaSet %s has no container named %q", name, service)))
}

// PodTemplateHashLabel is the label Argo Rollouts puts on its ReplicaSets and pods.
const PodTemplateHashLabel = "rollouts-pod-template-hash"

func ownedBy(refs []metav1.OwnerReference, r *unstructured.Unstructured) bool {
	for _, o := range refs {
		if o.Kind == "Rollout" && o.Name == r.GetName() && o.UID == r.GetUID() {
			return true
		}
	}
	return false
}

func imageOf(env release.KubeEnvironment, version string) string {
	return env.Image + ":" + kube.LabelValue(version)
}

// setImage sets the image of the container named service (or of the only container).
func setImage(containers []any, service, image string) error {
	idx := -1
	for i, c := range containers {
		if m, ok := c.(map[string]any); ok && m["name"] == service {
			idx = i
		}
	}
	if idx < 0 && len(containers) == 1 {
		idx = 0
	}
	if idx < 0 {
		return fmt.Errorf("no container named %q in the pod template (and more than one container)", service)
	}
	containers[idx].(map[string]any)["image"] = image
	return nil
}

// patchStatus merge-patches the Rollout's status subresource, as the plugin's promote, abort
// and retry do.
func patchStatus(ctx context.Context, r dynamic.ResourceInterface, name string, status map[string]any) error {
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = r.Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: kube.FieldManager}, "status")
	return err
}

func (b *Backend) wait(ctx context.Context, r dynamic.ResourceInterface, name string, done func(*unstructured.Unstructured) bool) error {
	every := b.PollEvery
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	return kube.Poll(ctx, every, func(ctx context.Context) (bool, error) {
		got, err := r.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return done(got), nil
	})
}

// observed: the controller has seen the Rollout's latest spec (status.observedGeneration is a
// string in Argo Rollouts).
func observed(r *unstructured.Unstructured) bool {
	g, _, _ := unstructured.NestedString(r.Object, "status", "observedGeneration")
	return g == strconv.FormatInt(r.GetGeneration(), 10)
}

// canaryWeight is the weight the controller set on the traffic provider, when it routes
// traffic (ok false without traffic routing: then the step index says it).
func canaryWeight(r *unstructured.Unstructured) (int64, bool) {
	w, ok, _ := unstructured.NestedInt64(r.Object, "status", "canary", "weights", "canary", "weight")
	return w, ok
}

// AtWeight: the controller ran the setWeight step and paused at the pause after it.
func AtWeight(weight int64) func(*unstructured.Unstructured) bool {
	return func(r *unstructured.Unstructured) bool {
		idx, _, _ := unstructured.NestedInt64(r.Object, "status", "currentStepIndex")
		if !observed(r) || idx != 1 {
			return false
		}
		w, ok := canaryWeight(r)
		return !ok || w == weight
	}
}

// Promoted: the new ReplicaSet is the stable one and the Rollout is healthy.
func Promoted(r *unstructured.Unstructured) bool {
	phase, _, _ := unstructured.NestedString(r.Object, "status", "phase")
	stable, _, _ := unstructured.NestedString(r.Object, "status", "stableRS")
	current, _, _ := unstructured.NestedString(r.Object, "status", "currentPodHash")
	return observed(r) && phase == "Healthy" && stable != "" && stable == current
}

// Aborted: the controller took the abort: all traffic on the stable ReplicaSet.
func Aborted(r *unstructured.Unstructured) bool {
	abort, _, _ := unstructured.NestedBool(r.Object, "status", "abort")
	at, _, _ := unstructured.NestedString(r.Object, "status", "abortedAt")
	w, ok := canaryWeight(r)
	return abort && at != "" && (!ok || w == 0)
}
