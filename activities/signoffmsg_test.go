package activities

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/devstack/slackws"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
)

func signoffMessage(result string, approvals int) release.SignoffMessage {
	m := release.SignoffMessage{Key: "release/demo/1.4.0/run1/signoff/peer-review", ReleaseID: "release/demo/1.4.0",
		Service: "demo", Version: "1.4.0", Channel: "#releases-demo", Gate: "G1", GateName: "Code quality", Check: "peer-review",
		Required: 2, Result: result, Fingerprint: "0011223344556677",
		Approvers: []release.Person{{ID: "bob", Slack: "U0BOB0005"}, {ID: "carol", Slack: "U0CAROL06"}}}
	for i := range approvals {
		m.Approvals = append(m.Approvals, release.SignoffDecision{Person: m.Approvers[i], Channel: "slack",
			At: time.Date(2026, 11, 25, 6, i, 0, 0, time.UTC)})
	}
	return m
}

func postSignoff(t *testing.T, n *Notify, m release.SignoffMessage) release.SignoffPosted {
	t.Helper()
	v, err := execute(n.SignoffMessage, m)
	if err != nil {
		t.Fatal(err)
	}
	var out release.SignoffPosted
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignoffMessagePostsOnceAndUpdatesInPlace(t *testing.T) {
	ws := slackws.Start()
	defer ws.Close()
	n := &Notify{Log: zap.NewNop(), Slack: slackapp.NewPoster(ws.Client("xoxb-test")), Channel: "C0RELEASES"}

	first := postSignoff(t, n, signoffMessage("", 0))
	if first.TS == "" || first.Channel != "C0RELEASES" {
		t.Fatalf("first post %+v", first)
	}
	// The workflow did not see the first answer (worker crash): the retry carries no ts and
	// finds the message by its key.
	if again := postSignoff(t, n, signoffMessage("", 0)); again.TS != first.TS {
		t.Fatalf("retry answered %+v, want the first post's ts %s", again, first.TS)
	}
	upd := signoffMessage("", 1)
	upd.TS = first.TS
	postSignoff(t, n, upd)
	final := signoffMessage(release.SignoffApproved, 2)
	final.TS = first.TS
	postSignoff(t, n, final)

	msgs := ws.Messages("C0RELEASES")
	if len(msgs) != 1 || ws.Count("chat.postMessage") != 1 {
		t.Fatalf("%d messages, %d posts; want 1 message updated in place", len(msgs), ws.Count("chat.postMessage"))
	}
	m := msgs[0]
	if _, _, ok := slackws.Button(m, slackapp.ActionApprove); ok {
		t.Error("the approved message still has buttons")
	}
	if key, _ := m.Metadata.EventPayload[slackapp.MetadataKeyField].(string); key != final.Key {
		t.Errorf("metadata key %q after the updates, want %q", key, final.Key)
	}
	if !strings.Contains(m.Text, "Signoff approved: demo 1.4.0") {
		t.Errorf("text %q", m.Text)
	}
}

func TestSignoffMessageWithoutSlackOnlyLogs(t *testing.T) {
	n := &Notify{Log: zap.NewNop()}
	if out := postSignoff(t, n, signoffMessage("", 0)); out != (release.SignoffPosted{}) {
		t.Fatalf("without Slack: %+v", out)
	}
}

func TestSignoffMessageNeedsChannelAndKey(t *testing.T) {
	ws := slackws.Start()
	defer ws.Close()
	poster := slackapp.NewPoster(ws.Client("xoxb-test"))
	noKey := signoffMessage("", 0)
	noKey.Key = ""
	for _, tt := range []struct {
		name    string
		n       *Notify
		m       release.SignoffMessage
		wantErr string
	}{
		{"no channel id", &Notify{Slack: poster}, signoffMessage("", 0), "no channel id"},
		{"no key", &Notify{Slack: poster, Channel: "C0RELEASES"}, noKey, "no idempotency key"},
	} {
		if _, err := execute(tt.n.SignoffMessage, tt.m); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if n := len(ws.Messages("C0RELEASES")); n != 0 {
		t.Fatalf("%d messages posted", n)
	}
}
