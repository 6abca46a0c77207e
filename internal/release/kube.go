package release

import (
	"fmt"
	"regexp"
)

// Traffic backends on Kubernetes.
const (
	// BackendGatewayAPI deploys a Deployment per version and splits an HTTPRoute rule's
	// traffic between the environment's stable and canary Services.
	BackendGatewayAPI = "gatewayapi"
	// BackendArgoRollouts sets an Argo Rollout's image and canary weight; Argo Rollouts moves
	// the pods, shipgate decides each step.
	BackendArgoRollouts = "argorollouts"
	// BackendWebhook POSTs each change to the team's own endpoint.
	BackendWebhook = "webhook"
)

// KubeEnvironment is what a Kubernetes backend acts on in one environment (the name the
// manifest's targets give it, the stage name by default). Every object is named here, by the
// platform team: a release can only pick one of these environments, never an object.
type KubeEnvironment struct {
	Name      string `yaml:"name" json:"name"`
	Namespace string `yaml:"namespace" json:"namespace"`
	// Image is the container image repository; the release's version is its tag.
	Image string `yaml:"image" json:"image"`
	// Replicas of each version's Deployment (gatewayapi; default 1).
	Replicas int32 `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	// Port the container listens on (gatewayapi; default 8080).
	Port int32 `yaml:"port,omitempty" json:"port,omitempty"`
	// Route is the HTTPRoute and Rule the index of its rule whose backendRefs shipgate sets
	// (gatewayapi).
	Route string `yaml:"route,omitempty" json:"route,omitempty"`
	Rule  int    `yaml:"rule,omitempty" json:"rule,omitempty"`
	// StableService and CanaryService are the route's two backends: stable serves the version
	// traffic returns to, canary the version being released (gatewayapi).
	StableService string `yaml:"stableService,omitempty" json:"stableService,omitempty"`
	CanaryService string `yaml:"canaryService,omitempty" json:"canaryService,omitempty"`
	// Rollout is the Argo Rollout of the service (argorollouts).
	Rollout string `yaml:"rollout,omitempty" json:"rollout,omitempty"`
}

// Kubernetes object names (RFC 1123 labels: namespaces, Services, and the names shipgate gives
// Deployments) and image repositories as the policy writes them (no tag, no digest: the
// version is the tag).
var (
	kubeNameRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	kubeImageRE = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
)

// validateKube checks a Kubernetes backend's environments.
func (p *Policy) validateKube(v *validator) {
	envs := p.Traffic.Kubernetes
	if p.Traffic.URL != "" {
		v.addf("traffic.url", "the %s backend talks to the Kubernetes API the worker's operator configures; a url is not used", p.Traffic.Backend)
	}
	if len(envs) == 0 {
		v.addf("traffic.kubernetes", "the %s backend needs at least one environment", p.Traffic.Backend)
	}
	seen := map[string]bool{}
	for i, e := range envs {
		f := fmt.Sprintf("traffic.kubernetes[%d]", i)
		if e.Name == "" {
			v.addf(f+".name", "is required: the environment's name as the manifest's targets give it")
		} else if seen[e.Name] {
			v.addf(f+".name", "environment %q is named twice", e.Name)
		}
		seen[e.Name] = true
		name := func(field, val string) {
			if !kubeNameRE.MatchString(val) {
				v.addf(f+"."+field, "must be a Kubernetes name (lower-case letters, digits and '-', at most 63; got %q)", val)
			}
		}
		name("namespace", e.Namespace)
		if !kubeImageRE.MatchString(e.Image) {
			v.addf(f+".image", "must be an image repository without tag or digest: the release's version is the tag (got %q)", e.Image)
		}
		if e.Replicas < 0 || e.Replicas > 1000 {
			v.addf(f+".replicas", "must be between 0 and 1000 (got %d)", e.Replicas)
		}
		if e.Port < 0 || e.Port > 65535 {
			v.addf(f+".port", "must be a port number (got %d)", e.Port)
		}
		switch p.Traffic.Backend {
		case BackendGatewayAPI:
			name("route", e.Route)
			name("stableService", e.StableService)
			name("canaryService", e.CanaryService)
			if e.StableService == e.CanaryService {
				v.addf(f+".canaryService", "must differ from stableService (both %q)", e.CanaryService)
			}
			if e.Rule < 0 || e.Rule > 63 {
				v.addf(f+".rule", "must be a rule's index in the route, 0 to 63 (got %d)", e.Rule)
			}
		case BackendArgoRollouts:
			name("rollout", e.Rollout)
		}
	}
}

// KubeEnv returns the policy's Kubernetes environment called name.
func (t Traffic) KubeEnv(name string) (KubeEnvironment, error) {
	for _, e := range t.Kubernetes {
		if e.Name == name {
			return e, nil
		}
	}
	return KubeEnvironment{}, fmt.Errorf("the policy's traffic.kubernetes names no environment %q", name)
}
