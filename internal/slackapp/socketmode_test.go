package slackapp

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/slack-go/slack/socketmode"
)

type recordingAcker struct {
	mu   sync.Mutex
	acks []socketmode.Response
}

func (a *recordingAcker) Ack(req socketmode.Request, payload ...any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := socketmode.Response{EnvelopeID: req.EnvelopeID}
	if len(payload) > 0 {
		r.Payload = payload[0]
	}
	a.acks = append(a.acks, r)
	return nil
}

// interactiveEvent turns an HTTP form body (as built by the fixture) into
// the event socketmode.Client emits for the same interaction.
func interactiveEvent(t *testing.T, formBody, envelope string) socketmode.Event {
	t.Helper()
	v, err := url.ParseQuery(formBody)
	if err != nil {
		t.Fatal(err)
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(v.Get("payload")), &cb); err != nil {
		t.Fatal(err)
	}
	return socketmode.Event{
		Type:    socketmode.EventTypeInteractive,
		Data:    cb,
		Request: &socketmode.Request{Type: socketmode.RequestTypeInteractive, EnvelopeID: envelope, Payload: json.RawMessage(v.Get("payload"))},
	}
}

func TestHandleSocketEvent(t *testing.T) {
	f := newFixture(t)
	modal := RejectModal(ActionValue{ReleaseID: "release/payments/1.4.0", Check: "security-review", Fingerprint: f.fp})
	tests := []struct {
		name        string
		evt         socketmode.Event
		wantErr     string
		wantAck     bool
		wantPayload string // substring of the JSON ack payload
		decisions   int
	}{
		{name: "approve click", evt: interactiveEvent(t, f.click("U01ALICE", ActionApprove, f.value()), "e1"), wantAck: true, decisions: 1},
		{name: "replayed envelope", evt: interactiveEvent(t, f.click("U01ALICE", ActionApprove, f.value()), "e2"), wantAck: true, decisions: 1},
		{name: "unknown action", evt: interactiveEvent(t, f.click("U01ALICE", "nope", f.value()), "e3"), wantAck: true, wantErr: "unknown action_id"},
		{name: "empty reject reason", evt: interactiveEvent(t, submission("U02BOB", "V9", modal, ""), "e4"), wantAck: true, wantPayload: `"response_action":"errors"`},
		{name: "reject with reason", evt: interactiveEvent(t, submission("U02BOB", "V9", modal, "not reviewed"), "e5"), wantAck: true, decisions: 1},
		{name: "wrong data type", evt: socketmode.Event{Type: socketmode.EventTypeInteractive, Data: "x", Request: &socketmode.Request{EnvelopeID: "e6"}}, wantAck: true, wantErr: "not slack.InteractionCallback"},
		{name: "events api is acked", evt: socketmode.Event{Type: socketmode.EventTypeEventsAPI, Request: &socketmode.Request{EnvelopeID: "e7"}}, wantAck: true},
		{name: "connected carries nothing to ack", evt: socketmode.Event{Type: socketmode.EventTypeConnected}},
		{name: "interactive without envelope", evt: socketmode.Event{Type: socketmode.EventTypeInteractive}, wantErr: "without a request envelope"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "replayed envelope" {
				tt.evt = tests[0].evt // Slack redelivering the same envelope
			}
			before := len(f.decider.got())
			ack := &recordingAcker{}
			err := f.h.HandleSocketEvent(tt.evt, ack)
			f.h.Wait()
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
			if got := len(ack.acks); got != map[bool]int{true: 1, false: 0}[tt.wantAck] {
				t.Fatalf("%d acks, want ack=%v", got, tt.wantAck)
			}
			if tt.wantAck && ack.acks[0].EnvelopeID != tt.evt.Request.EnvelopeID {
				t.Errorf("acked envelope %q", ack.acks[0].EnvelopeID)
			}
			if tt.wantPayload != "" {
				b, _ := json.Marshal(ack.acks[0].Payload)
				if !strings.Contains(string(b), tt.wantPayload) {
					t.Errorf("ack payload %s, want %s", b, tt.wantPayload)
				}
			}
			want := tt.decisions
			if tt.name == "replayed envelope" {
				want = 0
			}
			if got := len(f.decider.got()) - before; got != want {
				t.Errorf("case %d: %d new decisions, want %d", i, got, want)
			}
		})
	}
}

// TestSocketModeWithSlacktest runs a real socketmode.Client against
// slacktest's WebSocket: slacktest answers apps.connections.open with its
// /ws URL, forwards what we push with SendToWebsocket, and hands what the
// client writes (our ack) to SeenFeed.
func TestSocketModeWithSlacktest(t *testing.T) {
	f := newFixture(t)
	srv := slacktest.NewTestServer()
	srv.Start()
	defer srv.Stop()
	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.GetAPIURL()), slack.OptionAppLevelToken("xapp-test"))
	client := socketmode.New(api)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- RunSocketMode(ctx, client, f.h) }()

	v, _ := url.ParseQuery(f.click("U01ALICE", ActionApprove, f.value()))
	envelope, _ := json.Marshal(map[string]any{
		"type": "interactive", "envelope_id": "env-1", "accepts_response_payload": true,
		"payload": json.RawMessage(v.Get("payload")),
	})
	// The WebSocket may not be up yet; slacktest queues until it is.
	srv.SendToWebsocket(string(envelope))

	select {
	case ack := <-srv.SeenFeed:
		if !strings.Contains(ack, `"envelope_id":"env-1"`) {
			t.Fatalf("slack received %s, want the ack of env-1", ack)
		}
	case <-ctx.Done():
		t.Fatal("no ack reached slacktest")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(f.decider.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunSocketMode: %v", err)
	}
	got := f.decider.got()
	if len(got) != 1 || got[0].Actor != "alice@example.com" || got[0].Action != ActionNameApprove {
		t.Fatalf("decisions %+v", got)
	}
}
