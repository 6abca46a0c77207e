package slackbridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/searchattr"
	"github.com/shipgate/shipgate/internal/slackapp"
	"github.com/shipgate/shipgate/workflows"
)

const signingSecret = "e2e-signing-secret-0123456789abcdef"

// replies records the ephemeral answers the handler sends to response URLs, and plays the
// Web API's views.open for the reject dialog.
type replies struct {
	mu    sync.Mutex
	texts []string
	views []slack.ModalViewRequest
}

func (r *replies) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/api/views.open" {
		var v struct {
			View slack.ModalViewRequest `json:"view"`
		}
		if err := json.NewDecoder(req.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.views = append(r.views, v.View)
		n := len(r.views)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"view":{"id":"V%04d"}}`, n)
		return
	}
	var m slack.WebhookMessage
	if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.texts = append(r.texts, m.ResponseType+": "+m.Text)
	r.mu.Unlock()
}

func (r *replies) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.texts...)
}

// e2e is the real Temporal dev server, an in-process worker with the real workflow and
// activities, the real demo service, and the Slack interaction handler backed by the Decider.
type e2e struct {
	c       client.Client
	in      release.Input
	slack   *httptest.Server
	handler *slackapp.Handler
	replies *replies
	replyTo string
	seq     int
}

func startE2E(t *testing.T, ctx context.Context) *e2e {
	t.Helper()
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

	w := worker.New(c, release.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.ReleaseWorkflow, workflows.RegisterOptions())
	httpClient := &http.Client{Timeout: 10 * time.Second}
	activities.Register(w, &activities.Gates{HTTP: httpClient}, &activities.Traffic{HTTP: httpClient}, &activities.Notify{Log: zap.NewNop()})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	demoDir := filepath.Join(root, "deployments/examples/demo")
	in, err := release.Load(filepath.Join(demoDir, "release.yaml"), filepath.Join(demoDir, "policy.yaml"), checks.Validate)
	if err != nil {
		t.Fatal(err)
	}
	in.Policy.Traffic.URL = "http://" + ln.Addr().String() + "/v1/traffic"
	in.PolicyDigest = in.Policy.Digest()
	in.StartedBy = "rm-ada"

	ids, err := LoadIdentities(filepath.Join(demoDir, "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{c: c, in: in, replies: &replies{}}
	replySrv := httptest.NewServer(e.replies)
	t.Cleanup(replySrv.Close)
	e.replyTo = replySrv.URL
	e.handler, err = slackapp.NewHandler(slackapp.HandlerConfig{
		SigningSecret: signingSecret, Decider: NewDecider(c), Identities: ids,
		Views: slack.New("xoxb-unused", slack.OptionAPIURL(replySrv.URL+"/api/")), AsyncTimeout: 40 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.slack = httptest.NewServer(e.handler)
	t.Cleanup(e.slack.Close)
	return e
}

// click posts a block_actions payload as Slack sends it for an Approve button, signed with
// key, and waits until the handler has answered the clicker.
func (e *e2e) click(t *testing.T, key, user, value string) int {
	return e.press(t, key, user, slackapp.ActionApprove, value)
}

func (e *e2e) press(t *testing.T, key, user, actionID, value string) int {
	t.Helper()
	e.seq++
	ts := fmt.Sprintf("%d.%06d", time.Now().Unix(), e.seq)
	return e.deliver(t, key, map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user},
		"trigger_id":   "1.2.3",
		"response_url": e.replyTo + "/response/" + ts,
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": slackapp.BlockSignoff,
			"value": value, "action_ts": ts,
		}},
	})
}

// submit posts the reject dialog's view_submission with a reason.
func (e *e2e) submit(t *testing.T, user string, view slack.ModalViewRequest, reason string) int {
	t.Helper()
	e.seq++
	return e.deliver(t, signingSecret, map[string]any{
		"type": "view_submission",
		"user": map[string]any{"id": user},
		"view": map[string]any{
			"id": fmt.Sprintf("V%04d", e.seq), "type": "modal", "callback_id": view.CallbackID,
			"private_metadata": view.PrivateMetadata,
			"state": map[string]any{"values": map[string]any{
				slackapp.RejectReasonBlock: map[string]any{slackapp.RejectReasonAction: map[string]any{"type": "plain_text_input", "value": reason}},
			}},
		},
	})
}

// deliver signs a payload with key as Slack does and waits until the handler is done with it.
func (e *e2e) deliver(t *testing.T, key string, p map[string]any) int {
	t.Helper()
	payload, _ := json.Marshal(p)
	body := url.Values{"payload": {string(payload)}}.Encode()
	req, err := http.NewRequest(http.MethodPost, e.slack.URL+"/slack/interactions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "v0:%s:%s", now, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", now)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	e.handler.Wait()
	return resp.StatusCode
}

func (e *e2e) status(t *testing.T, ctx context.Context) release.Status {
	t.Helper()
	st, err := control.Status(ctx, e.c, e.in.Manifest.ID())
	if err != nil {
		t.Fatal(err)
	}
	return st
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

func TestSlackApprovalReachesTheRealWorkflow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := startE2E(t, ctx)
	id := e.in.Manifest.ID()
	if _, err := control.Start(ctx, e.c, e.in, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		t.Fatal(err)
	}

	// Wait until G1's automated checks have read their evidence: the fingerprint covers it.
	var st release.Status
	for {
		st = e.status(t, ctx)
		if len(st.Gates) > 0 && st.Gates[0].ID == "G1" && st.Gates[0].State == release.GateWaiting {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("G1 never waited for signoffs: %+v", st.Gates)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d := NewDecider(e.c)
	fp, err := d.CurrentFingerprint(ctx, id, "peer-review")
	if err != nil || fp == "" {
		t.Fatalf("CurrentFingerprint = %q, %v", fp, err)
	}
	// What a signoff message rendered now carries on its buttons is what the bridge checks.
	s, _ := Signoff(st, "peer-review")
	msg := slackapp.RenderSignoff(s)
	value := buttonValue(t, msg)
	if v, _ := slackapp.ParseActionValue("button", value); v.Fingerprint != fp || v.ReleaseID != id {
		t.Fatalf("rendered button %+v, CurrentFingerprint %s", v, fp)
	}

	t.Run("forged signature sends nothing", func(t *testing.T) {
		before := len(e.status(t, ctx).Audit)
		if code := e.click(t, "not-the-secret", "U0BOB0005", value); code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", code)
		}
		if n := len(e.status(t, ctx).Audit); n != before {
			t.Fatalf("audit grew from %d to %d entries after a forged click", before, n)
		}
		if r := e.replies.all(); len(r) != 0 {
			t.Fatalf("forged click answered %q", r)
		}
	})

	t.Run("reviewer approves", func(t *testing.T) {
		if code := e.click(t, signingSecret, "U0BOB0005", value); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		st := e.status(t, ctx)
		_, cs, _ := find(st, "peer-review")
		if len(cs.Approvals) != 1 || cs.Approvals[0].Actor != "bob" || cs.Approvals[0].Channel != release.ChannelSlack {
			t.Fatalf("approvals %+v, want bob by slack", cs.Approvals)
		}
		audit := slackAudit(st)
		if len(audit) != 1 || audit[0].Action != release.SignalApprove || audit[0].Actor != "bob" || !audit[0].Accepted {
			t.Fatalf("slack audit %+v", audit)
		}
		r := e.replies.all()
		if len(r) != 1 || r[0] != "ephemeral: Your approval of peer-review was recorded. peer-review: 1 of 2 approvals." {
			t.Fatalf("bob was told %q", r)
		}
	})

	t.Run("author is refused", func(t *testing.T) {
		if code := e.click(t, signingSecret, "U0ALICE04", value); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		st := e.status(t, ctx)
		audit := slackAudit(st)
		if len(audit) != 2 || audit[1].Actor != "alice" || audit[1].Accepted || !strings.Contains(audit[1].Reason, "author") {
			t.Fatalf("slack audit %+v, want alice's approval refused as the author", audit)
		}
		if _, cs, _ := find(st, "peer-review"); len(cs.Approvals) != 1 {
			t.Fatalf("approvals %+v after the author's click", cs.Approvals)
		}
		r := e.replies.all()
		if len(r) != 2 || !strings.HasPrefix(r[1], "ephemeral: Not recorded: ") || !strings.Contains(r[1], "author") {
			t.Fatalf("alice was told %q", r)
		}
	})

	t.Run("stale button is refused by the workflow", func(t *testing.T) {
		// The bridge cannot match an unknown fingerprint to the release's snapshot, so it
		// sends one the workflow refuses, and the attempt is on record.
		out, err := d.Decide(ctx, slackapp.Decision{ReleaseID: id, Check: "peer-review", Fingerprint: "0123456789abcdef0123456789abcdef",
			Actor: "carol", Action: slackapp.ActionNameApprove})
		if err != nil {
			t.Fatal(err)
		}
		if out.Accepted || !strings.Contains(out.Message, "evidence changed") {
			t.Fatalf("outcome %+v", out)
		}
		audit := slackAudit(e.status(t, ctx))
		if last := audit[len(audit)-1]; last.Actor != "carol" || last.Accepted {
			t.Fatalf("last slack audit entry %+v", last)
		}
	})

	t.Run("reviewer rejects through the dialog", func(t *testing.T) {
		if code := e.press(t, signingSecret, "U0CAROL06", slackapp.ActionReject, value); code != http.StatusOK {
			t.Fatalf("reject click: status %d", code)
		}
		e.replies.mu.Lock()
		views := append([]slack.ModalViewRequest(nil), e.replies.views...)
		e.replies.mu.Unlock()
		if len(views) != 1 {
			t.Fatalf("%d dialogs opened, want 1", len(views))
		}
		if code := e.submit(t, "U0CAROL06", views[0], "coverage report is from the wrong commit"); code != http.StatusOK {
			t.Fatalf("submission: status %d", code)
		}
		st := e.status(t, ctx)
		audit := slackAudit(st)
		last := audit[len(audit)-1]
		if last.Action != release.SignalReject || last.Actor != "carol" || !last.Accepted || last.Reason != "coverage report is from the wrong commit" {
			t.Fatalf("last slack audit entry %+v", last)
		}
		if gs, cs, _ := find(st, "peer-review"); cs.State != release.CheckRejected || gs.State != release.GateBlocked {
			t.Fatalf("after the rejection gate %s, check %s", gs.State, cs.State)
		}
		r := e.replies.all()
		if !strings.Contains(r[len(r)-1], "Your rejection of peer-review was recorded") {
			t.Fatalf("carol was told %q", r)
		}
		// The gate is blocked now, but a decision is still taken: the button stays valid.
		if fp2, err := d.CurrentFingerprint(ctx, id, "peer-review"); err != nil || fp2 != fp {
			t.Fatalf("CurrentFingerprint after the rejection %q, %v; want %s", fp2, err, fp)
		}
	})
}

func buttonValue(t *testing.T, m slackapp.Message) string {
	t.Helper()
	for _, b := range m.Blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, el := range a.Elements.ElementSet {
				if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.ActionID == slackapp.ActionApprove {
					return btn.Value
				}
			}
		}
	}
	t.Fatal("rendered signoff has no Approve button")
	return ""
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
