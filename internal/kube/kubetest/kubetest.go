// Package kubetest runs a real Kubernetes API server for tests: kube-apiserver and etcd built
// from the module proxy into .bin/ (go tool task tools:kube), started by controller-runtime's
// envtest on loopback ports it picks, with the Gateway API and Argo Rollouts CRDs the same task
// copies out of their modules. No kubelet and no controllers run: where a controller would
// write a status, the test writes it through the API (see SetDeploymentAvailable), and says so.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/shipgate/shipgate/internal/kube"
)

// CRD sets that tools:kube puts under .bin/crds/.
const (
	GatewayAPI   = "gateway-api"
	ArgoRollouts = "argo-rollouts"
)

// Env is a running API server.
type Env struct {
	// Admin is a cluster admin's config (system:masters): for the test's own setup.
	Admin *rest.Config
	Kube  *kube.Clients
	env   *envtest.Environment
}

// Bin is the repository's .bin directory (where tools:kube builds the binaries).
func Bin() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "Taskfile.yml")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "tools", "kube", "go.mod")); err == nil {
				return filepath.Join(dir, ".bin"), nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kubetest: repository root not found above the working directory")
		}
		dir = parent
	}
}

// ShippedRole is the Role shipped in deployments/kubernetes/rbac.yaml: what the RBAC tests bind
// to the worker's user.
func ShippedRole(t testing.TB) *rbacv1.Role {
	t.Helper()
	bin, err := Bin()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(filepath.Dir(bin), "deployments", "kubernetes", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		var role rbacv1.Role
		if err := dec.Decode(&role); err != nil {
			if err == io.EOF {
				t.Fatal("deployments/kubernetes/rbac.yaml has no Role")
			}
			t.Fatal(err)
		}
		if role.Kind == "Role" {
			return &role
		}
	}
}

// Start runs an API server with the named CRD sets installed; it stops when the test ends.
// Missing binaries fail the test (never skip it): run `go tool task tools:kube`.
func Start(t testing.TB, crdSets ...string) *Env {
	t.Helper()
	e, err := New(crdSets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("kubetest: stop the API server: %v", err)
		}
	})
	return e
}

// New runs an API server with the named CRD sets installed, for a whole test binary (TestMain);
// the caller stops it.
func New(crdSets ...string) (*Env, error) {
	logf.SetLogger(logr.Discard())
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("kubetest: %s missing: run `go tool task tools:kube` (builds it into .bin/): %w", b, err)
		}
	}
	var dirs []string
	for _, s := range crdSets {
		d := filepath.Join(bin, "crds", s)
		if _, err := os.Stat(d); err != nil {
			return nil, fmt.Errorf("kubetest: CRDs %s missing: run `go tool task tools:kube`: %w", s, err)
		}
		dirs = append(dirs, d)
	}
	e := &envtest.Environment{
		BinaryAssetsDirectory:    bin,
		CRDDirectoryPaths:        dirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 3 * time.Minute, // a shared 2-core machine
		ControlPlaneStopTimeout:  time.Minute,
	}
	cfg, err := e.Start()
	if err != nil {
		return nil, fmt.Errorf("kubetest: start the API server: %w", err)
	}
	c, err := kube.New(cfg)
	if err != nil {
		_ = e.Stop()
		return nil, err
	}
	return &Env{Admin: cfg, Kube: c, env: e}, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error { return e.env.Stop() }

// User is the config of a user authenticated by a client certificate and granted nothing:
// what it may do is what RBAC bindings give it.
func (e *Env) User(t testing.TB, name string) *rest.Config {
	t.Helper()
	u, err := e.env.AddUser(envtest.User{Name: name}, e.Admin)
	if err != nil {
		t.Fatalf("kubetest: add user %s: %v", name, err)
	}
	return u.Config()
}

// Namespace creates a namespace.
func (e *Env) Namespace(t testing.TB, name string) {
	t.Helper()
	_, err := e.Kube.Core.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("kubetest: namespace %s: %v", name, err)
	}
}

// SetDeploymentAvailable writes what the Deployment controller and the kubelets would once
// its pods run (no kubelet runs here): every replica updated and available, Available=True.
func SetDeploymentAvailable(ctx context.Context, e *Env, d *appsv1.Deployment) error {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: want, UpdatedReplicas: want, ReadyReplicas: want, AvailableReplicas: want,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
			Reason: "MinimumReplicasAvailable", LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	_, err := e.Kube.Core.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: "kubetest-deployment-controller"})
	return err
}

// RunDeploymentController stands in for the Deployment controller and kubelets until ctx ends:
// every Deployment in namespace whose status is behind its spec is made available. It says so:
// nothing here starts a pod.
func (e *Env) RunDeploymentController(ctx context.Context, namespace string) {
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			list, err := e.Kube.Core.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range list.Items {
				d := &list.Items[i]
				if d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas == 0 {
					_ = SetDeploymentAvailable(ctx, e, d)
				}
			}
		}
	}()
}

// Kubeconfig writes cfg as a kubeconfig file in the test's temporary directory: what a worker's
// operator hands the worker (kube.EnvKubeconfig).
func Kubeconfig(t testing.TB, cfg *rest.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := WriteKubeconfig(cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteKubeconfig writes cfg as a kubeconfig file at path (for a worker process outside tests:
// the Kubernetes demo).
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	return clientcmd.WriteToFile(*kc, path)
}
