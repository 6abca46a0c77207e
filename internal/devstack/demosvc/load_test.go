package demosvc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigValidate(t *testing.T) {
	ok := LoadConfig{Target: "http://127.0.0.1:8090/", RPS: 10, Duration: time.Second}
	tests := []struct {
		name    string
		edit    func(*LoadConfig)
		wantErr string
	}{
		{"valid", func(*LoadConfig) {}, ""},
		{"localhost", func(c *LoadConfig) { c.Target = "http://localhost:8090/svc/x" }, ""},
		{"ipv6 loopback", func(c *LoadConfig) { c.Target = "http://[::1]:8090/" }, ""},
		{"other loopback", func(c *LoadConfig) { c.Target = "https://127.0.0.2/" }, ""},
		{"private address", func(c *LoadConfig) { c.Target = "http://10.0.0.5:8090/" }, `host "10.0.0.5" is not a loopback address`},
		{"hostname", func(c *LoadConfig) { c.Target = "http://demo.internal/" }, `host "demo.internal" is not a loopback address`},
		{"no scheme", func(c *LoadConfig) { c.Target = "127.0.0.1:8090" }, "target: "},
		{"ftp", func(c *LoadConfig) { c.Target = "ftp://127.0.0.1/" }, "want an http or https URL"},
		{"rps 0", func(c *LoadConfig) { c.RPS = 0 }, "rps: must be between 1 and 2000, got 0"},
		{"rps too high", func(c *LoadConfig) { c.RPS = 5000 }, "rps: must be between 1 and 2000, got 5000"},
		{"no duration", func(c *LoadConfig) { c.Duration = 0 }, "duration: must be above 0"},
		{"too long", func(c *LoadConfig) { c.Duration = 2 * time.Hour }, "duration: must be above 0 and at most 1h0m0s, got 2h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadAgainstTheRouter(t *testing.T) {
	s, base := startServer(t, testConfig(t))
	mustApply(t, base, "k-50", "production", 50)
	const rps, duration = 200, 500 * time.Millisecond
	res, err := Load(context.Background(), LoadConfig{Target: base + "/", RPS: rps, Duration: duration})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	limit := int(rps * duration.Seconds())
	if res.Sent < 1 || res.Sent+res.Skipped > limit {
		t.Fatalf("sent %d and skipped %d, want at least 1 and at most %d together", res.Sent, res.Skipped, limit)
	}
	if res.TransportErrors != 0 || res.ByCode[200] != res.Sent || res.ByVersion["1.3.0"]+res.ByVersion["1.4.0"] != res.Sent {
		t.Fatalf("result %+v: want every request answered 200 by one of the two versions", res)
	}
	if served := counterValue(t, s, "1.3.0", "200") + counterValue(t, s, "1.4.0", "200"); int(served) != res.Sent {
		t.Fatalf("the server counted %v requests, the load sent %d", served, res.Sent)
	}
	if res.Elapsed > duration+5*time.Second {
		t.Fatalf("the load ran %s for a %s duration", res.Elapsed, duration)
	}
}

func TestLoadStopsWhenCancelled(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	res, err := Load(ctx, LoadConfig{Target: ts.URL, RPS: 10, Duration: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "stopped early") {
		t.Fatalf("Load = %v, want a 'stopped early' error", err)
	}
	if res.Sent < 1 || res.Sent > 10 {
		t.Fatalf("sent %d in about 100 ms at 10 rps", res.Sent)
	}
}

func TestLoadRefusesNonLoopback(t *testing.T) {
	_, err := Load(context.Background(), LoadConfig{Target: "http://192.168.1.10/", RPS: 1, Duration: time.Second})
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("Load = %v, want a loopback refusal before any request", err)
	}
}
