package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/analysis/promtest"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/devstack/slackws"
	"github.com/shipgate/shipgate/internal/dora"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// Operating shipgate, from outside, on real parts: the dev server, the worker binary exporting
// traces to a real OpenTelemetry Collector and posting to the Slack stand-in, a real Prometheus
// scraping the worker, the CLI binary. Two releases: 1.4.0 succeeds; 1.5.0's canary fails its
// analysis and is rolled back. Then:
//   - the collector received the whole of 1.4.0 as one trace, from the CLI's start to the last
//     activity, each activity and child workflow tagged with its stage, every stage there;
//   - every panel of deployments/grafana/shipgate.json returns data from that Prometheus;
//   - the DORA metrics (`shipgate report`, table and JSON, and the worker's shipgate_dora_*
//     gauges) are those of the two releases: one deployment with its lead time, a change
//     failure rate of 1 in 2, and the rollback's time to restore.
func TestOperatingAReleaseOnDevServer(t *testing.T) {
	s := newStack(t)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	collector, err := devstack.StartCollector(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(collector.Stop)
	slack := slackws.Start()
	t.Cleanup(slack.Close)

	// a canary watched long enough for the fault to show (the demo policy's max is 40 s)
	manifest, policy := s.writeRelease("3s", "canaryWatchMin: 2s", "canaryWatchMin: 20s")
	bridge, err := s.keys.KeyFile(people.BridgeID)
	if err != nil {
		t.Fatal(err)
	}
	s.killWorker()
	s.workerEnv = append(devstack.SlackConfig{APIURL: slack.APIURL(), SigningSecret: "test-signing-secret", Channel: devstack.SlackChannel}.
		WorkerEnv(filepath.Join(s.policyDir, policy+".yaml"), bridge, ""),
		telemetry.EnvOTLPEndpoint+"="+collector.Endpoint, "SHIPGATE_DORA_REFRESH=2s")
	s.startWorker()
	prom := promtest.Start(t, nil, promtest.Options{Target: s.workerAddr})

	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// 1.4.0, started through the CLI with tracing: the trace's root is the CLI's start
	id := strings.TrimSpace(s.mustCLI("--otlp-endpoint", collector.Endpoint, "start", "-f", manifest, "--policy", policy, "--as", "rm-ada"))
	r1 := s.load(manifest, policy)
	s.waitFor(id, "G1 waiting", time.Minute, func(st release.Status) bool { return st.Gates[0].State == release.GateWaiting })
	if _, errOut, code := s.cli("approve", id, "--check", "peer-review", "--as", "alice"); code != 4 {
		t.Fatalf("the author's approval: exit %d %s", code, errOut)
	}
	st1, err := devstack.Follow(ctx, c, r1, io.Discard, true)
	if err != nil || st1.State != release.StateSucceeded {
		t.Fatalf("1.4.0 ended %s: %s (%v)\nworker log:\n%s", st1.State, st1.Reason, err, s.workerLog)
	}

	// 1.5.0 on 1.4.0: its canary breaks, the analysis rolls it back
	m2 := s.nextRelease(manifest, "1.4.0", "1.5.0")
	r2 := s.load(m2, policy)
	if err := r2.Start(ctx, c, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		t.Fatal(err)
	}
	broke := make(chan error, 1)
	go func() {
		_, err := devstack.BreakCanary(ctx, c, r2.In.Manifest.ID(), s.demoURL, io.Discard)
		broke <- err
	}()
	st2, err := devstack.Follow(ctx, c, r2, io.Discard, true)
	if err != nil || st2.State != release.StateRolledBack {
		t.Fatalf("1.5.0 ended %s in %s: %s (%v)", st2.State, st2.Stage, st2.Reason, err)
	}
	if err := <-broke; err != nil {
		t.Fatal(err)
	}

	t.Run("trace", func(t *testing.T) { checkTrace(t, collector, id) })
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, s.root, prom.URL, began) })
	t.Run("dora", func(t *testing.T) { s.checkDORA(t, prom.URL, r1.In.Manifest, st1, st2) })
}

// nextRelease writes the release after manifest's: version to, built on from, with documents
// of its own (they must name the version in a heading and differ from the ones before).
// changeTicket numbers the releases nextRelease writes, so that no two carry the same documents.
var changeTicket atomic.Int64

func (s *stack) nextRelease(manifest, from, to string) string {
	s.t.Helper()
	src := filepath.Dir(manifest)
	dir := s.t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "evidence"), os.DirFS(filepath.Join(src, "evidence"))); err != nil {
		s.t.Fatal(err)
	}
	docs, err := os.ReadDir(filepath.Join(src, "docs"))
	if err != nil {
		s.t.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "docs"), 0o755)
	for _, d := range docs {
		b, err := os.ReadFile(filepath.Join(src, "docs", d.Name()))
		if err != nil {
			s.t.Fatal(err)
		}
		// a change of its own beyond the version: documents that differ from an earlier
		// release's only in the version are refused as not the release's own (G4)
		text := strings.ReplaceAll(string(b), from, to) + "\n## What changed in " + to + "\n\nThe counter endpoint answers in JSON.\n" +
			fmt.Sprintf("\nChange ticket CHG-%d.\n", changeTicket.Add(1))
		if err := os.WriteFile(filepath.Join(dir, "docs", d.Name()), []byte(text), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	m, err := os.ReadFile(manifest)
	if err != nil {
		s.t.Fatal(err)
	}
	text := strings.Replace(string(m), "version: "+from, "version: "+to, 1)
	text = strings.Replace(text, "previousVersion: 1.3.0", "previousVersion: "+from, 1)
	out := filepath.Join(dir, "release.yaml")
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// checkTrace: the release is one trace rooted at the CLI's StartWorkflow, its workflow tasks
// and activities below it, every stage named on the activities scheduled in it, the canary's
// analysis a child workflow in the canary stage, each RunActivity a child of its StartActivity.
func checkTrace(t *testing.T, col *devstack.Collector, id string) {
	var spans []devstack.Span
	var root devstack.Span
	stages := map[string]int{}
	deadline := time.Now().Add(time.Minute)
	for {
		spans = col.Spans()
		root = devstack.Span{}
		for _, s := range spans {
			if s.Name == "StartWorkflow:"+release.ReleaseWorkflowName && s.Service == "shipgate-cli" && s.Attr("temporalWorkflowID") == id {
				root = s
			}
		}
		clear(stages)
		if root.Span != nil {
			for _, s := range spans {
				if string(s.TraceId) == string(root.TraceId) && strings.HasPrefix(s.Name, "StartActivity:") {
					stages[s.Attr(telemetry.AttrStage)]++
				}
			}
		}
		if len(stages) >= 5 && stages[string(release.StageProduction)] > 0 {
			break
		}
		if time.Now().After(deadline) {
			names := map[string]int{}
			for _, s := range spans {
				names[s.Service+" "+s.Name]++
			}
			t.Fatalf("the collector has no whole trace of %s (root found: %v; activities by stage %v); spans: %v\ncollector log:\n%s",
				id, root.Span != nil, stages, names, col.LogString())
		}
		time.Sleep(500 * time.Millisecond)
	}
	byID := map[string]devstack.Span{}
	var inTrace []devstack.Span
	for _, s := range spans {
		if string(s.TraceId) == string(root.TraceId) {
			byID[string(s.SpanId)] = s
			inTrace = append(inTrace, s)
		}
	}
	for _, st := range []release.Stage{release.StageDevelopment, release.StageStaging, release.StageTestnet, release.StageCanary, release.StageProduction} {
		if stages[string(st)] == 0 {
			t.Errorf("no activity of stage %s in the trace (by stage: %v)", st, stages)
		}
	}
	var runWorkflow, runActivity, childInCanary int
	activities := map[string]bool{}
	for _, s := range inTrace {
		parent, hasParent := byID[string(s.ParentSpanId)]
		switch {
		case s.Name == "RunWorkflow:"+release.ReleaseWorkflowName:
			if s.Service != "shipgate-worker" || !hasParent || parent.Name != root.Name {
				t.Errorf("workflow task span %s from %s not under the CLI's start", s.Name, s.Service)
			}
			runWorkflow++
		case strings.HasPrefix(s.Name, "RunActivity:"):
			if !hasParent || parent.Name != "StartActivity:"+strings.TrimPrefix(s.Name, "RunActivity:") {
				t.Errorf("%s is not a child of its StartActivity (parent %q)", s.Name, parent.Name)
			}
			activities[strings.TrimPrefix(s.Name, "RunActivity:")] = true
			runActivity++
		case strings.HasPrefix(s.Name, "StartChildWorkflow:") && s.Attr(telemetry.AttrStage) == string(release.StageCanary):
			childInCanary++
		}
	}
	if runWorkflow == 0 || runActivity < 10 || childInCanary == 0 {
		t.Errorf("trace: %d workflow tasks, %d activities, %d child workflows in the canary", runWorkflow, runActivity, childInCanary)
	}
	for _, want := range []string{"SetTraffic", "EvaluateCheck"} {
		if !slices.ContainsFunc(keys(activities), func(a string) bool { return strings.Contains(a, want) }) {
			t.Errorf("no %s activity in the trace; activities: %v", want, keys(activities))
		}
	}
	t.Logf("trace %x: %d spans, activities by stage %v", root.TraceId, len(inTrace), stages)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// checkDashboard runs every panel's queries, Grafana's variables filled in as Grafana would
// for this test's time range, against the Prometheus that scraped the worker: each panel must
// return a number (NaN is no data).
func checkDashboard(t *testing.T, root, promURL string, since time.Time) {
	b, err := os.ReadFile(filepath.Join(root, "deployments/grafana/shipgate.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("shipgate.json: %v", err)
	}
	vars := strings.NewReplacer("$__rate_interval", "20s", "$__interval", "2s", "$__range", "15m")
	// the last release's last events reach Prometheus at its next scrape (1 s) and the DORA
	// gauges at their next refresh (2 s): a panel gets a minute to show them
	deadline := time.Now().Add(time.Minute)
	panels := 0
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		panels++
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
			continue
		}
		for {
			var data, none []string
			for _, tg := range p.Targets {
				n, err := rangeQuery(promURL, vars.Replace(tg.Expr), since, time.Now())
				if err != nil {
					t.Fatalf("panel %q: %s: %v", p.Title, tg.Expr, err)
				}
				if n > 0 {
					data = append(data, tg.Expr)
				} else {
					none = append(none, tg.Expr)
				}
			}
			if len(data) > 0 {
				for _, e := range none {
					t.Logf("panel %q: this run had no data for %s", p.Title, e)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("panel %q returned no data: %v", p.Title, none)
				break
			}
			time.Sleep(time.Second)
		}
	}
	if panels < 15 {
		t.Errorf("only %d panels", panels)
	}
}

// rangeQuery counts the numeric (not NaN) samples a range query returns.
func rangeQuery(promURL, expr string, start, end time.Time) (int, error) {
	q := url.Values{"query": {expr}, "start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}, "step": {"2"}}
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/query_range?"+q.Encode(), &resp); err != nil {
		return 0, err
	}
	if resp.Status != "success" {
		return 0, fmt.Errorf("%s", resp.Error)
	}
	n := 0
	for _, r := range resp.Data.Result {
		for _, v := range r.Values {
			if s, ok := v[1].(string); ok && s != "NaN" {
				n++
			}
		}
	}
	return n, nil
}

func getJSON(u string, v any) error {
	resp, err := httpGet(u)
	if err != nil {
		return err
	}
	return json.Unmarshal(resp, v)
}

// checkDORA: `shipgate report --json` and its table, and the worker's gauges as Prometheus
// scraped them, against the two releases' own status.
func (s *stack) checkDORA(t *testing.T, promURL string, m1 release.Manifest, st1, st2 release.Status) {
	var full, restored, stopped time.Time
	for _, d := range st1.Deployments {
		if d.Environment == "production" && d.Percent == 100 && full.IsZero() {
			full = d.At
		}
	}
	for _, d := range st2.Deployments {
		if d.Environment == "production" && d.Percent == 0 {
			restored = d.At
		}
	}
	for _, a := range st2.Audit {
		if a.Action == release.SignalRollback && a.Accepted && stopped.IsZero() {
			stopped = a.At
		}
	}
	committed, ok := m1.CommittedAt()
	if !ok || full.IsZero() || restored.IsZero() || stopped.IsZero() {
		t.Fatalf("the releases lack the times the metrics need: commit %v, 100 %% %v, stop %v, restored %v", committed, full, stopped, restored)
	}
	wantLead, wantRestore := full.Sub(committed), restored.Sub(stopped)

	var rep dora.Report
	if err := json.Unmarshal([]byte(s.mustCLI("report", "--since", "1d", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Services) != 1 || rep.Services[0].Service != "demo" {
		t.Fatalf("report services %+v", rep.Services)
	}
	m := rep.Services[0]
	if m.Deployments != 1 || m.LeadTime.N != 1 || m.LeadTime.Median != wantLead || m.ReachedProduction != 2 || m.Failed != 1 ||
		m.ChangeFailureRate != 0.5 || m.TimeToRestore.N != 1 || m.TimeToRestore.Median != wantRestore {
		t.Fatalf("report %+v; want 1 deployment, lead time %s, 1 of 2 failed, time to restore %s", m, wantLead, wantRestore)
	}
	table := s.mustCLI("report", "--since", "1d")
	for _, want := range []string{"SERVICE", "LEAD TIME (MEDIAN)", "demo", "50 % (1 of 2)", "all"} {
		if !strings.Contains(table, want) {
			t.Errorf("report table lacks %q:\n%s", want, table)
		}
	}
	if _, errOut, code := s.cli("report", "--since", "yesterday"); code != 2 || !strings.Contains(errOut, `--since "yesterday": want a duration`) {
		t.Errorf("report --since yesterday: exit %d %s", code, errOut)
	}
	t.Logf("report:\n%s", table)

	// the worker's gauges, through Prometheus (its window is 30 days: the same two releases)
	gauges := map[string]float64{
		`shipgate_dora_deployments{service="demo"}`:                            1,
		`shipgate_dora_change_failure_ratio{service="demo"}`:                   0.5,
		`shipgate_dora_lead_time_seconds{service="demo",quantile="0.5"}`:       wantLead.Seconds(),
		`shipgate_dora_time_to_restore_seconds{service="demo",quantile="0.5"}`: wantRestore.Seconds(),
	}
	deadline := time.Now().Add(time.Minute)
	for q, want := range gauges {
		for {
			got, err := instant(promURL, q)
			if err == nil && math.Abs(got-want) < 0.001 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s = %v (%v), want %v", q, got, err, want)
				break
			}
			time.Sleep(time.Second)
		}
	}
}

func instant(promURL, q string) (float64, error) {
	var resp struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), &resp); err != nil {
		return 0, err
	}
	if len(resp.Data.Result) != 1 {
		return 0, fmt.Errorf("%d series", len(resp.Data.Result))
	}
	var v float64
	_, err := fmt.Sscan(resp.Data.Result[0].Value[1].(string), &v)
	return v, err
}

func httpGet(u string) ([]byte, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("GET %s: HTTP %d: %.200s", u, resp.StatusCode, b)
	}
	return b, nil
}
