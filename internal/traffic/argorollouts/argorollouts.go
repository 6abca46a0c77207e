// Package argorollouts is the traffic backend for services whose pods Argo Rollouts moves:
// shipgate keeps the decision (which weight, when, whether to go back), Argo Rollouts does the
// rest. Each forward step server-side applies the Rollout's image (the release's version) and
// a canary strategy of two steps, setWeight to the step's percent and an indefinite pause, so
// the controller sets the weight and waits for shipgate's next step; 100 % is a full
// promotion and 0 % an abort, written the way the kubectl-argo-rollouts plugin writes them
// (promote --full sets status.promoteFull, abort sets status.abort). Each step then reads the
// Rollout's status back until the controller reports it done.
//
// Ownership is the gatewayapi backend's rule: the first step of a release takes the Rollout's
// containers and steps over (forced apply, stamped with the release), later steps apply
// without force, so an edit by someone else is reported (kube.ForeignEditError) rather than
// overwritten; the abort always goes through.
package argorollouts

import (
	"context"
	"encoding/json"
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
	if c.Percent == 0 { // abort: `kubectl argo rollouts abort`
		if err := patchStatus(ctx, rollouts, env.Rollout, map[string]any{"abort": true}); err != nil {
			return kube.Wrap("abort "+object, err)
		}
		return kube.Wrap("abort "+object+": wait for the controller", b.wait(ctx, rollouts, env.Rollout, Aborted))
	}
	cur, err := rollouts.Get(ctx, env.Rollout, metav1.GetOptions{})
	if err != nil {
		return kube.Wrap("read "+object, err)
	}
	force := cur.GetAnnotations()[kube.AnnotationRelease] != kube.ReleaseOf(key)
	containers, _, err := unstructured.NestedSlice(cur.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return kube.Wrap("read "+object, apierrors.NewBadRequest(err.Error()))
	}
	image := env.Image + ":" + kube.LabelValue(c.Version)
	if err := setImage(containers, c.Service, image); err != nil {
		return kube.Wrap("set image of "+object, apierrors.NewBadRequest(object+": "+err.Error()))
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
	if _, err := rollouts.Apply(ctx, env.Rollout, apply, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: force}); err != nil {
		return kube.Wrap(fmt.Sprintf("set %s to %s at %d %%", object, c.Version, weight), kube.ApplyConflict(object, err))
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
		done = Promoted
	}
	return kube.Wrap(fmt.Sprintf("%s at %d %%: wait for the controller", object, weight), b.wait(ctx, rollouts, env.Rollout, done))
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
