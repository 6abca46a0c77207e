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
