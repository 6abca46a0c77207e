package release

import (
	"strings"
	"testing"
)

// kubeTraffic is the seed policy with a gatewayapi backend for production.
const kubeTraffic = `traffic:
  backend: gatewayapi
  kubernetes:
    - name: production
      namespace: demo
      image: registry.example/demo
      route: demo
      rule: 1
      stableService: demo-stable
      canaryService: demo-canary
`

func withTraffic(t *testing.T, traffic string) string {
	t.Helper()
	base := string(DefaultPolicyYAML())
	i := strings.Index(base, "\ntraffic:")
	if i < 0 {
		t.Fatal("seed policy has no traffic section")
	}
	j := strings.Index(base[i+1:], "\n# ")
	rest := ""
	if j >= 0 {
		rest = base[i+1+j:]
	}
	return base[:i+1] + traffic + rest
}

func TestKubernetesBackendPolicy(t *testing.T) {
	p, err := ParsePolicy("policy.yaml", []byte(withTraffic(t, kubeTraffic)), knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Traffic.KubeEnv("production")
	if err != nil || e.Route != "demo" || e.Rule != 1 || e.CanaryService != "demo-canary" {
		t.Fatalf("KubeEnv: %+v %v", e, err)
	}
	if _, err := p.Traffic.KubeEnv("prod"); err == nil || !strings.Contains(err.Error(), `no environment "prod"`) {
		t.Fatalf("unknown environment: %v", err)
	}
	img := strings.Replace(kubeTraffic, "      canaryService: demo-canary\n",
		"      canaryService: demo-canary\n      deploy: image\n      stableDeployment: demo-stable\n      canaryDeployment: demo-canary\n      container: app\n", 1)
	p, err = ParsePolicy("policy.yaml", []byte(withTraffic(t, img)), knownTypes)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := p.Traffic.KubeEnv("production"); !e.ImagePatch() || e.StableDeployment != "demo-stable" || e.CanaryDeployment != "demo-canary" || e.Container != "app" {
		t.Fatalf("image patch environment: %+v", e)
	}
	argo := "traffic:\n  backend: argorollouts\n  kubernetes:\n    - {name: production, namespace: demo, image: registry.example/demo, rollout: demo}\n"
	if _, err := ParsePolicy("policy.yaml", []byte(withTraffic(t, argo)), knownTypes); err != nil {
		t.Fatal(err)
	}
}

func TestKubernetesBackendPolicyErrors(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"bad namespace", "namespace: demo", "namespace: Demo_NS", `traffic.kubernetes[0].namespace: must be a Kubernetes name`},
		{"image with tag", "image: registry.example/demo", "image: registry.example/demo:latest", `traffic.kubernetes[0].image: must be an image repository without tag`},
		{"same services", "canaryService: demo-canary", "canaryService: demo-stable", `traffic.kubernetes[0].canaryService: must differ`},
		{"no route", "      route: demo\n", "", `traffic.kubernetes[0].route: must be a Kubernetes name`},
		{"negative rule", "rule: 1", "rule: -1", `traffic.kubernetes[0].rule: must be a rule's index`},
		{"url", "backend: gatewayapi", "backend: gatewayapi\n  url: http://x", `traffic.url: the gatewayapi backend talks to the Kubernetes API`},
		{"unknown backend", "backend: gatewayapi", "backend: istio", `traffic.backend: must be webhook, gatewayapi or argorollouts (got "istio")`},
		{"duplicate env", "      canaryService: demo-canary\n", "      canaryService: demo-canary\n    - {name: production, namespace: x, image: x, route: x, stableService: a, canaryService: b}\n", `environment "production" is named twice`},
	}
	// deploy: image, and its fields in the wrong mode or backend
	const image = "      deploy: image\n      stableDeployment: demo-stable\n      canaryDeployment: demo-canary\n"
	const canary = "      canaryService: demo-canary\n"
	cases = append(cases, []struct{ name, from, to, want string }{
		{"unknown deploy", canary, canary + "      deploy: patch\n", `traffic.kubernetes[0].deploy: must be "version" (a Deployment per version) or "image" (patch the image of stableDeployment and canaryDeployment) (got "patch")`},
		{"image without deployments", canary, canary + "      deploy: image\n", `traffic.kubernetes[0].stableDeployment: must be a Kubernetes name`},
		{"image, same deployments", canary, canary + strings.Replace(image, "canaryDeployment: demo-canary", "canaryDeployment: demo-stable", 1), `traffic.kubernetes[0].canaryDeployment: must differ from stableDeployment (both "demo-stable")`},
		{"image, bad container", canary, canary + image + "      container: App_1\n", `traffic.kubernetes[0].container: must be a Kubernetes name`},
		{"image with replicas", canary, canary + image + "      replicas: 3\n", `traffic.kubernetes[0].replicas: is not used with deploy: image`},
		{"image with port", canary, canary + image + "      port: 8080\n", `traffic.kubernetes[0].port: is not used with deploy: image`},
		{"deployments without image", canary, canary + "      canaryDeployment: demo-canary\n", `traffic.kubernetes[0].canaryDeployment: is only used with deploy: image`},
		{"version with container", canary, canary + "      deploy: version\n      container: app\n", `traffic.kubernetes[0].container: is only used with deploy: image`},
	}...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(withTraffic(t, kubeTraffic), c.from, c.to, 1)
			_, err := ParsePolicy("policy.yaml", []byte(src), knownTypes)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "policy.yaml:") {
				t.Fatalf("want %q with file and line, got %v", c.want, err)
			}
		})
	}
}

// TestArgoRolloutsRefusesDeployFields: the image-patch fields belong to gatewayapi; an Argo
// Rollouts environment naming them is told which backend they are for.
func TestArgoRolloutsRefusesDeployFields(t *testing.T) {
	argo := "traffic:\n  backend: argorollouts\n  kubernetes:\n    - {name: production, namespace: demo, image: registry.example/demo, rollout: demo, deploy: image, canaryDeployment: demo}\n"
	_, err := ParsePolicy("policy.yaml", []byte(withTraffic(t, argo)), knownTypes)
	for _, want := range []string{"traffic.kubernetes[0].deploy: is for the gatewayapi backend", "traffic.kubernetes[0].canaryDeployment: is for the gatewayapi backend", "policy.yaml:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want %q, got %v", want, err)
		}
	}
}
