// Package deployments holds what operators deploy — the Grafana dashboard, Kubernetes files,
// the systemd unit, the Temporal client profiles, Prometheus config, examples — and no code:
// its tests check those files with the tools operators use (kubectl kustomize,
// systemd-analyze, the SDK's envconfig).
package deployments
