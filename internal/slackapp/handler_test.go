package slackapp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/shipgate/shipgate/internal/devstack/slackws"
)

const secret = "8f742231b10e8888abcd99yyyzzz85a5"

// recordingDecider stands in for the Temporal-backed Decider: it knows
// one fingerprint per release/check and records what it is asked.
type recordingDecider struct {
	mu           sync.Mutex
	fingerprints map[string]string
	decisions    []Decision
	queries      int
	outcome      Outcome
	decideErr    error
	queryErr     error
}

func (d *recordingDecider) Decide(_ context.Context, dec Decision) (Outcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.decisions = append(d.decisions, dec)
	return d.outcome, d.decideErr
}

func (d *recordingDecider) CurrentFingerprint(_ context.Context, releaseID, check string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queries++
	return d.fingerprints[releaseID+"|"+check], d.queryErr
}

func (d *recordingDecider) got() []Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Decision(nil), d.decisions...)
}

// responseURLs records the ephemeral replies sent to response_url.
type responseURLs struct {
	*httptest.Server
	mu      sync.Mutex
	replies []slack.WebhookMessage
}

func newResponseURLs(t testing.TB) *responseURLs {
	r := &responseURLs{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m slack.WebhookMessage
		if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.mu.Lock()
		r.replies = append(r.replies, m)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *responseURLs) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.replies {
		out = append(out, m.ResponseType+": "+m.Text)
	}
	return out
}

type fixture struct {
	h       *Handler
	srv     *httptest.Server
	decider *recordingDecider
	ws      *slackws.Workspace
	replies *responseURLs
	fp      string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{replies: newResponseURLs(t)}
	var api *slack.Client
	f.ws, api = newWorkspace(t)
	f.fp = baseSignoff().Fingerprint
	f.decider = &recordingDecider{
		fingerprints: map[string]string{"release/payments/1.4.0|security-review": f.fp},
		outcome:      Outcome{Accepted: true, Message: "Approval recorded; 1 more needed."},
	}
	ids, err := NewIdentities(map[string]string{"U01ALICE": "alice@example.com", "U02BOB": "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	f.h, err = NewHandler(HandlerConfig{
		SigningSecret: secret,
		Decider:       f.decider,
		Identities:    ids,
		Views:         api,
		AsyncTimeout:  5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.h)
	t.Cleanup(f.srv.Close)
	return f
}

var actionSeq atomic.Int64

// click is a block_actions payload as Slack sends it for our buttons.
func (f *fixture) click(user, actionID, value string) string {
	ts := fmt.Sprintf("1795167000.%06d", actionSeq.Add(1))
	p := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user, "username": "someone"},
		"trigger_id":   "13345224609.738474920.8088930838d88f008e0",
		"response_url": f.replies.URL + "/actions/T1/" + ts,
		"container":    map[string]any{"type": "message", "message_ts": "1795167000.000001", "channel_id": "C0RELEASES"},
		"channel":      map[string]any{"id": "C0RELEASES"},
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": BlockSignoff,
			"value": value, "action_ts": ts,
		}},
	}
	return form(p)
}

func (f *fixture) value() string {
	return ActionValue{ReleaseID: "release/payments/1.4.0", Check: "security-review", Fingerprint: f.fp}.Encode()
}

// submission is a view_submission payload for a modal we opened.
func submission(user, viewID string, view slack.ModalViewRequest, reason string) string {
	p := map[string]any{
		"type": "view_submission",
		"user": map[string]any{"id": user},
		"view": map[string]any{
			"id": viewID, "type": "modal", "callback_id": view.CallbackID,
			"private_metadata": view.PrivateMetadata, "hash": "156772938.1827394",
			"state": map[string]any{"values": map[string]any{
				RejectReasonBlock: map[string]any{RejectReasonAction: map[string]any{"type": "plain_text_input", "value": reason}},
			}},
		},
	}
	return form(p)
}

func form(payload any) string {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return url.Values{"payload": {string(b)}}.Encode()
}

func sign(req *http.Request, key string, at time.Time, body string) {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
}

// send posts body signed with key at time at, and returns status and body.
func (f *fixture) send(t testing.TB, key string, at time.Time, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/slack/interactions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sign(req, key, at, body)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	f.h.Wait()
	return resp.StatusCode, string(b)
}

func TestSignedApproveClick(t *testing.T) {
	f := newFixture(t)
	status, _ := f.send(t, secret, time.Now(), f.click("U01ALICE", ActionApprove, f.value()))
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	got := f.decider.got()
	if len(got) != 1 {
		t.Fatalf("Decide called %d times, want 1", len(got))
	}
	d := got[0]
	want := Decision{
		ReleaseID: "release/payments/1.4.0", Check: "security-review", Fingerprint: f.fp,
		SlackUserID: "U01ALICE", Actor: "alice@example.com", Action: ActionNameApprove,
		ResponseURL: d.ResponseURL, TriggerID: "13345224609.738474920.8088930838d88f008e0",
	}
	if d != want || !strings.HasPrefix(d.ResponseURL, f.replies.URL) {
		t.Fatalf("decision\n got %+v\nwant %+v", d, want)
	}
	if r := f.replies.texts(); len(r) != 1 || r[0] != "ephemeral: Approval recorded; 1 more needed." {
		t.Errorf("clicker was told %q", r)
	}
}

func TestRefusedDeliveries(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		at         time.Duration // offset from now
		body       func(f *fixture) string
		method     string
		wantStatus int
		wantReply  string // substring of the ephemeral reply, if one is expected
	}{
		{name: "forged signature", key: "not-the-secret", body: func(f *fixture) string { return f.click("U01ALICE", ActionApprove, f.value()) }, wantStatus: 401},
		{name: "stale timestamp", key: secret, at: -6 * time.Minute, body: func(f *fixture) string { return f.click("U01ALICE", ActionApprove, f.value()) }, wantStatus: 401},
		{name: "timestamp from the future", key: secret, at: 6 * time.Minute, body: func(f *fixture) string { return f.click("U01ALICE", ActionApprove, f.value()) }, wantStatus: 401},
		{name: "oversized body", key: secret, body: func(f *fixture) string {
			return f.click("U01ALICE", ActionApprove, f.value()) + "&pad=" + strings.Repeat("x", 70<<10)
		}, wantStatus: 413},
		{name: "unknown action", key: secret, body: func(f *fixture) string { return f.click("U01ALICE", "shipgate_delete_prod", f.value()) }, wantStatus: 400},
		{name: "tampered button value", key: secret, body: func(f *fixture) string { return f.click("U01ALICE", ActionApprove, `{"r":"release/payments/1.4.0"}`) }, wantStatus: 400},
		{name: "not a form", key: secret, body: func(f *fixture) string { return "%zz" }, wantStatus: 400},
		{name: "no payload", key: secret, body: func(f *fixture) string { return "token=x" }, wantStatus: 400},
		{name: "unsupported interaction", key: secret, body: func(f *fixture) string { return form(map[string]any{"type": "shortcut"}) }, wantStatus: 400},
		{name: "GET", key: secret, method: http.MethodGet, body: func(f *fixture) string { return "" }, wantStatus: 405},
		{name: "unmapped user", key: secret, body: func(f *fixture) string { return f.click("U09MALLORY", ActionApprove, f.value()) }, wantStatus: 200, wantReply: "not in any approver group"},
		{name: "unmapped user rejecting", key: secret, body: func(f *fixture) string { return f.click("U09MALLORY", ActionReject, f.value()) }, wantStatus: 200, wantReply: "not in any approver group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var status int
			if tt.method == http.MethodGet {
				resp, err := f.srv.Client().Get(f.srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				status = resp.StatusCode
			} else {
				status, _ = f.send(t, tt.key, time.Now().Add(tt.at), tt.body(f))
			}
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			if n := len(f.decider.got()); n != 0 || f.decider.queries != 0 {
				t.Errorf("refused delivery reached the Decider: %d decisions, %d queries", n, f.decider.queries)
			}
			if n := f.ws.Count("views.open"); n != 0 {
				t.Errorf("refused delivery opened %d modals", n)
			}
			replies := f.replies.texts()
			if tt.wantReply == "" && len(replies) != 0 {
				t.Errorf("unexpected replies %q", replies)
			}
			if tt.wantReply != "" && (len(replies) != 1 || !strings.Contains(replies[0], tt.wantReply)) {
				t.Errorf("replies %q, want one containing %q", replies, tt.wantReply)
			}
		})
	}
}

func TestMissingSignatureHeaders(t *testing.T) {
	f := newFixture(t)
	resp, err := f.srv.Client().Post(f.srv.URL, "application/x-www-form-urlencoded", strings.NewReader(f.click("U01ALICE", ActionApprove, f.value())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.h.Wait()
	if resp.StatusCode != 401 || len(f.decider.got()) != 0 {
		t.Fatalf("unsigned request: status %d, %d decisions", resp.StatusCode, len(f.decider.got()))
	}
}

func TestReplayedDeliveryIsIgnored(t *testing.T) {
	f := newFixture(t)
	body := f.click("U01ALICE", ActionApprove, f.value())
	for i, at := range []time.Time{time.Now(), time.Now(), time.Now().Add(-time.Minute)} {
		// The same signed request again, and a re-signed delivery of the
		// same click (same action_ts): acked, never decided twice.
		if status, _ := f.send(t, secret, at, body); status != 200 {
			t.Fatalf("delivery %d: status %d", i, status)
		}
	}
	if n := len(f.decider.got()); n != 1 {
		t.Fatalf("Decide called %d times for one click, want 1", n)
	}
	// A new click by the same user (new action_ts) is a new decision.
	f.send(t, secret, time.Now(), f.click("U01ALICE", ActionApprove, f.value()))
	if n := len(f.decider.got()); n != 2 {
		t.Fatalf("second click: Decide called %d times in all, want 2", n)
	}
}

func TestFingerprintMismatch(t *testing.T) {
	tests := []struct {
		name      string
		current   string
		refused   bool // what the workflow answers
		decisions int
		wantReply string
	}{
		// delivered, so the workflow records the refusal and refreshes the message
		{"evidence changed", "0123456789abcdef", true, 1, "out of date"},
		{"check no longer pending", "", true, 1, "no longer waits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.decider.fingerprints["release/payments/1.4.0|security-review"] = tt.current
			if tt.refused {
				f.decider.outcome = Outcome{Accepted: false, Message: "Not recorded: the evidence changed since this was shown (recheck); look again."}
			}
			if status, _ := f.send(t, secret, time.Now(), f.click("U02BOB", ActionApprove, f.value())); status != 200 {
				t.Fatalf("status %d", status)
			}
			got := f.decider.got()
			if len(got) != tt.decisions {
				t.Fatalf("stale click sent %d decisions, want %d", len(got), tt.decisions)
			}
			if len(got) == 1 && got[0].Fingerprint != f.fp {
				t.Errorf("decision carries fingerprint %q, want the clicked %q for the workflow to judge", got[0].Fingerprint, f.fp)
			}
			if r := f.replies.texts(); len(r) != 1 || !strings.Contains(r[0], tt.wantReply) || !strings.HasPrefix(r[0], "ephemeral:") {
				t.Errorf("clicker told %q, want an ephemeral reply containing %q", r, tt.wantReply)
			}
		})
	}
}

func TestDeciderFailuresAreReported(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(d *recordingDecider)
		decisions int
		wantReply string
	}{
		// the fingerprint is asked for only to word a refusal; without it the workflow's words stand
		{"query fails", func(d *recordingDecider) {
			d.queryErr = errors.New("temporal unavailable")
			d.outcome = Outcome{Accepted: false, Message: "Not recorded: gate G2 has already passed."}
		}, 1, "gate G2 has already passed"},
		{"signal fails", func(d *recordingDecider) { d.decideErr = errors.New("workflow completed") }, 1, "could not be delivered (workflow completed)"},
		{"workflow refuses", func(d *recordingDecider) {
			d.outcome = Outcome{Accepted: false, Message: "You authored this release; someone else must approve."}
		}, 1, "You authored this release"},
		{"no message", func(d *recordingDecider) { d.outcome = Outcome{Accepted: false} }, 1, "was not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.setup(f.decider)
			f.send(t, secret, time.Now(), f.click("U01ALICE", ActionApprove, f.value()))
			if n := len(f.decider.got()); n != tt.decisions {
				t.Errorf("%d decisions, want %d", n, tt.decisions)
			}
			if r := f.replies.texts(); len(r) != 1 || !strings.Contains(r[0], tt.wantReply) {
				t.Errorf("clicker told %q, want %q", r, tt.wantReply)
			}
		})
	}
}

func TestRejectModalFlow(t *testing.T) {
	f := newFixture(t)
	clickBody := f.click("U02BOB", ActionReject, f.value())
	if status, _ := f.send(t, secret, time.Now(), clickBody); status != 200 {
		t.Fatalf("reject click: status %d", status)
	}
	if n := len(f.decider.got()); n != 0 {
		t.Fatalf("reject click decided (%d) instead of opening the modal", n)
	}
	views := f.ws.OpenedViews()
	if len(views) != 1 {
		t.Fatalf("views.open called %d times, want 1", len(views))
	}
	if views[0].TriggerID != "13345224609.738474920.8088930838d88f008e0" || views[0].View.CallbackID != RejectCallbackID {
		t.Fatalf("opened %+v", views[0])
	}
	modal := views[0].View
	meta, err := ParseActionValue("metadata", modal.PrivateMetadata)
	if err != nil || meta.ReleaseID != "release/payments/1.4.0" || meta.Fingerprint != f.fp || !strings.HasPrefix(meta.ResponseURL, f.replies.URL) {
		t.Fatalf("modal metadata %+v, %v", meta, err)
	}

	// An empty reason is refused inside the modal, with nothing decided.
	status, body := f.send(t, secret, time.Now(), submission("U02BOB", "V0001", modal, "  \n "))
	var resp slack.ViewSubmissionResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil || status != 200 {
		t.Fatalf("empty reason: status %d body %q: %v", status, body, err)
	}
	if resp.ResponseAction != slack.RAErrors || resp.Errors[RejectReasonBlock] == "" {
		t.Fatalf("empty reason answered %+v, want a validation error on block %q", resp, RejectReasonBlock)
	}
	if n := len(f.decider.got()); n != 0 {
		t.Fatalf("empty reason decided %d times", n)
	}

	// The approver corrects the same view and submits again.
	status, body = f.send(t, secret, time.Now(), submission("U02BOB", "V0001", modal, "audit finding H-2 is still open"))
	if status != 200 || strings.TrimSpace(body) != "" {
		t.Fatalf("submission: status %d body %q, want an empty 200 that closes the modal", status, body)
	}
	got := f.decider.got()
	if len(got) != 1 {
		t.Fatalf("Decide called %d times, want 1", len(got))
	}
	d := got[0]
	if d.Action != ActionNameReject || d.Reason != "audit finding H-2 is still open" || d.Actor != "bob@example.com" ||
		d.ReleaseID != "release/payments/1.4.0" || d.Check != "security-review" || d.Fingerprint != f.fp || d.ResponseURL != meta.ResponseURL {
		t.Fatalf("decision %+v", d)
	}
	if r := f.replies.texts(); len(r) != 1 {
		t.Errorf("clicker told %q, want one reply", r)
	}

	// A replayed submission is not decided again.
	f.send(t, secret, time.Now(), submission("U02BOB", "V0001", modal, "audit finding H-2 is still open"))
	if n := len(f.decider.got()); n != 1 {
		t.Fatalf("replayed submission: %d decisions, want 1", n)
	}
}

func TestRejectSubmissionRefusals(t *testing.T) {
	f := newFixture(t)
	modal := RejectModal(ActionValue{ReleaseID: "release/payments/1.4.0", Check: "security-review", Fingerprint: f.fp})
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantError  string
	}{
		{"unmapped user", submission("U09MALLORY", "V1", modal, "no"), 200, "not in any approver group"},
		{"reason too long", submission("U02BOB", "V2", modal, strings.Repeat("x", maxReasonLen+1)), 200, "under 2000"},
		{"unknown callback", submission("U02BOB", "V3", slack.ModalViewRequest{CallbackID: "other", PrivateMetadata: modal.PrivateMetadata}, "x"), 400, ""},
		{"tampered metadata", submission("U02BOB", "V4", slack.ModalViewRequest{CallbackID: RejectCallbackID, PrivateMetadata: `{"r":"x","c":"y","f":"z","admin":true}`}, "x"), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := f.send(t, secret, time.Now(), tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tt.wantStatus)
			}
			if tt.wantError != "" && !strings.Contains(body, tt.wantError) {
				t.Errorf("body %q, want a modal error containing %q", body, tt.wantError)
			}
		})
	}
	if n := len(f.decider.got()); n != 0 {
		t.Fatalf("refused submissions decided %d times", n)
	}
}

func TestModalOpenFailureIsReported(t *testing.T) {
	f := newFixture(t)
	body := f.click("U02BOB", ActionReject, f.value())
	// Slack refuses views.open without a trigger id.
	body = strings.Replace(body, "13345224609.738474920.8088930838d88f008e0", "", 1)
	f.send(t, secret, time.Now(), body)
	if r := f.replies.texts(); len(r) != 1 || !strings.Contains(r[0], "Could not open the reject dialog") {
		t.Fatalf("clicker told %q", r)
	}
}

func TestNewHandlerValidates(t *testing.T) {
	if _, err := NewHandler(HandlerConfig{}); err == nil || !strings.Contains(err.Error(), "Decider") || !strings.Contains(err.Error(), "Views") {
		t.Fatalf("empty config: %v", err)
	}
	h, err := NewHandler(HandlerConfig{Decider: &recordingDecider{}, Views: slack.New("x")})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("")))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("no signing secret: status %d, want 503", rec.Code)
	}
}
