package slackbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/demosvc"
	"github.com/shipgate/shipgate/internal/devstack/people"
	"github.com/shipgate/shipgate/internal/devstack/slackws"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/policies"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/searchattr"
	"github.com/shipgate/shipgate/internal/slackapp"
	"github.com/shipgate/shipgate/workflows"
)

const (
	signingSecret = "e2e-signing-secret-0123456789abcdef"
	e2eChannel    = "C0E2ERELEASES"
)

// e2e is the real Temporal dev server, an in-process worker with the real workflow and
// activities (notices and signoff messages posted to a slacktest workspace), the real demo
// service, and the worker's Slack side (NewWorker) serving /slack/interactions.
type e2e struct {
	c      client.Client
	in     release.Input
	pol    *release.Policy
	keys   *people.Keyring
	ws     *slackws.Workspace
	sl     *Worker
	slack  slackws.Delivery
	report []byte        // the regression-suite report, which the test changes before a recheck
	store  evstore.Store // the evidence store the worker reads
	seq    int
}

// startE2E starts everything; editPolicy, when given, changes the demo policy's YAML first.
// Starting has a budget of its own: on a loaded 2-core machine the dev server alone took most of
// the three minutes the test once shared with it (TestSlackSignoffsEndToEnd failed in startE2E
// with "context deadline exceeded" in one run of six while three builds ran beside it).
func startE2E(t testing.TB, editPolicy func(string) string) *e2e {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	temporal, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = temporal.Stop() })
	c, err := client.DialContext(ctx, client.Options{HostPort: temporal.Address, Namespace: "default", Logger: nopLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := searchattr.Ensure(ctx, c, "default"); err != nil {
		t.Fatal(err)
	}
	demo, err := demosvc.New(demosvc.Config{Service: "demo", InitialVersion: "1.3.0", Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dctx, stopDemo := context.WithCancel(context.Background())
	go func() { _ = demo.Serve(dctx, ln) }()
	t.Cleanup(stopDemo)

	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	demoDir := filepath.Join(root, "deployments/examples/demo")
	// The worker's policy directory: the demo policy (edited), its traffic to this test's demo
	// service, the test people's keys and the Slack-bridge key enrolled.
	b, err := os.ReadFile(filepath.Join(root, "deployments/policies/demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "http://127.0.0.1:8090/v1/traffic", "http://"+ln.Addr().String()+"/v1/traffic", 1)
	if editPolicy != nil {
		text = editPolicy(text)
	}
	src, policyDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "demo.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &e2e{ws: slackws.Start(), keys: &people.Keyring{}}
	if err := e.keys.RenderPolicies(src, policyDir); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(policyDir, "demo.yaml")
	t.Cleanup(e.ws.Close)
	env := slackapp.Env{BotToken: "xoxb-e2e", SigningSecret: signingSecret, Channel: e2eChannel, APIURL: e.ws.APIURL()}
	if e.sl, err = NewWorker(c, env, policy, e.keys.MustSigner(people.BridgeID), zap.NewNop()); err != nil {
		t.Fatal(err)
	}

	w := worker.New(c, release.TaskQueue, worker.Options{})
	workflows.Register(w)
	activities.RegisterLanes(w, &activities.Lanes{Client: c})
	activities.RegisterPolicies(w, &activities.Policies{Store: &policies.Store{Dir: policyDir, AllowDev: true}})
	activities.RegisterLine(w, &activities.Line{Client: c})
	httpClient := &http.Client{Timeout: 10 * time.Second}
	e.store = evstore.Dir{Root: t.TempDir()}
	activities.Register(w, &activities.Gates{Store: e.store, HTTP: httpClient, Client: c}, &activities.Traffic{HTTP: httpClient},
		&activities.Notify{Log: zap.NewNop(), Slack: e.sl.Poster, Channel: env.Channel, UIBase: "http://127.0.0.1:8233", Namespace: "default"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	mux := http.NewServeMux()
	mux.Handle(InteractionsPath, e.sl.Handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.slack = slackws.Delivery{Endpoint: srv.URL + InteractionsPath, SigningSecret: signingSecret}

	in, pol, err := evstore.Load(context.Background(), e.store, filepath.Join(demoDir, "release.yaml"), policy, checks.Validate)
	if err != nil {
		t.Fatal(err)
	}
	// One G3 report, so that the test can bring new evidence with a recheck.
	if e.report, err = os.ReadFile(filepath.Join(demoDir, "evidence", "regression-junit.xml")); err != nil {
		t.Fatal(err)
	}
	e.c, e.in, e.pol = c, in, pol
	return e
}

// release is in driven by the test people.
func (e *e2e) release(in release.Input) devstack.Release {
	return devstack.Release{In: in, Policy: e.pol, Keys: e.keys}
}

// signoffMessage waits for the workflow's message for check in the channel until ok says it
// is the one wanted.
func (e *e2e) signoffMessage(t testing.TB, ctx context.Context, check string, ok func(slack.Message) bool) slack.Message {
	t.Helper()
	for {
		for _, m := range e.ws.Messages(e2eChannel) {
			key, _ := m.Metadata.EventPayload[slackapp.MetadataKeyField].(string)
			if m.ThreadTimestamp == "" && strings.HasSuffix(key, "/signoff/"+check) && ok(m) {
				return m
			}
		}
		if ctx.Err() != nil {
			// what there is instead, and where the release is, to say why
			var last string
			for _, m := range e.ws.Messages(e2eChannel) {
				if key, _ := m.Metadata.EventPayload[slackapp.MetadataKeyField].(string); m.ThreadTimestamp == "" && strings.HasSuffix(key, "/signoff/"+check) {
					last = text(m)
				}
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := control.Status(sctx, e.c, e.in.Manifest.ID())
			t.Fatalf("no signoff message for %s as wanted; channel has %d messages; the last for it:\n%s\nstatus (%v): %s/%s waiting for %v, gates %+v", check,
				len(e.ws.Messages(e2eChannel)), last, err, st.Stage, st.State, st.WaitingFor, st.Gates)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text is everything a message shows, as one string.
func text(m slack.Message) string {
	b, _ := json.Marshal(m.Blocks)
	// as Slack reads it: <@U…> mentions, not the JSON escapes the block types marshal to
	return m.Text + strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
}

func hasButtons(m slack.Message) bool {
	_, _, ok := slackws.Button(m, slackapp.ActionApprove)
	return ok
}

func fingerprintOf(t *testing.T, m slack.Message) string {
	t.Helper()
	btn, _, ok := slackws.Button(m, slackapp.ActionApprove)
	if !ok {
		t.Fatalf("message %s has no Approve button", m.Timestamp)
	}
	v, err := slackapp.ParseActionValue("button", btn.Value)
	if err != nil {
		t.Fatal(err)
	}
	return v.Fingerprint
}

// click presses a button as user and waits until the handler has answered the clicker; it
// returns the ack's status and what the clicker was told.
func (e *e2e) click(t *testing.T, ctx context.Context, user string, m slack.Message, action string) (int, string) {
	t.Helper()
	e.seq++
	name := fmt.Sprintf("%s-%d", user, e.seq)
	code, err := e.slack.Click(ctx, user, e2eChannel, m, action, e.ws.ResponseURL(name))
	if err != nil {
		t.Fatal(err)
	}
	e.sl.Handler.Wait()
	return code, e.reply(name)
}

func (e *e2e) reply(name string) string {
	for _, r := range e.ws.Replies() {
		if strings.HasSuffix(r.Path, "/"+name) {
			return r.Type + ": " + r.Text
		}
	}
	return ""
}

func (e *e2e) status(t *testing.T, ctx context.Context) release.Status {
	t.Helper()
	st, err := control.Status(ctx, e.c, e.in.Manifest.ID())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *e2e) waitStatus(t *testing.T, ctx context.Context, what string, ok func(release.Status) bool) release.Status {
	t.Helper()
	for {
		st := e.status(t, ctx)
		if ok(st) {
			return st
		}
		if ctx.Err() != nil {
			t.Fatalf("release never reached %s: %s/%s waiting for %v", what, st.Stage, st.State, st.WaitingFor)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func slackAudit(st release.Status) []release.AuditEntry {
	var out []release.AuditEntry
	for _, a := range st.Audit {
		if a.Channel == release.ChannelSlack {
			out = append(out, a)
		}
	}
	return out
}

// TestSlackSignoffsEndToEnd: the workflow posts its signoff requests to Slack, signed clicks
// decide them, and every decision updates the same message in place.
func TestSlackSignoffsEndToEnd(t *testing.T) {
	e := startE2E(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := e.release(e.in).Start(ctx, e.c, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		t.Fatal(err)
	}
	request := e.signoffMessage(t, ctx, "peer-review", hasButtons)
	st := e.status(t, ctx)
	if st.Gates[0].State != release.GateWaiting {
		t.Fatalf("the request was posted while G1 is %s", st.Gates[0].State)
	}
	fp := fingerprintOf(t, request)
	if want := release.GateFingerprint(st.Gates[0], "peer-review"); fp != want {
		t.Fatalf("button fingerprint %s, the workflow's %s", fp, want)
	}
	for _, want := range []string{"Signoff needed: demo 1.4.0", "peer-review", "<@U0BOB0005>", "<@U0CAROL06>", "Approvals still needed* 2 of 2", "unit-coverage", "Open in Temporal UI"} {
		if !strings.Contains(text(request), want) {
			t.Errorf("request lacks %q:\n%s", want, text(request))
		}
	}
	if strings.Contains(text(request), "<@U0ALICE04>") {
		t.Error("the author is offered as an approver")
	}
	same := func(m slack.Message) slack.Message {
		t.Helper()
		if m.Timestamp != request.Timestamp {
			t.Fatalf("message ts %s, want the request's %s: updates go in place", m.Timestamp, request.Timestamp)
		}
		return m
	}

	t.Run("refused deliveries send nothing", func(t *testing.T) {
		before := len(e.status(t, ctx).Audit)
		btn, _, _ := slackws.Button(request, slackapp.ActionApprove)
		payload := func(user, action string) string {
			p, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": user},
				"trigger_id": "1.2.3", "response_url": e.ws.ResponseURL("refused"),
				"actions": []map[string]any{{"type": "button", "action_id": action, "block_id": slackapp.BlockSignoff,
					"value": btn.Value, "action_ts": fmt.Sprintf("%d.000001", time.Now().Unix())}}})
			return url.Values{"payload": {string(p)}}.Encode()
		}
		tests := []struct {
			name   string
			at     time.Time
			secret string
			body   string
			want   int
		}{
			{"forged signature", time.Now(), "not-the-secret", payload("U0BOB0005", slackapp.ActionApprove), http.StatusUnauthorized},
			{"stale timestamp", time.Now().Add(-6 * time.Minute), signingSecret, payload("U0BOB0005", slackapp.ActionApprove), http.StatusUnauthorized},
			{"oversized body", time.Now(), signingSecret, payload("U0BOB0005", slackapp.ActionApprove) + "&pad=" + strings.Repeat("x", 70<<10), http.StatusRequestEntityTooLarge},
			{"unknown action", time.Now(), signingSecret, payload("U0BOB0005", "shipgate_delete_release"), http.StatusBadRequest},
			{"user in no group", time.Now(), signingSecret, payload("U0MALLORY", slackapp.ActionApprove), http.StatusOK},
		}
		for _, tt := range tests {
			code, err := e.slack.Post(ctx, tt.at, tt.secret, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			e.sl.Handler.Wait()
			if code != tt.want {
				t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
			}
		}
		if r := e.reply("refused"); !strings.Contains(r, "not in any approver group") {
			t.Errorf("the unknown user was told %q", r)
		}
		st := e.status(t, ctx)
		if n := len(st.Audit); n != before {
			t.Fatalf("audit grew from %d to %d entries: %+v", before, n, st.Audit[before:])
		}
		if _, cs, _ := find(st, "peer-review"); len(cs.Approvals) != 0 {
			t.Fatalf("approvals %+v", cs.Approvals)
		}
	})

	t.Run("the author is refused by the workflow and the message says so", func(t *testing.T) {
		code, told := e.click(t, ctx, "U0ALICE04", request, slackapp.ActionApprove)
		if code != http.StatusOK || !strings.Contains(told, "author") {
			t.Fatalf("status %d, alice told %q", code, told)
		}
		audit := slackAudit(e.status(t, ctx))
		if len(audit) != 1 || audit[0].Actor != "alice" || audit[0].Accepted {
			t.Fatalf("slack audit %+v", audit)
		}
		m := same(e.signoffMessage(t, ctx, "peer-review", func(m slack.Message) bool { return strings.Contains(text(m), "Not counted") }))
		if !hasButtons(m) || !strings.Contains(text(m), "<@U0ALICE04>") {
			t.Fatalf("updated message:\n%s", text(m))
		}
	})

	t.Run("a replayed approval counts once and the message shows it", func(t *testing.T) {
		btn, _, _ := slackws.Button(request, slackapp.ActionApprove)
		p, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0BOB0005"},
			"trigger_id": "1.2.3", "response_url": e.ws.ResponseURL("bob"),
			"actions": []map[string]any{{"type": "button", "action_id": slackapp.ActionApprove, "block_id": slackapp.BlockSignoff,
				"value": btn.Value, "action_ts": fmt.Sprintf("%d.424242", time.Now().Unix())}}})
		body, at := url.Values{"payload": {string(p)}}.Encode(), time.Now()
		for range 2 { // Slack retries a delivery it thinks failed: the same body again
			if code, err := e.slack.Post(ctx, at, signingSecret, body); err != nil || code != http.StatusOK {
				t.Fatalf("delivery: %d %v", code, err)
			}
			e.sl.Handler.Wait()
		}
		st := e.status(t, ctx)
		_, cs, _ := find(st, "peer-review")
		if len(cs.Approvals) != 1 || cs.Approvals[0].Actor != "bob" || cs.Approvals[0].Channel != release.ChannelSlack {
			t.Fatalf("approvals %+v", cs.Approvals)
		}
		if audit := slackAudit(st); len(audit) != 2 || !audit[1].Accepted {
			t.Fatalf("slack audit %+v", audit)
		}
		if told := e.reply("bob"); told != "ephemeral: Your approval of peer-review was recorded. peer-review: 1 of 2 approvals." {
			t.Fatalf("bob told %q", told)
		}
		m := same(e.signoffMessage(t, ctx, "peer-review", func(m slack.Message) bool { return strings.Contains(text(m), "Approved by") }))
		if !hasButtons(m) || !strings.Contains(text(m), "<@U0BOB0005> <!date^") || !strings.Contains(text(m), "1 of 2") {
			t.Fatalf("updated message:\n%s", text(m))
		}
	})

	t.Run("the last approval advances the release and closes the message", func(t *testing.T) {
		if code, told := e.click(t, ctx, "U0CAROL06", request, slackapp.ActionApprove); code != http.StatusOK || !strings.Contains(told, "recorded") {
			t.Fatalf("status %d, carol told %q", code, told)
		}
		e.waitStatus(t, ctx, "G1 passed", func(st release.Status) bool {
			return st.Gates[0].State == release.GatePassed && st.Stage != release.StageDevelopment
		})
		m := same(e.signoffMessage(t, ctx, "peer-review", func(m slack.Message) bool { return strings.Contains(text(m), "Outcome") }))
		if hasButtons(m) || !strings.Contains(text(m), "Signoff approved") || !strings.Contains(text(m), "<@U0CAROL06>") {
			t.Fatalf("final message:\n%s", text(m))
		}
		if n := countKey(e.ws.Messages(e2eChannel), "/signoff/peer-review"); n != 1 {
			t.Fatalf("%d messages for peer-review, want 1", n)
		}
	})

	qa := e.signoffMessage(t, ctx, "qa-validation", hasButtons)
	t.Run("a reject with a reason blocks the gate and the message shows it", func(t *testing.T) {
		if code, _ := e.click(t, ctx, "U0GRACE10", qa, slackapp.ActionReject); code != http.StatusOK {
			t.Fatalf("reject click: %d", code)
		}
		views := e.ws.OpenedViews()
		if len(views) != 1 || views[0].View.CallbackID != slackapp.RejectCallbackID {
			t.Fatalf("dialogs opened: %+v", views)
		}
		// an empty reason is refused inside the dialog
		code, err := e.slack.Submit(ctx, "U0GRACE10", views[0], map[string]map[string]string{slackapp.RejectReasonBlock: {slackapp.RejectReasonAction: " "}})
		if err != nil || code != http.StatusOK {
			t.Fatal(code, err)
		}
		code, err = e.slack.Submit(ctx, "U0GRACE10", views[0], map[string]map[string]string{slackapp.RejectReasonBlock: {slackapp.RejectReasonAction: "checkout fails on Safari"}})
		if err != nil || code != http.StatusOK {
			t.Fatal(code, err)
		}
		e.sl.Handler.Wait()
		st := e.status(t, ctx)
		audit := slackAudit(st)
		last := audit[len(audit)-1]
		if last.Action != release.SignalReject || last.Actor != "grace" || !last.Accepted || last.Reason != "checkout fails on Safari" {
			t.Fatalf("last slack audit entry %+v", last)
		}
		var rejects int
		for _, a := range audit {
			if a.Action == release.SignalReject {
				rejects++
			}
		}
		if rejects != 1 {
			t.Fatalf("%d rejections audited, want 1 (the empty reason never left the dialog)", rejects)
		}
		if gs, cs, _ := find(st, "qa-validation"); cs.State != release.CheckRejected || gs.State != release.GateBlocked {
			t.Fatalf("gate %s, check %s", gs.State, cs.State)
		}
		m := e.signoffMessage(t, ctx, "qa-validation", func(m slack.Message) bool { return strings.Contains(text(m), "Rejected by") })
		if m.Timestamp != qa.Timestamp || hasButtons(m) || !strings.Contains(text(m), "checkout fails on Safari") || !strings.Contains(text(m), "<@U0GRACE10>") {
			t.Fatalf("rejected message:\n%s", text(m))
		}
	})

	t.Run("a click on outdated evidence is refused and the message refreshed", func(t *testing.T) {
		rerun := append(append([]byte(nil), e.report...), "<!-- rerun on the fixed build -->\n"...)
		blob := evstore.NewBlob("regression-junit.xml", rerun)
		if err := e.store.Put(ctx, blob, rerun); err != nil {
			t.Fatal(err)
		}
		if ent, err := e.release(e.in).Send(ctx, e.c, release.SignalRecheck, release.Command{Actor: "rm-ada", Channel: release.ChannelCLI, Gate: "G3",
			Evidence: map[string][]release.Blob{"regression-suite": {blob}}}); err != nil || !ent.Accepted || !strings.Contains(ent.Reason, "with new evidence for regression-suite") {
			t.Fatalf("recheck: %+v %v", ent, err)
		}
		// a recheck re-runs the automated checks only: grace's rejection stands until she, or a
		// release manager who is not the author, clears it
		if ent, err := e.release(e.in).Send(ctx, e.c, release.SignalClearRejection, release.Command{Actor: "grace", Channel: release.ChannelCLI, Check: "qa-validation", Reason: "fixed on the new build"}); err != nil || !ent.Accepted {
			t.Fatalf("clear-rejection: %+v %v", ent, err)
		}
		refreshed := e.signoffMessage(t, ctx, "qa-validation", func(m slack.Message) bool {
			return hasButtons(m) && fingerprintOf(t, m) != fingerprintOf(t, qa)
		})
		if refreshed.Timestamp != qa.Timestamp {
			t.Fatalf("refreshed at %s, want in place at %s", refreshed.Timestamp, qa.Timestamp)
		}
		// grace still has the message as it was before the recheck
		code, told := e.click(t, ctx, "U0GRACE10", qa, slackapp.ActionApprove)
		if code != http.StatusOK || !strings.Contains(told, "out of date") {
			t.Fatalf("status %d, grace told %q", code, told)
		}
		st := e.status(t, ctx)
		if _, cs, _ := find(st, "qa-validation"); len(cs.Approvals) != 0 {
			t.Fatalf("a stale click was counted: %+v", cs.Approvals)
		}
		audit := slackAudit(st)
		if last := audit[len(audit)-1]; last.Accepted || !strings.Contains(last.Reason, "evidence changed") {
			t.Fatalf("last slack audit entry %+v", last)
		}
		m := e.signoffMessage(t, ctx, "qa-validation", func(m slack.Message) bool {
			return hasButtons(m) && strings.Contains(text(m), "evidence changed")
		})
		if m.Timestamp != qa.Timestamp || fingerprintOf(t, m) != fingerprintOf(t, refreshed) {
			t.Fatalf("message after the stale click:\n%s", text(m))
		}
		// on the refreshed message the same click counts
		if code, told := e.click(t, ctx, "U0GRACE10", m, slackapp.ActionApprove); code != http.StatusOK || !strings.Contains(told, "recorded") {
			t.Fatalf("status %d, grace told %q", code, told)
		}
		e.waitStatus(t, ctx, "G3 passed", func(st release.Status) bool { return st.Gates[1].State == release.GatePassed })
	})

	t.Run("abort withdraws the open requests", func(t *testing.T) {
		open := e.signoffMessage(t, ctx, "product-signoff", hasButtons)
		if ent, err := e.release(e.in).Send(ctx, e.c, release.SignalAbort, release.Command{Actor: "rm-ada", Channel: release.ChannelCLI, Reason: "demo over"}); err != nil || !ent.Accepted {
			t.Fatalf("abort: %+v %v", ent, err)
		}
		m := e.signoffMessage(t, ctx, "product-signoff", func(m slack.Message) bool { return strings.Contains(text(m), "Withdrawn") })
		if m.Timestamp != open.Timestamp || hasButtons(m) || !strings.Contains(text(m), "demo over") {
			t.Fatalf("withdrawn message:\n%s", text(m))
		}
	})
}

func countKey(msgs []slack.Message, suffix string) int {
	n := 0
	for _, m := range msgs {
		if key, _ := m.Metadata.EventPayload[slackapp.MetadataKeyField].(string); m.ThreadTimestamp == "" && strings.HasSuffix(key, suffix) {
			n++
		}
	}
	return n
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
