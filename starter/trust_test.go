package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
)

// The attacks of the trust model (DESIGN.md §5a), tried against the running stack with the
// real CLI, the real Temporal CLI and the real worker: none of them acts, each is visible.
func TestAttacksAgainstTheRunningStack(t *testing.T) {
	s := newStack(t)
	manifest, policy := s.writeRelease("1h")
	id := strings.TrimSpace(s.mustCLI("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"))
	s.waitFor(id, "G1 waiting", 30*time.Second, func(st release.Status) bool { return st.Gates[0].State == release.GateWaiting })

	// alice, the author, signs as bob and as carol with her own key
	alice, err := s.keys.KeyFile("alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range []string{"bob", "carol"} {
		if _, errOut, code := s.cliWithKey(alice, "approve", id, "--check", "peer-review", "--as", as); code != 4 || !strings.Contains(errOut, "is not one of "+as+"'s keys") {
			t.Fatalf("alice as %s: exit %d %q", as, code, errOut)
		}
	}
	// one shell breaks glass as rm-ada and then as rm-bo, with rm-ada's key
	ada, _ := s.keys.KeyFile("rm-ada")
	s.mustCLI("break-glass", id, "--as", "rm-ada", "--window", release.WindowTestnetSoak, "--reason", "hotfix")
	if _, errOut, code := s.cliWithKey(ada, "break-glass", id, "--as", "rm-bo", "--window", release.WindowTestnetSoak, "--reason", "hotfix"); code != 4 || !strings.Contains(errOut, "not one of rm-bo's keys") {
		t.Fatalf("rm-ada as rm-bo: exit %d %q", code, errOut)
	}

	// a "Slack click" sent straight to Temporal, as a signal and as the decide update
	tcli, err := devstack.TemporalCLI()
	if err != nil {
		t.Fatal(err)
	}
	forged := `{"actor":"U0CAROL06","channel":"slack","check":"peer-review"}`
	temporalCLI(t, s, tcli, "workflow", "signal", "--workflow-id", id, "--name", "approve", "--input", forged)
	out := temporalCLI(t, s, tcli, "workflow", "update", "execute", "--workflow-id", id, "--name", "decide",
		"--input", `{"signal":"approve","command":`+forged+`}`)
	if !strings.Contains(out, "accepted:false") || !strings.Contains(out, "the command is not signed") {
		t.Fatalf("forged Slack update answered:\n%s", out)
	}
	st := s.status(id)
	for _, cs := range st.Gates[0].Checks {
		if cs.Name == "peer-review" && len(cs.Approvals) != 0 {
			t.Fatalf("peer-review after the forgeries: %+v", cs)
		}
	}
	unproven := 0
	for _, e := range st.Audit {
		if e.Actor == "unproven:U0CAROL06" && !e.Accepted {
			unproven++
		}
	}
	if unproven != 2 {
		t.Fatalf("want the forged signal and update in the audit log under their claimed names, got %d: %+v", unproven, st.Audit)
	}

	// a release started by hand with a raw input carrying a weak policy and a copied digest
	m, err := release.LoadRelease(manifest)
	if err != nil {
		t.Fatal(err)
	}
	m.Version = "9.9.9"
	raw, _ := json.Marshal(map[string]any{"manifest": m, "policy": map[string]any{"profile": "production", "gates": []any{}},
		"policyDigest": st.PolicyDigest, "startedBy": "rm-ada"})
	handID := release.WorkflowID(m.Service, m.Version)
	temporalCLI(t, s, tcli, "workflow", "start", "--type", "ReleaseWorkflow", "--task-queue", release.TaskQueue,
		"--workflow-id", handID, "--input", string(raw))
	hand := s.waitFor(handID, "refused", 30*time.Second, func(st release.Status) bool { return st.State.Final() })
	if hand.State != release.StateFailed || !strings.Contains(hand.Reason, "start refused: the input carries a policy") || len(hand.Deployments) != 0 {
		t.Fatalf("hand-started release: %s %q %+v", hand.State, hand.Reason, hand.Deployments)
	}
	for env, split := range s.demo.State().Environments {
		if split.Stable == m.Version || split.Canary == m.Version {
			t.Fatalf("the hand-started release reached %s: %+v", env, split)
		}
	}

	// a policy that is a path, and a production policy below the floors on the worker
	if _, errOut, code := s.cli("start", "-f", manifest, "--policy", "../../etc/passwd", "--as", "rm-ada"); code != 2 || !strings.Contains(errOut, "name one of the worker's policies") {
		t.Fatalf("--policy path: exit %d %q", code, errOut)
	}
	seed, err := os.ReadFile(filepath.Join(s.root, "internal/release/default_policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.putPolicy("weak", strings.Replace(string(seed), `params: {min: "80"}`, `params: {min: "0"}`, 1))
	other := filepath.Join(filepath.Dir(manifest), "other.yaml")
	mb, _ := os.ReadFile(manifest)
	if err := os.WriteFile(other, []byte(strings.Replace(string(mb), "version: 1.4.0", "version: 1.4.1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := s.cli("start", "-f", other, "--policy", "weak", "--as", "rm-ada"); code != 1 ||
		!strings.Contains(errOut, "weak.yaml:") || !strings.Contains(errOut, "gates[0].checks[0].params.min") {
		t.Fatalf("start under a weakened production policy: exit %d %q", code, errOut)
	}
	// bob is a reviewer, not a starter
	if _, errOut, code := s.cli("start", "-f", other, "--policy", policy, "--as", "bob"); code != 1 || !strings.Contains(errOut, "bob may not start releases") {
		t.Fatalf("start by bob: exit %d %q", code, errOut)
	}

	// every refusal is counted on the worker
	resp, err := http.Get("http://" + s.workerAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, reason := range []string{"unknown-key", "unsigned", "denied"} {
		if !strings.Contains(string(body), `shipgate_commands_refused_total{`) || !strings.Contains(string(body), `reason="`+reason+`"`) {
			t.Fatalf("/metrics has no shipgate_commands_refused_total{reason=%q}:\n%s", reason, grepLines(string(body), "refused"))
		}
	}

	// a forged signal twice the payload limit is refused by the server: forged signals can
	// never carry a release's history to Temporal's size limit (devstack.ServerLimits)
	huge := release.Command{Actor: "bob", Channel: release.ChannelCLI, Check: "peer-review", Comment: strings.Repeat("x", 2*devstack.MaxPayloadBytes)}
	if err := c0(t, s).SignalWorkflow(context.Background(), id, "", release.SignalApprove, huge); err == nil || !strings.Contains(err.Error(), "size") {
		t.Fatalf("a signal twice the payload limit: %v", err)
	}

	// a flood of forged signals: the server takes MaxSignalsPerRelease, then refuses them
	sigAdded, sigRefused := floodSignals(t, c0(t, s), id, devstack.MaxSignalsPerRelease+100)
	t.Logf("%d forged signals: %d refused by the server, %d history events added", devstack.MaxSignalsPerRelease+100, sigRefused, sigAdded)
	if sigRefused < 100 || sigAdded > 4*int64(devstack.MaxSignalsPerRelease) {
		t.Fatalf("forged signals: %d refused, %d events added", sigRefused, sigAdded)
	}

	// a flood of forged updates: refused before history past the audit cap
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	added, rejected := flood(t, c, id, 1000)
	t.Logf("1000 forged decide updates: %d rejected before history, %d history events added", rejected, added)
	if added > 150 || rejected < 1000-20 {
		t.Fatalf("1000 forged updates added %d history events (%d rejected)", added, rejected)
	}

	// terminated from outside: status, list and commands say so, not the last published state
	if err := c.TerminateWorkflow(context.Background(), id, "", "test: an operator terminates"); err != nil {
		t.Fatal(err)
	}
	if out := s.mustCLI("status", id); !strings.Contains(out, "ENDED FROM OUTSIDE: the execution was terminated") {
		t.Fatalf("status of a terminated release:\n%s", out)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) { // visibility lags a little
		out := s.mustCLI("list")
		if strings.Contains(out, "terminated (was ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list:\n%s", out)
		}
	}
	if _, errOut, code := s.cli("rollback", id, "--as", "rm-ada", "--reason", "too late"); code != 4 || !strings.Contains(errOut, "has ended (terminated)") || strings.Contains(errOut, "workflow execution already completed") {
		t.Fatalf("rollback of a terminated release: exit %d %q", code, errOut)
	}
}

// flood sends n unsigned decide updates, 8 at a time, and returns how many events they added
// to the release's history and how many the workflow rejected before history.
func flood(t testing.TB, c client.Client, id string, n int) (added int64, rejected int64) {
	t.Helper()
	ctx := context.Background()
	length := func() int64 {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			t.Fatal(err)
		}
		return d.GetWorkflowExecutionInfo().GetHistoryLength()
	}
	before := length()
	var wg sync.WaitGroup
	var refused atomic.Int64
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				cmd := release.Command{Actor: "U0CAROL06", Channel: release.ChannelSlack, Check: "peer-review"}
				h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: release.UpdateDecide,
					WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{release.Decide{Signal: release.SignalApprove, Command: cmd}}})
				if err == nil {
					err = h.Get(ctx, nil)
				}
				if err != nil { // rejected by the validator
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return length() - before, refused.Load()
}

// c0 is a client of the stack's server, closed with the test.
func c0(t testing.TB, s *stack) client.Client {
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// floodSignals sends n unsigned approve signals and returns the history events they added and
// how many the server refused.
func floodSignals(t testing.TB, c client.Client, id string, n int) (added, refused int64) {
	t.Helper()
	ctx := context.Background()
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	before := d.GetWorkflowExecutionInfo().GetHistoryLength()
	for range n {
		if err := c.SignalWorkflow(ctx, id, "", release.SignalApprove, release.Command{Actor: "bob", Channel: release.ChannelCLI, Check: "peer-review"}); err != nil {
			refused++
		}
	}
	time.Sleep(2 * time.Second) // the workflow tasks for the last signals
	d, err = c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	return d.GetWorkflowExecutionInfo().GetHistoryLength() - before, refused
}

// temporalCLI runs the real Temporal CLI against the stack's server and returns its output.
func temporalCLI(t *testing.T, s *stack, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--address", s.temporal.Address)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("temporal %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(out)
}

// BenchmarkForgedCommandFlood sends 10,000 unsigned decide updates to one release on the dev
// server, 8 at a time, and reports the history events they added and the time they took.
//
//	go test -run '^$' -bench ForgedCommandFlood -benchtime 1x ./starter/
func BenchmarkForgedCommandFlood(b *testing.B) {
	s := newStack(b)
	manifest, policy := s.writeRelease("1h")
	id := strings.TrimSpace(s.mustCLI("start", "-f", manifest, "--policy", policy, "--as", "rm-ada"))
	c, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const n = 10000
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		added, rejected := flood(b, c, id, n)
		b.ReportMetric(float64(added), "events-added")
		b.ReportMetric(float64(rejected), "rejected-before-history")
		b.ReportMetric(float64(time.Since(start).Microseconds())/n, "µs/forged-command")
	}
}
