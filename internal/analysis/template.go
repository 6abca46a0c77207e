package analysis

import (
	"fmt"
	"strings"
	"text/template"
)

// Vars are the values a query template may use: {{.Service}}, {{.Version}},
// {{.BaselineVersion}}, {{.Stage}}, {{.Interval}}.
type Vars struct {
	Service         string `json:"service"`
	Version         string `json:"version"`
	BaselineVersion string `json:"baselineVersion,omitempty"`
	Stage           string `json:"stage,omitempty"`
	Interval        string `json:"interval,omitempty"` // a Prometheus duration such as 1m
}

// Map returns the non-empty variables. An empty one is left out on purpose so that a template
// using it fails ("map has no entry for key BaselineVersion") instead of querying version="".
func (v Vars) Map() map[string]string {
	m := map[string]string{}
	for k, val := range map[string]string{
		"Service": v.Service, "Version": v.Version, "BaselineVersion": v.BaselineVersion,
		"Stage": v.Stage, "Interval": v.Interval,
	} {
		if val != "" {
			m[k] = val
		}
	}
	return m
}

// Render executes a text/template over vars; a missing or empty key is an error.
func Render(text string, vars map[string]string) (string, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, vars); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	return b.String(), nil
}

// checkTemplate renders text with every known variable set, so that syntax errors and unknown
// keys are caught when the policy is loaded rather than at the first measurement.
func checkTemplate(text string) error {
	_, err := Render(text, Vars{Service: "s", Version: "v", BaselineVersion: "b", Stage: "canary", Interval: "1m"}.Map())
	return err
}
