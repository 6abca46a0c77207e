package slackapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// workspace extends slack-go's slacktest server with the Web API methods
// this package uses that slacktest v0.35.0 lacks or does not keep state
// for: its chat.postMessage answers but neither stores the message nor
// its metadata (and stamps ts with whole seconds, so two posts in one
// second collide), and it has no chat.update, conversations.history,
// conversations.replies or views.open. The methods below follow Slack's
// documented behaviour where it matters to us: history is newest first,
// metadata is returned only with include_all_metadata, replies include
// the parent first.
type workspace struct {
	mu       sync.Mutex
	seq      int
	channels map[string][]slack.Message // oldest first
	views    []openedView
	calls    map[string]int
}

type openedView struct {
	TriggerID string                 `json:"trigger_id"`
	View      slack.ModalViewRequest `json:"view"`
}

// newWorkspace starts a slacktest server with the workspace's handlers
// and returns a client for it.
func newWorkspace(t testing.TB) (*workspace, *slack.Client) {
	t.Helper()
	ws := &workspace{channels: map[string][]slack.Message{}, calls: map[string]int{}}
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		// slacktest keeps the first handler registered for a path, so
		// these replace its stateless chat.postMessage.
		c.Handle("/chat.postMessage", ws.post)
		c.Handle("/chat.update", ws.update)
		c.Handle("/conversations.history", ws.history)
		c.Handle("/conversations.replies", ws.replies)
		c.Handle("/views.open", ws.openView)
	})
	srv.Start()
	t.Cleanup(srv.Stop)
	return ws, slack.New("xoxb-test", slack.OptionAPIURL(srv.GetAPIURL()))
}

func (ws *workspace) count(method string) int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.calls[method]
}

func (ws *workspace) messages(channel string) []slack.Message {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]slack.Message(nil), ws.channels[channel]...)
}

func (ws *workspace) openedViews() []openedView {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]openedView(nil), ws.views...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func slackError(w http.ResponseWriter, code string) {
	writeJSON(w, map[string]any{"ok": false, "error": code})
}

// fill decodes the text, blocks and metadata form fields into m.
func fill(r *http.Request, m *slack.Message) error {
	m.Text = r.Form.Get("text")
	if b := r.Form.Get("blocks"); b != "" {
		if err := json.Unmarshal([]byte(b), &m.Blocks); err != nil {
			return fmt.Errorf("blocks: %w", err)
		}
	}
	if md := r.Form.Get("metadata"); md != "" {
		if err := json.Unmarshal([]byte(md), &m.Metadata); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	return nil
}

func (ws *workspace) post(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		slackError(w, "invalid_form_data")
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.calls["chat.postMessage"]++
	ch := r.Form.Get("channel")
	if ch == "" {
		slackError(w, "channel_not_found")
		return
	}
	ws.seq++
	m := slack.Message{}
	m.Type, m.Channel = "message", ch
	m.Timestamp = "1795167000." + fmt.Sprintf("%06d", ws.seq)
	m.ThreadTimestamp = r.Form.Get("thread_ts")
	if err := fill(r, &m); err != nil {
		slackError(w, "invalid_arguments")
		return
	}
	ws.channels[ch] = append(ws.channels[ch], m)
	writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": m.Timestamp, "message": m})
}

func (ws *workspace) update(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		slackError(w, "invalid_form_data")
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.calls["chat.update"]++
	ch, ts := r.Form.Get("channel"), r.Form.Get("ts")
	for i := range ws.channels[ch] {
		m := &ws.channels[ch][i]
		if m.Timestamp != ts {
			continue
		}
		keep := m.Metadata
		if err := fill(r, m); err != nil {
			slackError(w, "invalid_arguments")
			return
		}
		if r.Form.Get("metadata") == "" {
			m.Metadata = keep
		}
		writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "text": m.Text})
		return
	}
	slackError(w, "message_not_found")
}

func (ws *workspace) page(r *http.Request, msgs []slack.Message) map[string]any {
	limit, _ := strconv.Atoi(r.Form.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	start, _ := strconv.Atoi(r.Form.Get("cursor"))
	withMeta := r.Form.Get("include_all_metadata") == "1"
	out := []slack.Message{}
	for i := start; i < len(msgs) && len(out) < limit; i++ {
		m := msgs[i]
		if !withMeta {
			m.Metadata = slack.SlackMetadata{}
		}
		out = append(out, m)
	}
	next := ""
	if start+len(out) < len(msgs) {
		next = strconv.Itoa(start + len(out))
	}
	return map[string]any{"ok": true, "messages": out, "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}}
}

func (ws *workspace) history(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		slackError(w, "invalid_form_data")
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.calls["conversations.history"]++
	var top []slack.Message
	all := ws.channels[r.Form.Get("channel")]
	for i := len(all) - 1; i >= 0; i-- { // newest first
		if all[i].ThreadTimestamp == "" {
			top = append(top, all[i])
		}
	}
	writeJSON(w, ws.page(r, top))
}

func (ws *workspace) replies(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		slackError(w, "invalid_form_data")
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.calls["conversations.replies"]++
	ts := r.Form.Get("ts")
	var thread []slack.Message
	for _, m := range ws.channels[r.Form.Get("channel")] {
		if m.Timestamp == ts || m.ThreadTimestamp == ts {
			thread = append(thread, m)
		}
	}
	if len(thread) == 0 {
		slackError(w, "thread_not_found")
		return
	}
	writeJSON(w, ws.page(r, thread))
}

func (ws *workspace) openView(w http.ResponseWriter, r *http.Request) {
	var req openedView
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.TriggerID == "" {
		slackError(w, "invalid_trigger_id")
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.calls["views.open"]++
	ws.views = append(ws.views, req)
	writeJSON(w, map[string]any{"ok": true, "view": map[string]any{
		"id": fmt.Sprintf("V%04d", len(ws.views)), "callback_id": req.View.CallbackID,
		"private_metadata": req.View.PrivateMetadata,
	}})
}
