package activities

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
	"github.com/shipgate/shipgate/internal/telemetry"
)

// slackChannel is a slacktest server that keeps the messages posted to it: slacktest's own
// chat.postMessage stores nothing and has no conversations.history or .replies, which the
// poster searches for idempotency keys. It follows Slack's documented behaviour where the
// poster relies on it: history is newest first and top-level only, replies start with the
// parent, metadata only with include_all_metadata.
type slackChannel struct {
	mu       sync.Mutex
	seq      int
	messages []slack.Message // oldest first, all channels
	failPost int             // refuse the next n chat.postMessage calls (rate limited)
	posts    int
}

func newSlackChannel(t *testing.T) (*slackChannel, *slack.Client) {
	t.Helper()
	sc := &slackChannel{}
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", sc.post)
		c.Handle("/conversations.history", sc.history)
		c.Handle("/conversations.replies", sc.replies)
	})
	srv.Start()
	t.Cleanup(srv.Stop)
	return sc, slack.New("xoxb-test", slack.OptionAPIURL(srv.GetAPIURL()), slack.OptionRetry(0))
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (sc *slackChannel) post(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		answer(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.posts++
	if sc.failPost > 0 {
		sc.failPost--
		answer(w, map[string]any{"ok": false, "error": "internal_error"})
		return
	}
	ch := r.Form.Get("channel")
	if !strings.HasPrefix(ch, "C") {
		answer(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	sc.seq++
	m := slack.Message{}
	m.Channel, m.Text, m.ThreadTimestamp = ch, r.Form.Get("text"), r.Form.Get("thread_ts")
	m.Timestamp = fmt.Sprintf("1795167000.%06d", sc.seq)
	if md := r.Form.Get("metadata"); md != "" {
		if err := json.Unmarshal([]byte(md), &m.Metadata); err != nil {
			answer(w, map[string]any{"ok": false, "error": "invalid_metadata"})
			return
		}
	}
	sc.messages = append(sc.messages, m)
	answer(w, map[string]any{"ok": true, "channel": ch, "ts": m.Timestamp})
}

func (sc *slackChannel) page(r *http.Request, msgs []slack.Message) map[string]any {
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	start, _ := strconv.Atoi(r.Form.Get("cursor"))
	out := []slack.Message{}
	for i := start; i < len(msgs) && len(out) < limit; i++ {
		m := msgs[i]
		if r.Form.Get("include_all_metadata") != "1" {
			m.Metadata = slack.SlackMetadata{}
		}
		out = append(out, m)
	}
	next := ""
	if start+len(out) < len(msgs) {
		next = strconv.Itoa(start + len(out))
	}
	return map[string]any{"ok": true, "messages": out, "has_more": next != "", "response_metadata": map[string]any{"next_cursor": next}}
}

func (sc *slackChannel) history(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var top []slack.Message
	for i := len(sc.messages) - 1; i >= 0; i-- {
		if m := sc.messages[i]; m.Channel == r.Form.Get("channel") && m.ThreadTimestamp == "" {
			top = append(top, m)
		}
	}
	answer(w, sc.page(r, top))
}

func (sc *slackChannel) replies(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var thread []slack.Message
	for _, m := range sc.messages {
		if m.Channel == r.Form.Get("channel") && (m.Timestamp == r.Form.Get("ts") || m.ThreadTimestamp == r.Form.Get("ts")) {
			thread = append(thread, m)
		}
	}
	if len(thread) == 0 {
		answer(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	answer(w, sc.page(r, thread))
}

// layout is the channel as people see it: each top-level message's text, with its replies.
func (sc *slackChannel) layout() []string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	var out []string
	for _, m := range sc.messages {
		if m.ThreadTimestamp != "" {
			continue
		}
		line := m.Channel + " " + m.Text
		for _, r := range sc.messages {
			if r.ThreadTimestamp == m.Timestamp {
				line += "\n  > " + r.Text
			}
		}
		out = append(out, line)
	}
	return out
}

func notice(id, kind, text string, seq int) release.Notice {
	return release.Notice{ReleaseID: id, Channel: "#releases-demo", Kind: kind, Text: text,
		At: time.Date(2026, 11, 25, 6, 0, seq, 0, time.UTC), Key: fmt.Sprintf("%s/notice/%d", id, seq)}
}

func TestNotifyPostsOneThreadPerReleaseAndNeverTwice(t *testing.T) {
	sc, api := newSlackChannel(t)
	n := &Notify{Log: zap.NewNop(), Metrics: telemetry.NewMetrics(), Slack: slackapp.NewPoster(api), Channel: "C0RELEASES",
		UIBase: "http://127.0.0.1:8233", Namespace: "default"}
	const a, b = "release/demo/1.4.0", "release/payments/2.0.0"
	steps := []struct {
		name   string
		notice release.Notice
		fail   int // chat.postMessage calls refused before this attempt
	}{
		{"first notice creates the release message", notice(a, release.NoticeStage, "development → staging", 3), 0},
		{"retry of the same notice", notice(a, release.NoticeStage, "development → staging", 3), 0},
		{"second notice", notice(a, release.NoticeWindow, "testnet soak started", 7), 0},
		{"another release", notice(b, release.NoticeGate, "G1 blocked: <lint> 3 errors & 1 warning", 2), 0},
		// The first attempt posts nothing (Slack down), the retry posts the reply once.
		{"retry after a failed attempt", notice(b, release.NoticeAbort, "aborted by rm-ada", 9), 1},
		// A notice whose own channel is an id goes there, with its own release message.
		{"notice with a channel id", release.Notice{ReleaseID: a, Channel: "C0OTHER01", Kind: release.NoticeDone, Text: "done", Key: a + "/notice/20"}, 0},
	}
	for _, s := range steps {
		sc.mu.Lock()
		sc.failPost = s.fail
		sc.mu.Unlock()
		if s.fail > 0 {
			if _, err := execute(n.Notify, s.notice); err == nil {
				t.Fatalf("%s: refused post did not fail the attempt", s.name)
			}
		}
		if _, err := execute(n.Notify, s.notice); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	want := []string{
		"C0RELEASES :package: Release `" + a + "`: shipgate posts its progress in this thread." +
			"\n  > :arrow_forward: development → staging" +
			"\n  > :hourglass_flowing_sand: testnet soak started",
		"C0RELEASES :package: Release `" + b + "`: shipgate posts its progress in this thread." +
			"\n  > :octagonal_sign: G1 blocked: &lt;lint&gt; 3 errors &amp; 1 warning" +
			"\n  > :stop_sign: aborted by rm-ada",
		"C0OTHER01 :package: Release `" + a + "`: shipgate posts its progress in this thread." +
			"\n  > :checkered_flag: done",
	}
	got := sc.layout()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("channel\n got %q\nwant %q", got, want)
	}
}

func TestNotifySlackFailuresAreErrors(t *testing.T) {
	sc, api := newSlackChannel(t)
	tests := []struct {
		name    string
		n       *Notify
		notice  release.Notice
		wantErr string
	}{
		{"no channel id anywhere", &Notify{Slack: slackapp.NewPoster(api)}, notice("release/demo/1.4.0", release.NoticeStage, "x", 1), "no channel id"},
		{"channel Slack refuses", &Notify{Slack: slackapp.NewPoster(api), Channel: "G0PRIVATE1"}, notice("release/demo/1.4.0", release.NoticeStage, "x", 1), "channel_not_found"},
		{"no key", &Notify{Slack: slackapp.NewPoster(api), Channel: "C0RELEASES"}, release.Notice{ReleaseID: "release/demo/1.4.0", Kind: release.NoticeStage}, "key are required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execute(tt.n.Notify, tt.notice)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if l := sc.layout(); len(l) != 0 {
		t.Fatalf("failed notices posted %q", l)
	}
}

func TestNotifyWithoutSlackOnlyLogs(t *testing.T) {
	m := telemetry.NewMetrics()
	n := &Notify{Log: zap.NewNop(), Metrics: m}
	if _, err := execute(n.Notify, notice("release/demo/1.4.0", release.NoticeStage, "x", 1)); err != nil {
		t.Fatal(err)
	}
}
