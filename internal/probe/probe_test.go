package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/analysis/promtest"
	"github.com/shipgate/shipgate/internal/evidence"
)

func TestTypes(t *testing.T) {
	want := []string{"chain-call", "http", "prometheus-query", "prometheus-rules", "prometheus-series", "resource-usage"}
	if got := Types(); !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
}

func TestValidateParams(t *testing.T) {
	tests := []struct {
		typ    string
		params map[string]string
		err    string // "" means valid
	}{
		{TypeSeries, map[string]string{"queries": "up{service=\"{{.Service}}\"}\nhttp_requests_total"}, ""},
		{TypeSeries, map[string]string{}, "prometheus-series check: param queries: required"},
		{TypeSeries, map[string]string{"queries": "up", "query": "up"}, `prometheus-series check: unknown param "query" (known: queries)`},
		{TypeSeries, map[string]string{"queries": "{{.Servce}}"}, `prometheus-series check: param queries: template:`},
		{TypeRules, map[string]string{"labels": "service={{.Service}}, severity=page"}, ""},
		{TypeRules, map[string]string{"names": "ShipgateHighErrorRate,ShipgateHighLatency"}, ""},
		{TypeRules, map[string]string{}, "prometheus-rules check: params labels and names: at least one is required"},
		{TypeRules, map[string]string{"labels": "service"}, `prometheus-rules check: param labels: item 1 "service": want name=value`},
		{TypeRules, map[string]string{"labels": "a=b,se-rvice=x"}, `param labels: item 2 "se-rvice=x": "se-rvice" is not a label name`},
		{TypeQuery, map[string]string{"query": "sum(x)", "max": "0.8"}, ""},
		{TypeQuery, map[string]string{"query": "sum(x)", "min": "1", "max": "2"}, ""},
		{TypeQuery, map[string]string{"query": "sum(x)"}, "prometheus-query check: params max and min: at least one is required"},
		{TypeQuery, map[string]string{"query": "sum(x)", "max": "lots"}, `prometheus-query check: param max: "lots" is not a finite number`},
		{TypeQuery, map[string]string{"query": "sum(x)", "max": "NaN"}, `param max: "NaN" is not a finite number`},
		{TypeQuery, map[string]string{"query": "sum(x)", "min": "3", "max": "2"}, "prometheus-query check: param min: 3 is above max 2"},
		{TypeHTTP, map[string]string{"url": "https://status.example.com/{{.Service}}", "contains": "{{.Version}}"}, ""},
		{TypeHTTP, map[string]string{"url": "ftp://x"}, `http check: param url: "ftp://x" is not an http(s) URL`},
		{TypeHTTP, map[string]string{"url": "/relative"}, `is not an http(s) URL`},
		{TypeResourceUsage, map[string]string{"cpuMax": "2", "memoryMaxMiB": "1024", "windowSeconds": "300"}, ""},
		{TypeResourceUsage, map[string]string{"cpuMax": "2", "memoryMaxMiB": "1024", "windowSeconds": "300", "labels": "app={{.Service}},ver={{.Version}}", "cpuMetric": "container_cpu_usage_seconds_total"}, ""},
		{TypeResourceUsage, map[string]string{"cpuMax": "2", "memoryMaxMiB": "1024"}, "resource-usage check: param windowSeconds: required"},
		{TypeResourceUsage, map[string]string{"cpuMax": "0", "memoryMaxMiB": "1024", "windowSeconds": "300"}, "param cpuMax: 0 is not above 0"},
		{TypeResourceUsage, map[string]string{"cpuMax": "2", "memoryMaxMiB": "1024", "windowSeconds": "0.2"}, "param windowSeconds: 0.2 is below 1s"},
		// issue 12: the probe measured the service as a whole, so the old version
		{TypeResourceUsage, map[string]string{"cpuMax": "2", "memoryMaxMiB": "1024", "windowSeconds": "300", "labels": "service={{.Service}},environment=staging"}, "selects no version"},
		{TypeResourceUsage, map[string]string{"cpuMax": "2", "memoryMaxMiB": "1024", "windowSeconds": "300", "labels": "version=v0.0.0"}, "selects no version"},
		{TypeResourceUsage, map[string]string{"cpuMax": "2", "memoryMaxMiB": "1024", "windowSeconds": "300", "memoryMetric": "rss{x}"}, `param memoryMetric: "rss{x}" is not a metric name`},
		{"nagios", nil, `probe: unknown check type "nagios" (known: chain-call, http, prometheus-query, prometheus-rules, prometheus-series, resource-usage)`},
	}
	for _, tc := range tests {
		err := ValidateParams(tc.typ, tc.params)
		if tc.err == "" && err != nil {
			t.Errorf("ValidateParams(%s, %v) = %v, want nil", tc.typ, tc.params, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ValidateParams(%s, %v) = %v, want %q", tc.typ, tc.params, err, tc.err)
		}
	}
}

// FuzzValidateParams: the param parsers (templates, label pairs, numbers, URLs) never panic,
// and whatever validates also parses for a real release.
func FuzzValidateParams(f *testing.F) {
	f.Add(TypeRules, "labels", "service={{.Service}},severity=page")
	f.Add(TypeRules, "names", "A, B,,C")
	f.Add(TypeSeries, "queries", "up\n\nhttp_requests_total{service=\"{{.Service}}\"}")
	f.Add(TypeQuery, "max", "1e3")
	f.Add(TypeHTTP, "url", "http://127.0.0.1:1/{{.Version}}")
	f.Add(TypeResourceUsage, "labels", "version={{.Version}},pod=~x")
	f.Add("x", "y", "{{")
	f.Fuzz(func(t *testing.T, typ, name, value string) {
		params := map[string]string{name: value}
		// Fill the other required params so the fuzzed one is reached.
		for k, spec := range types[typ] {
			if spec.required && k != name {
				params[k] = "up"
			}
		}
		if typ == TypeHTTP && name != "url" {
			params["url"] = "http://127.0.0.1:1/"
		}
		if typ == TypeResourceUsage {
			for _, k := range []string{"cpuMax", "memoryMaxMiB", "windowSeconds"} {
				if k != name {
					params[k] = "5"
				}
			}
		}
		if err := ValidateParams(typ, params); err != nil {
			if !strings.Contains(err.Error(), "check") && !strings.HasPrefix(err.Error(), "probe:") {
				t.Fatalf("error names no check: %v", err)
			}
			return
		}
		if _, err := parse(typ, params, map[string]string{"Service": "demo", "Version": "v1", "Environment": "prod"}); err != nil {
			t.Fatalf("valid params fail for a real release: %v", err)
		}
	})
}

func TestHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/runbook/demo", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("Runbook for demo v1.4.0")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // a URL nobody answers
	hc := &http.Client{Timeout: 5 * time.Second}
	in := func(url, contains string) Input {
		p := map[string]string{"url": url}
		if contains != "" {
			p["contains"] = contains
		}
		return Input{Type: TypeHTTP, Params: p, Service: "demo", Version: "v1.4.0"}
	}
	tests := []struct {
		name   string
		in     Input
		want   evidence.Outcome
		detail string
	}{
		{"2xx", in(srv.URL+"/runbook/{{.Service}}", ""), evidence.Pass, "answered 200 OK"},
		{"2xx containing version", in(srv.URL+"/runbook/{{.Service}}", "{{.Version}}"), evidence.Pass, `contains "v1.4.0"`},
		{"2xx without version", in(srv.URL+"/runbook/{{.Service}}", "v9.9.9"), evidence.Fail, `do not contain "v9.9.9"`},
		{"404", in(srv.URL+"/missing", ""), evidence.Fail, "answered 404 Not Found"},
		{"nobody listening", in(gone.URL+"/", ""), evidence.Fail, "connection refused"},
		{"missing template value", Input{Type: TypeHTTP, Params: map[string]string{"url": srv.URL + "/{{.Environment}}"}}, evidence.Error, "Environment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(context.Background(), tc.in, "", hc)
			if r.Outcome != tc.want || !strings.Contains(r.Detail, tc.detail) {
				t.Fatalf("Evaluate = %+v, want %s with %q", r, tc.want, tc.detail)
			}
		})
	}
}

// TestPrometheusProbes runs every Prometheus probe against a real Prometheus scraping a test
// application for service demo, with the SLO rules of promtest loaded.
func TestPrometheusProbes(t *testing.T) {
	app := promtest.NewApp(t)
	app.Serve("demo", "v2", 50, 0, 20*time.Millisecond)
	// on staging the old version is heavy and the new one light: the probe must judge the new
	app.Resources("demo", "staging", "v1", 3, 900<<20)
	app.Resources("demo", "staging", "v2", 0.5, 200<<20)
	srv := promtest.Start(t, app, promtest.Options{Services: []string{"demo"}})
	srv.WaitFor(t, `count_over_time(up{job="app"}[10s]) >= 6`, 30*time.Second)
	usage := func(cores, mib string) map[string]string {
		return map[string]string{"cpuMax": cores, "memoryMaxMiB": mib, "windowSeconds": "5"}
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	red := "sum(rate(http_requests_total{service=\"{{.Service}}\"}[5s]))\nhttp_request_duration_seconds_bucket{service=\"{{.Service}}\",version=\"{{.Version}}\"}"
	tests := []struct {
		name    string
		in      Input
		want    evidence.Outcome
		detail  string
		promURL string
	}{
		{"RED series exist", Input{Type: TypeSeries, Params: map[string]string{"queries": red}, Service: "demo", Version: "v2"}, evidence.Pass, "2 queries returned series", ""},
		{"RED series missing for another service", Input{Type: TypeSeries, Params: map[string]string{"queries": red}, Service: "ghost", Version: "v2"}, evidence.Fail, `query sum(rate(http_requests_total{service="ghost"}[5s])) returned no series`, ""},
		{"bad PromQL is an error", Input{Type: TypeSeries, Params: map[string]string{"queries": "sum("}, Service: "demo"}, evidence.Error, "bad_data", ""},
		{"SLO rules loaded by label", Input{Type: TypeRules, Params: map[string]string{"labels": "service={{.Service}}"}, Service: "demo"}, evidence.Pass, "2 alert rules loaded for service demo: ShipgateHighErrorRate, ShipgateHighLatency", ""},
		{"SLO rules loaded by name and label", Input{Type: TypeRules, Params: map[string]string{"labels": "service={{.Service}},severity=page", "names": "ShipgateHighErrorRate"}, Service: "demo"}, evidence.Pass, "rules ShipgateHighErrorRate loaded for service=demo,severity=page", ""},
		{"SLO rule missing for service", Input{Type: TypeRules, Params: map[string]string{"labels": "service={{.Service}}", "names": "ShipgateHighErrorRate"}, Service: "ghost"}, evidence.Fail, "rule ShipgateHighErrorRate not loaded for service ghost", ""},
		{"SLO rules missing by name", Input{Type: TypeRules, Params: map[string]string{"names": "A,ShipgateHighLatency,B"}, Service: "demo"}, evidence.Fail, "rules A, B not loaded for any labels", ""},
		{"no rules for service", Input{Type: TypeRules, Params: map[string]string{"labels": "service={{.Service}}"}, Service: "ghost"}, evidence.Fail, "no alert rule loaded for service ghost", ""},
		{"resource within max", Input{Type: TypeQuery, Params: map[string]string{"query": `sum(rate(http_requests_total{service="{{.Service}}"}[5s]))`, "max": "1000"}, Service: "demo"}, evidence.Pass, "within limits", ""},
		{"resource above max", Input{Type: TypeQuery, Params: map[string]string{"query": `sum(rate(http_requests_total{service="{{.Service}}"}[5s]))`, "max": "10"}, Service: "demo"}, evidence.Fail, "> max 10", ""},
		{"resource below min", Input{Type: TypeQuery, Params: map[string]string{"query": `sum(rate(http_requests_total{service="{{.Service}}"}[5s]))`, "min": "1000"}, Service: "demo"}, evidence.Fail, "< min 1000", ""},
		{"resource query without data", Input{Type: TypeQuery, Params: map[string]string{"query": `sum(rate(http_requests_total{service="{{.Service}}"}[5s]))`, "max": "10"}, Service: "ghost"}, evidence.Error, "returned no data", ""},
		{"resource query NaN", Input{Type: TypeQuery, Params: map[string]string{"query": `vector(0) / 0`, "max": "10"}, Service: "demo"}, evidence.Error, "returned NaN", ""},
		{"new version within limits", Input{Type: TypeResourceUsage, Params: usage("1", "256"), Service: "demo", Version: "v2", Environment: "staging"}, evidence.Pass,
			"cores <= max 1, memory peak 200 MiB <= max 256", ""},
		{"new version above its CPU limit", Input{Type: TypeResourceUsage, Params: usage("0.25", "256"), Service: "demo", Version: "v2", Environment: "staging"}, evidence.Fail,
			"cores > max 0.25", ""},
		{"new version above its memory limit", Input{Type: TypeResourceUsage, Params: usage("1", "128"), Service: "demo", Version: "v2", Environment: "staging"}, evidence.Fail,
			"memory peak 200 MiB > max 128", ""},
		{"the old version's load is not the new one's", Input{Type: TypeResourceUsage, Params: usage("1", "256"), Service: "demo", Version: "v1", Environment: "staging"}, evidence.Fail,
			"cores > max 1, memory peak 900 MiB > max 256", ""},
		{"a version not deployed there is not measured", Input{Type: TypeResourceUsage, Params: usage("1", "256"), Service: "demo", Version: "v2", Environment: "testnet"}, evidence.Error,
			"returned no data: the version was not measured", ""},
		{"no Prometheus URL", Input{Type: TypeSeries, Params: map[string]string{"queries": "up"}}, evidence.Error, "no Prometheus URL configured", "-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := srv.URL
			if tc.promURL == "-" {
				url = ""
			}
			r := Evaluate(t.Context(), tc.in, url, hc)
			if r.Outcome != tc.want || !strings.Contains(r.Detail, tc.detail) {
				t.Fatalf("Evaluate = %+v\nwant %s with %q", r, tc.want, tc.detail)
			}
		})
	}

	t.Run("Prometheus down is an error, never a pass", func(t *testing.T) {
		srv.Stop()
		for _, in := range []Input{
			{Type: TypeSeries, Params: map[string]string{"queries": "up"}, Service: "demo"},
			{Type: TypeRules, Params: map[string]string{"labels": "service=demo"}, Service: "demo"},
			{Type: TypeQuery, Params: map[string]string{"query": "up", "max": "1"}, Service: "demo"},
		} {
			if r := Evaluate(t.Context(), in, srv.URL, hc); r.Outcome != evidence.Error || !strings.Contains(r.Detail, "connection refused") {
				t.Errorf("%s with Prometheus down = %+v, want error", in.Type, r)
			}
		}
	})
}
