package slackapp

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestPosterPostOrUpdateIsIdempotent(t *testing.T) {
	ws, api := newWorkspace(t)
	p := NewPoster(api)
	ctx := context.Background()
	const ch, key = "C0RELEASES", "release/payments/1.4.0#G1/security-review"

	// Other traffic in the channel, before and between our posts.
	if _, _, err := api.PostMessageContext(ctx, ch); err != nil {
		t.Fatal(err)
	}
	first := RenderSignoff(baseSignoff())
	ts1, err := p.PostOrUpdate(ctx, ch, key, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PostOrUpdate(ctx, ch, "release/payments/1.4.0#G1/architecture-review", first); err != nil {
		t.Fatal(err)
	}

	// A retried activity posts the same key again: the message is updated.
	s := baseSignoff()
	s.Approvals = []Approval{{SlackUserID: "U01ALICE", At: t0}}
	ts2, err := p.PostOrUpdate(ctx, ch, key, RenderSignoff(s))
	if err != nil {
		t.Fatal(err)
	}
	if ts2 != ts1 {
		t.Fatalf("second PostOrUpdate returned ts %s, want the first message's %s", ts2, ts1)
	}
	msgs := ws.Messages(ch)
	if len(msgs) != 3 {
		t.Fatalf("channel has %d messages, want 3 (other, ours, other key)", len(msgs))
	}
	ours := msgs[1]
	if ours.Timestamp != ts1 || !strings.Contains(ours.Text, "Signoff needed") {
		t.Fatalf("unexpected message %s %q", ours.Timestamp, ours.Text)
	}
	if got := ours.Metadata.EventPayload[MetadataKeyField]; got != key || ours.Metadata.EventType != MetadataEventType {
		t.Fatalf("metadata %+v lost the key after update", ours.Metadata)
	}
	if n := len(ours.Blocks.BlockSet); n != len(RenderSignoff(s).Blocks) {
		t.Errorf("updated message has %d blocks, want %d (the approvals section)", n, len(RenderSignoff(s).Blocks))
	}
	if n := ws.Count("chat.update"); n != 1 {
		t.Errorf("chat.update called %d times, want 1", n)
	}
}

func TestPosterSearchesOnlyRecentHistory(t *testing.T) {
	ws, api := newWorkspace(t)
	p := NewPoster(api)
	p.HistoryLimit = 3
	ctx := context.Background()
	ts, err := p.PostOrUpdate(ctx, "C1", "k", Message{Text: "old"})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := api.PostMessageContext(ctx, "C1"); err != nil {
			t.Fatal(err)
		}
	}
	// Out of the searched window, so a new message is posted; callers
	// that update days later use Update with the recorded ts instead.
	ts2, err := p.PostOrUpdate(ctx, "C1", "k", Message{Text: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if ts2 == ts {
		t.Fatal("found a message beyond HistoryLimit")
	}
	if err := p.Update(ctx, "C1", ts, "k", Message{Text: "updated"}); err != nil {
		t.Fatal(err)
	}
	if got := ws.Messages("C1")[0].Text; got != "updated" {
		t.Errorf("Update by ts: text %q", got)
	}
}

func TestPosterPagesThroughHistory(t *testing.T) {
	_, api := newWorkspace(t)
	p := NewPoster(api)
	p.HistoryLimit = 450 // three pages of at most 200
	ctx := context.Background()
	ts, err := p.PostOrUpdate(ctx, "C1", "k", Message{Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for range 300 {
		if _, _, err := api.PostMessageContext(ctx, "C1"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := p.FindByKey(ctx, "C1", "", "k")
	if err != nil || got != ts {
		t.Fatalf("FindByKey = %q, %v; want %q", got, err, ts)
	}
}

func TestPosterPostThread(t *testing.T) {
	ws, api := newWorkspace(t)
	p := NewPoster(api)
	ctx := context.Background()
	parent, err := p.PostOrUpdate(ctx, "C1", "release/x/1", RenderSignoff(baseSignoff()))
	if err != nil {
		t.Fatal(err)
	}
	n := RenderWindow(Window{ReleaseID: "release/x/1", Name: "soak", Phase: WindowStarted, Deadline: t0.Add(time.Hour)})
	a, err := p.PostThread(ctx, "C1", parent, "release/x/1#soak-started", n)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.PostThread(ctx, "C1", parent, "release/x/1#soak-started", n)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("retried thread post returned %s, want %s", b, a)
	}
	if _, err := p.PostThread(ctx, "C1", parent, "", n); err != nil { // no key: always posts
		t.Fatal(err)
	}
	msgs := ws.Messages("C1")
	if len(msgs) != 3 {
		t.Fatalf("channel has %d messages, want parent + 2 replies", len(msgs))
	}
	for _, m := range msgs[1:] {
		if m.ThreadTimestamp != parent {
			t.Errorf("reply %s has thread_ts %q, want %q", m.Timestamp, m.ThreadTimestamp, parent)
		}
	}
}

func TestPosterErrors(t *testing.T) {
	_, api := newWorkspace(t)
	p := NewPoster(api)
	ctx := context.Background()
	if _, err := p.PostOrUpdate(ctx, "", "k", Message{}); err == nil {
		t.Error("empty channel accepted")
	}
	if _, err := p.PostOrUpdate(ctx, "C1", "", Message{}); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := p.PostThread(ctx, "C1", "", "k", Message{}); err == nil {
		t.Error("empty thread ts accepted")
	}
	err := p.Update(ctx, "C1", "123.456", "k", Message{Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "message_not_found") || !strings.Contains(err.Error(), "C1/123.456") {
		t.Errorf("Update of a missing message: %v", err)
	}
}
