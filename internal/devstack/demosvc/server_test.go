package demosvc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func testConfig(t *testing.T) Config {
	return Config{Service: "demo", InitialVersion: "1.3.0", Environment: "production",
		StatePath: filepath.Join(t.TempDir(), "demosvc.json")}
}

// startServer runs a Server behind a real HTTP server on 127.0.0.1.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func trafficBody(env string, pct float64) string {
	return fmt.Sprintf(`{"service":"demo","version":"1.4.0","previousVersion":"1.3.0","environment":%q,"percent":%v}`, env, pct)
}

type answer struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, method, url, key, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, string(data), resp.Header}
}

func mustApply(t *testing.T, base, key, env string, pct float64) {
	t.Helper()
	if a := do(t, http.MethodPost, base+"/v1/traffic", key, trafficBody(env, pct)); a.status != http.StatusOK {
		t.Fatalf("POST /v1/traffic %v%%: %d %s", pct, a.status, a.body)
	}
}

func TestWebhookValidationOverHTTP(t *testing.T) {
	_, base := startServer(t, testConfig(t))
	tests := []struct {
		name, key, body string
		wantStatus      int
		wantBody        string
	}{
		{"applied", "k-ok", trafficBody("production", 5), 200, `{"environment":"production","stable":"1.3.0","canary":"1.4.0","canaryPercent":5}`},
		{"no key", "", trafficBody("production", 5), 400, "the Idempotency-Key header is required"},
		{"key with space", "a b", trafficBody("production", 5), 400, "byte 0x20 at position 1"},
		{"other service", "k1", strings.Replace(trafficBody("production", 5), `"demo"`, `"shop"`, 1), 400, `service: this demo service serves "demo", not "shop"`},
		{"bad percent", "k2", trafficBody("production", 150), 400, "percent: must be between 0 and 100, got 150"},
		{"bad environment", "k3", trafficBody("qa", 5), 400, `environment: "qa" is not one of`},
		{"not JSON", "k4", "percent=5", 400, "invalid JSON at byte offset 1"},
		{"too large", "k5", strings.Repeat(" ", MaxRequestBytes+10), 400, "the limit is 65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, http.MethodPost, base+"/v1/traffic", tt.key, tt.body)
			if a.status != tt.wantStatus || !strings.Contains(a.body, tt.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", a.status, a.body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus != 200 && !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
				t.Errorf("error Content-Type = %q, want text/plain (the webhook client shows the body as the reason)", a.header.Get("Content-Type"))
			}
		})
	}
	if a := do(t, http.MethodPut, base+"/v1/traffic", "k", trafficBody("production", 5)); a.status != http.StatusMethodNotAllowed {
		t.Errorf("PUT /v1/traffic = %d, want 405", a.status)
	}
}

func TestIdempotency(t *testing.T) {
	s, base := startServer(t, testConfig(t))
	first := do(t, http.MethodPost, base+"/v1/traffic", "release/demo/1.4.0/step-1", trafficBody("production", 5))
	if first.status != 200 || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first call: %d %q replayed=%q", first.status, first.body, first.header.Get("Idempotent-Replayed"))
	}
	mustApply(t, base, "release/demo/1.4.0/step-2", "production", 25)

	// A late retry of step 1 replays its answer and must not move traffic back to 5 %.
	replay := do(t, http.MethodPost, base+"/v1/traffic", "release/demo/1.4.0/step-1", trafficBody("production", 5))
	if replay.status != 200 || replay.body != first.body || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %q replayed=%q; want the first answer %q replayed", replay.status, replay.body, replay.header.Get("Idempotent-Replayed"), first.body)
	}
	if got := s.State().Environments["production"].CanaryPercent; got != 25 {
		t.Fatalf("after the replay canaryPercent = %v, want 25 (the replay must not re-apply)", got)
	}

	// The same request encoded differently is the same request.
	reencoded := `{ "percent": 5.0, "environment": "production", "previousVersion": "1.3.0", "version": "1.4.0", "service": "demo" }`
	if a := do(t, http.MethodPost, base+"/v1/traffic", "release/demo/1.4.0/step-1", reencoded); a.status != 200 || a.body != first.body {
		t.Fatalf("re-encoded replay: %d %q", a.status, a.body)
	}

	conflict := do(t, http.MethodPost, base+"/v1/traffic", "release/demo/1.4.0/step-1", trafficBody("production", 6))
	if conflict.status != http.StatusConflict || !strings.Contains(conflict.body, `Idempotency-Key "release/demo/1.4.0/step-1" was already used for a different traffic request`) {
		t.Fatalf("conflicting body: %d %q, want 409 naming the key", conflict.status, conflict.body)
	}
	if got := s.State().Environments["production"].CanaryPercent; got != 25 {
		t.Fatalf("after the conflict canaryPercent = %v, want 25", got)
	}
}

func TestIdempotencyKeysAreBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.StatePath = "" // memory only: a thousand file writes would only slow the test
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := TrafficRequest{"demo", "1.4.0", "1.3.0", "production", 5}
	for i := range maxIdempotencyRecords + 5 {
		if status, _, _ := s.apply(fmt.Sprintf("k%d", i), req); status != 200 {
			t.Fatalf("apply %d: status %d", i, status)
		}
	}
	if len(s.idem) != maxIdempotencyRecords || len(s.idemKeys) != maxIdempotencyRecords {
		t.Fatalf("kept %d records and %d keys, want %d", len(s.idem), len(s.idemKeys), maxIdempotencyRecords)
	}
	if _, ok := s.idem["k0"]; ok {
		t.Fatal("the oldest key was not evicted")
	}
	if _, _, replayed := s.apply(fmt.Sprintf("k%d", maxIdempotencyRecords+4), req); !replayed {
		t.Fatal("the newest key was not replayed")
	}
}

func TestTrafficLifecycle(t *testing.T) {
	s, base := startServer(t, testConfig(t))
	steps := []struct {
		pct  float64
		want Split
	}{
		{5, Split{"1.3.0", "1.4.0", 5}},
		{25, Split{"1.3.0", "1.4.0", 25}},
		{100, Split{Stable: "1.4.0"}},
		{0, Split{Stable: "1.3.0"}},
	}
	for i, step := range steps {
		mustApply(t, base, fmt.Sprintf("step-%d", i), "production", step.pct)
		if got := s.State().Environments["production"]; got != step.want {
			t.Fatalf("after %v%%: %+v, want %+v", step.pct, got, step.want)
		}
	}
	var st State
	if err := json.Unmarshal([]byte(do(t, http.MethodGet, base+"/v1/traffic", "", "").body), &st); err != nil {
		t.Fatal(err)
	}
	if st.Service != "demo" || st.RouterEnvironment != "production" || len(st.Environments) != len(Environments) ||
		st.Environments["staging"] != (Split{Stable: "1.3.0"}) {
		t.Fatalf("GET /v1/traffic = %+v", st)
	}
}

// routeMany sends n GET requests to url from a few goroutines and counts X-Version values
// and status codes; it also checks each body agrees with its header.
func routeMany(t *testing.T, url string, n int) (versions map[string]int, codes map[int]int) {
	t.Helper()
	versions, codes = map[string]int{}, map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range work {
				resp, err := http.Get(url)
				if err != nil {
					errs <- err
					return
				}
				var body struct{ Service, Version, Error string }
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				v := resp.Header.Get("X-Version")
				if body.Version != v || body.Service != "demo" {
					errs <- fmt.Errorf("body %+v disagrees with X-Version %q", body, v)
					return
				}
				mu.Lock()
				versions[v]++
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return versions, codes
}

// within5SD reports whether count is within 5 standard deviations of a binomial(n, p) mean:
// a correct router fails this about once in two million runs.
func within5SD(count, n int, p float64) bool {
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	return math.Abs(float64(count)-mean) <= 5*sd
}

func TestRouterSplitOverHTTP(t *testing.T) {
	_, base := startServer(t, testConfig(t))
	const n = 3000

	versions, _ := routeMany(t, base+"/", 200)
	if versions["1.3.0"] != 200 {
		t.Fatalf("before any traffic call: %v, want all on the initial version 1.3.0", versions)
	}

	mustApply(t, base, "k-20", "production", 20)
	versions, codes := routeMany(t, base+"/svc/orders/42", n)
	if codes[200] != n || versions["1.3.0"]+versions["1.4.0"] != n || !within5SD(versions["1.4.0"], n, 0.2) {
		t.Fatalf("at 20 %%: versions %v codes %v; want about %d on 1.4.0", versions, codes, n/5)
	}

	// Another environment's split must not affect the router (it follows production).
	mustApply(t, base, "k-canary-env", "canary", 100)
	mustApply(t, base, "k-promote", "production", 100)
	if versions, _ := routeMany(t, base+"/", 200); versions["1.4.0"] != 200 {
		t.Fatalf("after promotion: %v, want all on 1.4.0", versions)
	}
	mustApply(t, base, "k-rollback", "production", 0)
	if versions, _ := routeMany(t, base+"/", 200); versions["1.3.0"] != 200 {
		t.Fatalf("after rollback: %v, want all on 1.3.0", versions)
	}
	if a := do(t, http.MethodGet, base+"/nothing-here", "", ""); a.status != http.StatusNotFound {
		t.Errorf("GET /nothing-here = %d, want 404", a.status)
	}
}

func TestFaults(t *testing.T) {
	s, base := startServer(t, testConfig(t))
	mustApply(t, base, "k-50", "production", 50)
	a := do(t, http.MethodPost, base+"/v1/faults", "", `{"version":"1.4.0","errorRate":0.3}`)
	if a.status != 200 {
		t.Fatalf("POST /v1/faults: %d %s", a.status, a.body)
	}
	if a := do(t, http.MethodPost, base+"/v1/faults", "", `{"version":"1.4.0","errorRate":30}`); a.status != 400 || !strings.Contains(a.body, "errorRate: must be between 0 and 1") {
		t.Fatalf("bad fault: %d %q", a.status, a.body)
	}

	const n = 2000
	versions, _ := routeMany(t, base+"/", n)
	failed := int(counterValue(t, s, "1.4.0", "500"))
	okStable, okCanary := counterValue(t, s, "1.3.0", "200"), counterValue(t, s, "1.4.0", "200")
	if counterValue(t, s, "1.3.0", "500") != 0 || int(okStable) != versions["1.3.0"] {
		t.Fatalf("the stable version without a fault: %v ok of %d", okStable, versions["1.3.0"])
	}
	if failed+int(okCanary) != versions["1.4.0"] || !within5SD(failed, versions["1.4.0"], 0.3) {
		t.Fatalf("1.4.0 with errorRate 0.3: %d of %d answered 500", failed, versions["1.4.0"])
	}

	var list struct{ Faults []Fault }
	if err := json.Unmarshal([]byte(do(t, http.MethodGet, base+"/v1/faults", "", "").body), &list); err != nil ||
		len(list.Faults) != 1 || list.Faults[0] != (Fault{Version: "1.4.0", ErrorRate: 0.3}) {
		t.Fatalf("GET /v1/faults = %+v, %v", list, err)
	}
	if a := do(t, http.MethodDelete, base+"/v1/faults/1.4.0", "", ""); a.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", a.status, a.body)
	}
	if a := do(t, http.MethodDelete, base+"/v1/faults/1.4.0", "", ""); a.status != http.StatusNotFound || !strings.Contains(a.body, `no fault is set for version "1.4.0"`) {
		t.Fatalf("second DELETE: %d %q", a.status, a.body)
	}
	if _, codes := routeMany(t, base+"/", 300); codes[200] != 300 {
		t.Fatalf("after clearing the fault: %v, want all 200", codes)
	}
}

func TestFaultLatency(t *testing.T) {
	s, base := startServer(t, testConfig(t))
	const latency = 120 * time.Millisecond
	if a := do(t, http.MethodPost, base+"/v1/faults", "", fmt.Sprintf(`{"version":"1.3.0","latencyMs":%d}`, latency.Milliseconds())); a.status != 200 {
		t.Fatalf("POST /v1/faults: %d %s", a.status, a.body)
	}
	for range 3 {
		start := time.Now()
		if a := do(t, http.MethodGet, base+"/", "", ""); a.status != 200 {
			t.Fatalf("GET /: %d", a.status)
		}
		if elapsed := time.Since(start); elapsed < latency {
			t.Fatalf("a request took %s, want at least the injected %s", elapsed, latency)
		}
	}
	// The histogram must see the latency: nothing below 100 ms, the sum at least 3 × 120 ms.
	h := scrape(t, base)["http_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() < 3*latency.Seconds() {
		t.Fatalf("histogram count %d sum %v, want 3 and at least %v", h.GetSampleCount(), h.GetSampleSum(), 3*latency.Seconds())
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() <= 0.1 && b.GetCumulativeCount() != 0 {
			t.Fatalf("bucket le=%v has %d requests; every request was delayed %s", b.GetUpperBound(), b.GetCumulativeCount(), latency)
		}
	}

	// A caller that gives up during the delay is counted as 499, not as a success.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request with a 20 ms deadline succeeded despite 120 ms of latency")
	}
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(t, s, "1.3.0", "499") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the abandoned request was never counted with code 499")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func counterValue(t *testing.T, s *Server, version, code string) float64 {
	t.Helper()
	m := &dto.Metric{}
	c, err := s.metrics.requests.GetMetricWithLabelValues("demo", version, code)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// scrape GETs /metrics over HTTP and parses the text exposition as Prometheus would.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestMetricsExposition(t *testing.T) {
	_, base := startServer(t, testConfig(t))
	mustApply(t, base, "k-5", "production", 5)
	if _, err := http.Post(base+"/v1/faults", "application/json", strings.NewReader(`{"version":"1.4.0","errorRate":1}`)); err != nil {
		t.Fatal(err)
	}
	versions, _ := routeMany(t, base+"/", 400)

	families := scrape(t, base)
	requests := families["http_requests_total"]
	if requests.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("http_requests_total type %v, want counter", requests.GetType())
	}
	got := map[string]float64{}
	for _, m := range requests.GetMetric() {
		l := labelsOf(m)
		if len(l) != 3 || l["service"] != "demo" {
			t.Fatalf("http_requests_total labels %v, want service, version, code", l)
		}
		got[l["version"]+"/"+l["code"]] = m.GetCounter().GetValue()
	}
	// every version that served has its 500 series, at 0 until it fails
	want := map[string]float64{"1.3.0/200": float64(versions["1.3.0"]), "1.3.0/500": 0}
	if versions["1.4.0"] > 0 {
		want["1.4.0/500"] = float64(versions["1.4.0"])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("http_requests_total = %v, want %v", got, want)
	}

	duration := families["http_request_duration_seconds"]
	if duration.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("http_request_duration_seconds type %v, want histogram", duration.GetType())
	}
	var count uint64
	for _, m := range duration.GetMetric() {
		l := labelsOf(m)
		if len(l) != 2 || l["service"] != "demo" || l["version"] == "" {
			t.Fatalf("http_request_duration_seconds labels %v, want service, version", l)
		}
		var bounds []float64
		for _, b := range m.GetHistogram().GetBucket() {
			if math.IsInf(b.GetUpperBound(), +1) {
				continue // the parser lists +Inf; the registry adds it on its own
			}
			bounds = append(bounds, b.GetUpperBound())
		}
		if fmt.Sprint(bounds) != fmt.Sprint(durationBuckets) || bounds[0] != 0.001 || bounds[len(bounds)-1] != 2 {
			t.Fatalf("buckets %v, want %v (1 ms to 2 s)", bounds, durationBuckets)
		}
		count += m.GetHistogram().GetSampleCount()
	}
	if count != 400 {
		t.Fatalf("histogram counts add up to %d, want 400", count)
	}

	assertTrafficGauge(t, families, map[string]float64{
		"production/1.3.0": 95, "production/1.4.0": 5,
		"staging/1.3.0": 100, "testnet/1.3.0": 100, "canary/1.3.0": 100,
	})
	// After promotion the old version leaves the gauge instead of lingering at its last value.
	mustApply(t, base, "k-100", "production", 100)
	assertTrafficGauge(t, scrape(t, base), map[string]float64{
		"production/1.4.0": 100,
		"staging/1.3.0":    100, "testnet/1.3.0": 100, "canary/1.3.0": 100,
	})
}

func assertTrafficGauge(t *testing.T, families map[string]*dto.MetricFamily, want map[string]float64) {
	t.Helper()
	got := map[string]float64{}
	for _, m := range families["demosvc_traffic_percent"].GetMetric() {
		l := labelsOf(m)
		got[l["environment"]+"/"+l["version"]] = m.GetGauge().GetValue()
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("demosvc_traffic_percent = %v, want %v", got, want)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	_, base := startServer(t, cfg)
	mustApply(t, base, "step-1", "production", 5)
	mustApply(t, base, "testnet-1", "testnet", 100)
	first := do(t, http.MethodPost, base+"/v1/traffic", "step-1", trafficBody("production", 5)).body

	restarted, base2 := startServer(t, cfg)
	want := map[string]Split{
		"production": {"1.3.0", "1.4.0", 5}, "testnet": {Stable: "1.4.0"},
		"staging": {Stable: "1.3.0"}, "canary": {Stable: "1.3.0"},
	}
	if got := restarted.State().Environments; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	if a := do(t, http.MethodPost, base2+"/v1/traffic", "step-1", trafficBody("production", 5)); a.body != first || a.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after restart: %d %q, want the recorded %q", a.status, a.body, first)
	}
	if a := do(t, http.MethodPost, base2+"/v1/traffic", "step-1", trafficBody("production", 25)); a.status != http.StatusConflict {
		t.Fatalf("conflict after restart: %d, want 409", a.status)
	}
	assertTrafficGauge(t, scrape(t, base2), map[string]float64{
		"production/1.3.0": 95, "production/1.4.0": 5, "testnet/1.4.0": 100,
		"staging/1.3.0": 100, "canary/1.3.0": 100,
	})
}

func TestNewRefusesABadStateFile(t *testing.T) {
	cfg := testConfig(t)
	if err := os.WriteFile(cfg.StatePath, []byte(`{"formatVersion":1,"service":"demo","environments":{"production":{"stable":"1.3.0","canaryPercent":5}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg)
	want := "state file " + cfg.StatePath + ": environments.production.canary: required when canaryPercent is 5"
	if err == nil || err.Error() != want {
		t.Fatalf("New = %v, want %q", err, want)
	}
}

func TestFailedStateWriteLeavesTrafficUnchanged(t *testing.T) {
	cfg := testConfig(t)
	dir := filepath.Join(t.TempDir(), "data")
	cfg.StatePath = filepath.Join(dir, "demosvc.json")
	s, base := startServer(t, cfg)
	mustApply(t, base, "k1", "production", 5) // creates dir
	// Replace the directory by a file so the next write fails.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a := do(t, http.MethodPost, base+"/v1/traffic", "k2", trafficBody("production", 25))
	if a.status != http.StatusInternalServerError || !strings.Contains(a.body, cfg.StatePath) {
		t.Fatalf("got %d %q, want 500 naming %s", a.status, a.body, cfg.StatePath)
	}
	if got := s.State().Environments["production"]; got != (Split{"1.3.0", "1.4.0", 5}) {
		t.Fatalf("after a failed write the split is %+v, want it unchanged", got)
	}
	if _, ok := s.idem["k2"]; ok {
		t.Fatal("a failed call was recorded under its key, so its retry could never apply")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		cfg     Config
		wantErr string
	}{
		{Config{Service: "", InitialVersion: "1", Environment: "production"}, "service: required"},
		{Config{Service: "demo", InitialVersion: "1 0", Environment: "production"}, `initial version: "1 0" is not a valid name`},
		{Config{Service: "demo", InitialVersion: "1", Environment: "prod"}, `environment "prod" is not one of`},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("New(%+v) = %v, want %q", tt.cfg, err, tt.wantErr)
		}
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	s, err := New(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	s.faults["1.3.0"] = Fault{Version: "1.3.0", LatencyMs: 300}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	// Cancel while the request waits out its injected latency.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.metrics.inFlight) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the handler")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if code := <-got; code != 200 {
		t.Fatalf("the request in flight at shutdown got %d, want 200", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v, want nil after a graceful shutdown", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}
