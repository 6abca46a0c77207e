package deployments

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/contrib/envconfig"
	"go.yaml.in/yaml/v3"
)

// secretName matches the environment variables that carry secrets: they must come from a
// Secret (Kubernetes) or a credential (systemd), never be written in a deployment file.
var secretName = regexp.MustCompile(`(API_KEY|TOKEN|SECRET|PASS|PASSWORD|PRIVATE)`)

func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install Debian's %s (.ci/run does)", name, pkg)
	}
	return p
}

// The unit passes systemd's own checks with no warning (systemd-analyze verify prints
// warnings for unknown keys and bad values and still exits 0, so its output must be empty),
// and takes no secret from its own text.
func TestSystemdUnit(t *testing.T) {
	bin := tool(t, "systemd-analyze", "systemd")
	unit := filepath.Join("systemd", "shipgate-worker.service")
	verify := func(path string) string {
		out, err := exec.Command(bin, "verify", path).CombinedOutput()
		if err != nil {
			return string(out) + err.Error()
		}
		return string(out)
	}
	if out := verify(unit); out != "" {
		t.Fatalf("systemd-analyze verify %s:\n%s", unit, out)
	}
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	// the check can fail: a typo in a directive is reported
	bad := filepath.Join(t.TempDir(), "shipgate-worker.service")
	_ = os.WriteFile(bad, bytes.Replace(data, []byte("NoNewPrivileges=yes"), []byte("NoNewPrivilegs=yes"), 1), 0o644)
	if out := verify(bad); !strings.Contains(out, "Unknown key 'NoNewPrivilegs'") {
		t.Fatalf("a misspelt directive passed verify: %q", out)
	}
	for i, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "Environment="), "=")
		if ok && strings.HasPrefix(line, "Environment=") && secretName.MatchString(k) && !strings.HasPrefix(v, "%d/") {
			t.Errorf("%s:%d: %s is set in the unit: secrets come from LoadCredential", unit, i+1, k)
		}
	}
	for _, want := range []string{"LoadCredential=temporal-api-key:", "TEMPORAL_CONFIG_FILE=", "SHIPGATE_HTTP_ADDR=0.0.0.0:9464", "KillSignal=SIGTERM", "Restart=always"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("%s lacks %s", unit, want)
		}
	}
}

type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec yaml.Node `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	StartupProbe   *probe `yaml:"startupProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

// The kustomization renders with kubectl's kustomize; the worker's Deployment has its probes on
// the metrics port, resources, and every secret by reference.
func TestKubernetes(t *testing.T) {
	kubectl := tool(t, "kubectl", "kubectl")
	out, err := exec.Command(kubectl, "kustomize", "kubernetes").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("kubectl kustomize: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	kinds := map[string]object{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if o.Kind != "Namespace" && o.Metadata.Namespace != "shipgate" {
			t.Errorf("%s %s is not in namespace shipgate", o.Kind, o.Metadata.Name)
		}
		kinds[o.Kind] = o
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "Deployment", "Service", "PersistentVolumeClaim", "PodDisruptionBudget"} {
		if _, ok := kinds[k]; !ok {
			t.Errorf("no %s rendered", k)
		}
	}
	var spec struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Spec struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	}
	dep := kinds["Deployment"].Spec
	if err := dep.Decode(&spec); err != nil {
		t.Fatal(err)
	}
	if spec.Replicas < 2 || len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("deployment: %d replicas, %d containers", spec.Replicas, len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]
	if !strings.HasPrefix(c.Image, "ghcr.io/shipgate/shipgate-worker:") {
		t.Errorf("image %q: the kustomization's images entry did not apply", c.Image)
	}
	if strings.Join(c.Args, " ") != "--http 0.0.0.0:9464" || len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || c.Ports[0].ContainerPort != 9464 {
		t.Errorf("the worker must serve /metrics, /healthz and /readyz on the metrics port 9464: args %v ports %+v", c.Args, c.Ports)
	}
	for name, p := range map[string]*probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := "/healthz"
		if name == "readiness" {
			want = "/readyz"
		}
		if p == nil || p.HTTPGet.Path != want || p.HTTPGet.Port != "metrics" {
			t.Errorf("%s probe %+v, want GET %s on port metrics", name, p, want)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
		if secretName.MatchString(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("env %s is not taken from a Secret by reference", e.Name)
		}
	}
	for _, want := range []string{"TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE", "TEMPORAL_API_KEY", "SHIPGATE_POLICY_DIR", "SHIPGATE_CHAIN_DATA", "SHIPGATE_OTLP_ENDPOINT", "SHIPGATE_EVIDENCE_STORE"} {
		if !env[want] {
			t.Errorf("the worker's environment lacks %s", want)
		}
	}
}

// The Temporal Cloud profiles load through the SDK's envconfig as the worker and the CLI load
// them (envconfig.LoadClientOptions), strictly (a misspelt key is an error): API key with
// TLS, and mTLS with the client certificate the environment points at.
func TestTemporalProfiles(t *testing.T) {
	path := filepath.Join("temporal", "temporal.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*(api_key|client_key_data)\s*=`).Match(data) {
		t.Fatalf("%s holds a secret", path)
	}
	load := func(profile string, env map[string]string) (string, string, bool, int, error) {
		opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{
			ConfigFilePath: path, ConfigFileProfile: profile, ConfigFileStrict: true, EnvLookup: envMap(env)})
		if err != nil {
			return "", "", false, 0, err
		}
		certs := 0
		if tls := opts.ConnectionOptions.TLS; tls != nil {
			certs = len(tls.Certificates)
			if certs == 0 && tls.GetClientCertificate != nil {
				certs = 1
			}
		}
		return opts.HostPort, opts.Namespace, opts.ConnectionOptions.TLS != nil && opts.Credentials != nil, certs, nil
	}

	host, ns, tlsAndKey, _, err := load("default", nil)
	if err != nil || host != "127.0.0.1:7233" || ns != "default" || tlsAndKey {
		t.Errorf("default: %s %s %v %v", host, ns, tlsAndKey, err)
	}
	host, ns, tlsAndKey, _, err = load("cloud-api-key", map[string]string{"TEMPORAL_API_KEY": "test-key"})
	if err != nil || host != "eu-central-1.aws.api.temporal.io:7233" || ns != "NAMESPACE.ACCOUNT" || !tlsAndKey {
		t.Errorf("cloud-api-key: %s %s TLS and API key %v %v", host, ns, tlsAndKey, err)
	}

	// mTLS: the profile's paths are the mounted Secret's; the test's certificate stands in
	cert, key := selfSigned(t)
	host, _, _, certs, err := load("cloud-mtls", map[string]string{"TEMPORAL_TLS_CLIENT_CERT_PATH": cert, "TEMPORAL_TLS_CLIENT_KEY_PATH": key})
	if err != nil || host != "NAMESPACE.ACCOUNT.tmprl.cloud:7233" || certs != 1 {
		t.Errorf("cloud-mtls: %s, %d client certificates, %v", host, certs, err)
	}
	// without the files it fails, naming them, instead of connecting without a certificate
	if _, _, _, _, err := load("cloud-mtls", nil); err == nil || !strings.Contains(err.Error(), "tls.crt") {
		t.Errorf("cloud-mtls without its certificate: %v", err)
	}
	// a misspelt key in the file is an error, not a silently plaintext connection
	bad := filepath.Join(t.TempDir(), "temporal.toml")
	_ = os.WriteFile(bad, bytes.Replace(data, []byte("client_cert_path"), []byte("client_cert_pth"), 1), 0o644)
	if _, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{ConfigFilePath: bad, ConfigFileProfile: "cloud-mtls", ConfigFileStrict: true, EnvLookup: envMap(nil)}); err == nil {
		t.Error("a misspelt key loaded")
	}
}

type envMap map[string]string

func (e envMap) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func (e envMap) LookupEnv(k string) (string, bool) { v, ok := e[k]; return v, ok }

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shipgate-worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}
