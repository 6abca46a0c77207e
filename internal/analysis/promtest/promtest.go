// Package promtest runs a real Prometheus server for tests: it finds the prometheus binary,
// writes a config scraping a test application every second and an SLO rules file, starts the
// server on a free loopback port and stops it on cleanup. The application (App) exposes
// client_golang metrics for a simulated service whose traffic, error ratio and latency the test
// controls per version.
package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// InstallHint is how to get the binaries on Debian (and in CI).
const InstallHint = "apt-get update && apt-get install -y --no-install-recommends prometheus"

// Binary finds a Prometheus tool ("prometheus" or "promtool") on PATH or in /usr/bin.
func Binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/bin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/bin; install it with: %s", name, InstallHint)
}

// Rules returns an SLO rules file with one group per service: ShipgateHighErrorRate fires at
// once (for: 0s) when more than 5 % of the service's requests over 5 s are 5xx;
// ShipgateHighLatency when its p99 exceeds 500 ms. Both carry the static labels service and
// severity, so they can be found by service in the rules and alerts APIs.
func Rules(services ...string) string {
	var b strings.Builder
	b.WriteString("groups:\n")
	for _, s := range services {
		b.WriteString(ruleGroup(s))
	}
	return b.String()
}

func ruleGroup(service string) string {
	return fmt.Sprintf(`  - name: shipgate-slo-%[1]s
    interval: 1s
    rules:
      - alert: ShipgateHighErrorRate
        expr: |
          sum by (service) (rate(http_requests_total{service=%[1]q,code=~"5.."}[5s]))
            / sum by (service) (rate(http_requests_total{service=%[1]q}[5s])) > 0.05
        for: 0s
        labels:
          service: %[1]s
          severity: page
        annotations:
          summary: "{{ $labels.service }} error ratio {{ $value }} above 5 %%"
      - alert: ShipgateHighLatency
        expr: |
          histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket{service=%[1]q}[5s]))) > 0.5
        for: 0s
        labels:
          service: %[1]s
          severity: page
`, service)
}

// Server is a running Prometheus.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Dir  string // config, rules, data and log
	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
}

// Options configure Start.
type Options struct {
	// Rules is the rules file content; empty means Rules(Services...).
	Rules string
	// Services get SLO rules when Rules is empty (default "demo").
	Services []string
	// Target is a host:port scraped beside app (app may then be nil), e.g. the real demo
	// service in an integration test.
	Target string
}

// Start runs Prometheus scraping app every second and waits until it is ready and has scraped
// app at least once. The test fails (it is never skipped) when the binary is missing.
func Start(t testing.TB, app *App, opts Options) *Server {
	t.Helper()
	bin, err := Binary("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Services) == 0 {
		opts.Services = []string{"demo"}
	}
	if opts.Rules == "" {
		opts.Rules = Rules(opts.Services...)
	}
	var targets []string
	if opts.Target != "" {
		targets = append(targets, opts.Target)
	}
	if app != nil {
		targets = append(targets, app.Addr())
	}
	list, _ := json.Marshal(targets) // a YAML flow sequence of quoted strings
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yml")
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: app
    static_configs:
      - targets: %s
`, rulesPath, list)
	write(t, rulesPath, opts.Rules)
	write(t, filepath.Join(dir, "prometheus.yml"), config)
	port := freePort(t)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(s.Stop)
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		t.Fatalf("prometheus did not become ready: %v\n%s", err, s.Log())
	}
	s.WaitFor(t, fmt.Sprintf(`count(up{job="app"} == 1) == %d`, len(targets)), 30*time.Second)
	return s
}

// Stop ends Prometheus (SIGTERM, then SIGKILL after 10 s) and waits for it. Safe to call twice.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Log returns what Prometheus wrote so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "prometheus.log"))
	return string(b)
}

// API returns a client_golang API client for the server.
func (s *Server) API(t testing.TB) v1.API {
	c, err := api.NewClient(api.Config{Address: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c)
}

// WaitFor polls until query returns at least one sample, failing the test after timeout.
func (s *Server) WaitFor(t testing.TB, query string, timeout time.Duration) {
	t.Helper()
	a := s.API(t)
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		v, _, _, err := a.Query(ctx, query, time.Now())
		cancel()
		if err == nil {
			if vec, ok := v.(model.Vector); ok && len(vec) > 0 {
				return
			}
			last = fmt.Sprintf("result %v", v)
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("prometheus: %s returned nothing within %v (last: %s)\n%s", query, timeout, last, s.Log())
}

// WaitForAlert polls the alerts API until alert name is firing, failing the test after timeout.
func (s *Server) WaitForAlert(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	a := s.API(t)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := a.Alerts(ctx)
		cancel()
		if err == nil {
			for _, al := range res.Alerts {
				if string(al.Labels[model.AlertNameLabel]) == name && al.State == v1.AlertStateFiring {
					return
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("prometheus: alert %s not firing within %v\n%s", name, timeout, s.Log())
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("prometheus exited")
		default:
		}
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s.ours()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s/-/ready not OK after %v", s.URL, timeout)
}

// ours checks that the Prometheus answering on s.URL is the one this Server started: a
// free port can be taken by another test process between freePort and the bind, and then a
// Prometheus that failed to bind would look ready through the other one (seen when two suites
// ran side by side: the other stopped, and this test's queries met a closed port).
func (s *Server) ours() error {
	resp, err := http.Get(s.URL + "/api/v1/status/flags")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var flags struct {
		Data map[string]string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&flags); err != nil {
		return fmt.Errorf("%s/api/v1/status/flags: %w", s.URL, err)
	}
	if got, want := flags.Data["storage.tsdb.path"], filepath.Join(s.Dir, "data"); got != want {
		return fmt.Errorf("another Prometheus answers on %s (its storage is %q, not %q)", s.URL, got, want)
	}
	select {
	case <-s.done:
		return errors.New("prometheus exited")
	default:
		return nil
	}
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freePort asks the kernel for a free loopback port. Another process could take it before
// Prometheus binds it; that shows as a clear start failure, not a flaky pass.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
