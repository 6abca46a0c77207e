package telemetry

import (
	"strings"
	"testing"
)

func TestParseOTLPEndpoint(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:4317", "https://collector.example.com:4317", "https://collector:4317/"} {
		if _, err := ParseOTLPEndpoint(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"127.0.0.1:4317":                     "is not a URL (want http://host:port",
		"grpc://collector:4317":              "want http://host:port",
		"http://collector":                   "host and port required",
		"https://user:pw@collector:4317":     "credentials go in OTEL_EXPORTER_OTLP_HEADERS",
		"http://collector:4317/v1/traces":    "only scheme, host and port",
		"http://collector:4317?api_key=secr": "only scheme, host and port",
		"http://[::1":                        "is not a URL",
	} {
		_, err := ParseOTLPEndpoint(bad)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), EnvOTLPEndpoint+": ") {
			t.Errorf("%s: %v, want %q", bad, err, want)
		}
	}
}

func FuzzParseOTLPEndpoint(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:4317", "https://c:4317/", "grpc://x", "http://u@h:1", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseOTLPEndpoint(s)
		if err == nil && (u.Port() == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil) {
			t.Fatalf("%q accepted as %v", s, u)
		}
	})
}
