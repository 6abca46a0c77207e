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

// How the gatewayapi backend puts a version on the cluster (KubeEnvironment.Deploy).
const (
	// DeployVersion (the default) applies a Deployment of shipgate's own per version and points
	// the stable and canary Services' selectors at them.
	DeployVersion = "version"
	// DeployImage patches the container image of the platform team's two Deployments behind the
	// stable and canary Services (StableDeployment, CanaryDeployment); shipgate creates nothing
	// and leaves the Services alone.
	DeployImage = "image"
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
	// Deploy is DeployVersion (default) or DeployImage (gatewayapi).
	Deploy string `yaml:"deploy,omitempty" json:"deploy,omitempty"`
	// StableDeployment and CanaryDeployment are the Deployments behind StableService and
	// CanaryService whose image a DeployImage step patches; Container names the container
	// (default: the one named after the service, or the only one).
	StableDeployment string `yaml:"stableDeployment,omitempty" json:"stableDeployment,omitempty"`
	CanaryDeployment string `yaml:"canaryDeployment,omitempty" json:"canaryDeployment,omitempty"`
	Container        string `yaml:"container,omitempty" json:"container,omitempty"`
}

// ImagePatch reports whether the environment deploys by patching its Deployments' image.
func (e KubeEnvironment) ImagePatch() bool { return e.Deploy == DeployImage }

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
			validateKubeDeploy(v, f, e, name)
		case BackendArgoRollouts:
			name("rollout", e.Rollout)
			for _, fv := range e.deployFields(true) {
				if fv[1] != "" {
					v.addf(f+"."+fv[0], "is for the %s backend: Argo Rollouts deploys through the Rollout's own template", BackendGatewayAPI)
				}
			}
		}
	}
}

// deployFields are the image-patch fields as (field, value) pairs, in a fixed order (the
// workflow validates policies too: no map order may reach an error), with deploy first when
// withMode.
func (e KubeEnvironment) deployFields(withMode bool) [][2]string {
	fs := [][2]string{{"stableDeployment", e.StableDeployment}, {"canaryDeployment", e.CanaryDeployment}, {"container", e.Container}}
	if withMode {
		fs = append([][2]string{{"deploy", e.Deploy}}, fs...)
	}
	return fs
}

// validateKubeDeploy checks how a gatewayapi environment deploys: the fields of one mode are
// refused in the other, so a policy never names objects that are silently not used.
func validateKubeDeploy(v *validator, f string, e KubeEnvironment, name func(field, val string)) {
	switch e.Deploy {
	case "", DeployVersion:
		for _, fv := range e.deployFields(false) {
			if fv[1] != "" {
				v.addf(f+"."+fv[0], "is only used with deploy: %s (a Deployment per version is shipgate's own)", DeployImage)
			}
		}
	case DeployImage:
		name("stableDeployment", e.StableDeployment)
		name("canaryDeployment", e.CanaryDeployment)
		if e.StableDeployment == e.CanaryDeployment {
			v.addf(f+".canaryDeployment", "must differ from stableDeployment (both %q): stable keeps serving while the canary's image changes", e.CanaryDeployment)
		}
		if e.Container != "" {
			name("container", e.Container)
		}
		if e.Replicas != 0 {
			v.addf(f+".replicas", "is not used with deploy: %s (the Deployments and their replicas are the platform team's)", DeployImage)
		}
		if e.Port != 0 {
			v.addf(f+".port", "is not used with deploy: %s (the Deployments and their ports are the platform team's)", DeployImage)
		}
	default:
		v.addf(f+".deploy", "must be %q (a Deployment per version) or %q (patch the image of stableDeployment and canaryDeployment) (got %q)",
			DeployVersion, DeployImage, e.Deploy)
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
