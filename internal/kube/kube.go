// Package kube connects the worker to a Kubernetes API server and holds what every Kubernetes
// backend shares: the field manager shipgate applies as, the credentials rule, the labels of
// the Deployments it creates, and how API errors map to retry-or-stop.
package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/shipgate/shipgate/internal/release"
)

// FieldManager is who shipgate is in every object's managedFields: server-side apply under
// this name is how an edit by anyone else to a field shipgate set is told apart.
const FieldManager = "shipgate"

// EnvKubeconfig names the kubeconfig file the worker's operator gives it; unset, the worker
// uses its in-cluster service account. A policy never names a cluster or a credential.
const EnvKubeconfig = "SHIPGATE_KUBECONFIG"

// Annotations and labels shipgate writes.
const (
	// AnnotationRelease on a route or Rollout names the release that last moved it: the
	// first step of another release takes the object over (forced apply), every later step
	// of the same release applies without force, so an edit by someone else shows up.
	AnnotationRelease = "shipgate.dev/release"
	LabelName         = "app.kubernetes.io/name"
	LabelVersion      = "app.kubernetes.io/version"
	LabelManagedBy    = "app.kubernetes.io/managed-by"
)

// Clients are the typed and dynamic clients of one API server.
type Clients struct {
	Core    kubernetes.Interface
	Dynamic dynamic.Interface
}

// Config returns the worker's API server config: the kubeconfig file at path when path is
// set (the operator's choice), otherwise the in-cluster service account.
func Config(path string) (*rest.Config, error) {
	if path != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: kubeconfig %s (%s): %w", path, EnvKubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: no %s set and not in a cluster: %w", EnvKubeconfig, err)
	}
	return cfg, nil
}

// New builds the clients of cfg.
func New(cfg *rest.Config) (*Clients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "shipgate"
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Clients{Core: core, Dynamic: dyn}, nil
}

// ReleaseOf is the release part of a traffic step's idempotency key (the key less its last
// segment, the step): <workflow id>/<run key>.
func ReleaseOf(key string) string {
	if i := strings.LastIndexByte(key, '/'); i > 0 {
		return key[:i]
	}
	return key
}

// Slug turns a version into the part of a Kubernetes name it gives (1.4.0 → 1-4-0).
func Slug(version string) string {
	r := strings.NewReplacer(".", "-", "+", "-", "_", "-")
	return strings.Trim(strings.ToLower(r.Replace(version)), "-")
}

// LabelValue turns a version into a label value and image tag (+ is neither: it becomes _).
func LabelValue(version string) string { return strings.ReplaceAll(version, "+", "_") }

// Error is a failed call to the API server, said with what shipgate was doing. Permanent
// reports whether retrying cannot help: a person has to act (grant the RBAC the worker needs,
// install the CRD, create the object, resolve a foreign edit).
type Error struct {
	Op     string
	Err    error
	Reason string
	perm   bool
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("kubernetes: %s: %s: %v", e.Op, e.Reason, e.Err)
	}
	return fmt.Sprintf("kubernetes: %s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent is true when retrying cannot help.
func (e *Error) Permanent() bool { return e.perm }

// ForeignEditError is a forced-free apply the server refused because another field manager
// changed a field shipgate had set during this release: it is reported, never overwritten.
type ForeignEditError struct {
	Object   string
	Managers []string
	Err      error
}

func (e *ForeignEditError) Error() string {
	return fmt.Sprintf("kubernetes: %s was edited by %s during the release; shipgate did not overwrite it "+
		"(a person decides: undo the edit, or roll back, which returns traffic whatever the edit): %v",
		e.Object, strings.Join(e.Managers, ", "), e.Err)
}

func (e *ForeignEditError) Unwrap() error { return e.Err }

// Permanent: a person has to look.
func (e *ForeignEditError) Permanent() bool { return true }

// StepEnvironment is what both backends check first in a traffic step: a percent from 0 to
// 100, and an environment the policy's traffic.kubernetes names. Either error is final.
func StepEnvironment(envs []release.KubeEnvironment, environment string, percent float64) (release.KubeEnvironment, error) {
	if percent < 0 || percent > 100 {
		return release.KubeEnvironment{}, &Error{Op: "traffic step", Err: fmt.Errorf("percent %g out of range 0–100", percent)}
	}
	env, err := (release.Traffic{Kubernetes: envs}).KubeEnv(environment)
	if err != nil {
		return release.KubeEnvironment{}, Wrap("traffic step", apierrors.NewBadRequest(err.Error()))
	}
	return env, nil
}

// Wrap says what op was doing when err happened, and whether a retry can help.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *ForeignEditError
	if errors.As(err, &fe) {
		return err
	}
	switch {
	case meta.IsNoMatchError(err):
		return &Error{Op: op, Err: err, Reason: "the API server does not serve this kind: is its CRD installed?", perm: true}
	case apierrors.IsForbidden(err):
		return &Error{Op: op, Err: err, Reason: "the worker's service account may not do this: see deployments/kubernetes/rbac.yaml", perm: true}
	case apierrors.IsUnauthorized(err):
		return &Error{Op: op, Err: err, Reason: "the API server does not accept the worker's credentials", perm: true}
	case apierrors.IsNotFound(err):
		if isMissingResource(err) {
			return &Error{Op: op, Err: err, Reason: "the API server does not serve this kind: is its CRD installed?", perm: true}
		}
		return &Error{Op: op, Err: err, Reason: "not found", perm: true}
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return &Error{Op: op, Err: err, perm: true}
	}
	return &Error{Op: op, Err: err}
}

// isMissingResource: a 404 for the resource itself (no such kind served), not for one object.
func isMissingResource(err error) bool {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return false
	}
	// the API server's answer for a path it does not serve, whatever name was asked for
	if strings.Contains(se.Status().Message, "could not find the requested resource") {
		return true
	}
	d := se.Status().Details
	return d == nil || d.Name == ""
}

// ApplyConflict turns a server-side apply conflict (a field another manager owns) into a
// ForeignEditError naming the managers; other errors are returned as they are.
func ApplyConflict(object string, err error) error {
	if !apierrors.IsConflict(err) {
		return err
	}
	var se apierrors.APIStatus
	if !errors.As(err, &se) || se.Status().Details == nil {
		return err
	}
	var managers []string
	seen := map[string]bool{}
	for _, c := range se.Status().Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		m := managerOf(c.Message)
		if !seen[m] {
			seen[m] = true
			managers = append(managers, m)
		}
	}
	if len(managers) == 0 { // an optimistic-lock conflict: someone wrote between read and apply; retry
		return err
	}
	return &ForeignEditError{Object: object, Managers: managers, Err: err}
}

// StaleReadRetries is how many times a write refused because the object changed since it was
// read is made again against a fresh read, in the same call, before the error goes to the
// activity's retry: a controller writes an object's status all the time (Argo Rollouts at every
// reconcile), and each write moves the resourceVersion a read-modify-write is made against.
const StaleReadRetries = 10

// StaleRead reports whether err is an optimistic-lock conflict: the object was written between
// the read and the write (its resourceVersion moved), not a field another manager owns. The
// write may be made again against a fresh read; what changed in between is then judged again.
func StaleRead(err error) bool {
	if !apierrors.IsConflict(err) {
		return false
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Details != nil {
		for _, c := range se.Status().Details.Causes {
			if c.Type == metav1.CauseTypeFieldManagerConflict {
				return false
			}
		}
	}
	return true
}

// StillOwned reports whether the apply conflict err is only about fields FieldManager still
// owns in obj (the object read after the conflict). Another manager's update or forced apply
// of a field takes it away from shipgate, so a field shipgate still owns was changed by nobody
// since shipgate set it: the conflict is a co-owner that set the same value before shipgate
// did (a forced apply that changes no value shares the field, it does not take it), not an
// edit. The caller may then apply with force against obj's resourceVersion.
func StillOwned(err error, obj metav1.Object) bool {
	var se apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &se) || se.Status().Details == nil {
		return false
	}
	owned := map[string]bool{}
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != FieldManager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var set fieldpath.Set
		if err := set.FromJSON(bytes.NewReader(mf.FieldsV1.GetRawBytes())); err != nil {
			return false
		}
		set.Iterate(func(p fieldpath.Path) { owned[p.String()] = true })
	}
	n := 0
	for _, c := range se.Status().Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		if !owned[c.Field] {
			return false
		}
		n++
	}
	return n > 0
}

// managerOf reads the manager out of a conflict cause's message (`conflict with "kubectl-edit"
// using ...`).
func managerOf(msg string) string {
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		if j := strings.IndexByte(msg[i+1:], '"'); j >= 0 {
			return msg[i+1 : i+1+j]
		}
	}
	return msg
}

// Poll calls done every interval until it reports true, returns an error, or ctx ends.
func Poll(ctx context.Context, every time.Duration, done func(context.Context) (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, err := done(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Lazy connects on first use, with the kubeconfig at path (or in-cluster when path is empty),
// and returns the same clients after: a worker whose policies use no Kubernetes backend never
// needs a cluster.
func Lazy(path string) func() (*Clients, error) {
	return sync.OnceValues(func() (*Clients, error) {
		cfg, err := Config(path)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	})
}
