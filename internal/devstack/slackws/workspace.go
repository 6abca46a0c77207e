// Package slackws stands in for Slack in tests and in the embedded stack: a slack-go slacktest
// server that keeps a workspace's messages, and the other half of Slack, which delivers signed
// button clicks and modal submissions to an app's interaction endpoint (click.go).
package slackws

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Workspace extends slacktest with the Web API methods shipgate uses that slacktest v0.35.0
// lacks or does not keep state for: its chat.postMessage answers but neither stores the
// message nor its metadata (and stamps ts with whole seconds, so two posts in one second
// collide), and it has no chat.update, conversations.history, conversations.replies or
// views.open. The methods below follow Slack's documented behaviour where it matters to us:
// history is newest first, metadata is returned only with include_all_metadata, replies
// include the parent first, an update keeps the message's ts. It also takes the ephemeral
// replies an app sends to a click's response_url, at /response/.
type Workspace struct {
	srv      *slacktest.Server
	mu       sync.Mutex
	seq      int
	channels map[string][]slack.Message // oldest first
	views    []OpenedView
	calls    map[string]int
	replies  []Reply
}

// OpenedView is a modal an app opened with views.open.
type OpenedView struct {
	ID        string                 `json:"-"`
	TriggerID string                 `json:"trigger_id"`
	View      slack.ModalViewRequest `json:"view"`
}

// Reply is an ephemeral reply posted to a click's response_url.
type Reply struct {
	Path string // the response_url's path, which the clicker chose
	Text string
	Type string // ephemeral or in_channel
}

// Start runs a workspace on a free loopback port; Close stops it.
func Start() *Workspace {
	ws := &Workspace{channels: map[string][]slack.Message{}, calls: map[string]int{}}
	ws.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		// slacktest keeps the first handler registered for a path, so these replace its
		// stateless chat.postMessage.
		c.Handle("/chat.postMessage", ws.post)
		c.Handle("/chat.update", ws.update)
		c.Handle("/conversations.history", ws.history)
		c.Handle("/conversations.replies", ws.threadReplies)
		c.Handle("/views.open", ws.openView)
		c.Handle("/response/", ws.reply)
	})
	ws.srv.Start()
	return ws
}

// Close stops the server.
func (ws *Workspace) Close() { ws.srv.Stop() }

// APIURL is the Web API base URL to give slack.OptionAPIURL (SHIPGATE_SLACK_API_URL).
func (ws *Workspace) APIURL() string { return ws.srv.GetAPIURL() }

// ResponseURL is a response_url for a click; replies to it are kept under name.
func (ws *Workspace) ResponseURL(name string) string {
	return strings.TrimSuffix(ws.srv.GetAPIURL(), "/") + "/response/" + name
}

// Client is a Web API client of the workspace.
func (ws *Workspace) Client(token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(ws.APIURL()))
}

// Count is how often a Web API method was called.
func (ws *Workspace) Count(method string) int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.calls[method]
}

// Messages are the channel's messages, thread replies included, oldest first.
func (ws *Workspace) Messages(channel string) []slack.Message {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]slack.Message(nil), ws.channels[channel]...)
}

// OpenedViews are the modals opened so far.
func (ws *Workspace) OpenedViews() []OpenedView {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]OpenedView(nil), ws.views...)
}

// Replies are the ephemeral replies received so far.
func (ws *Workspace) Replies() []Reply {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]Reply(nil), ws.replies...)
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

func (ws *Workspace) post(w http.ResponseWriter, r *http.Request) {
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

func (ws *Workspace) update(w http.ResponseWriter, r *http.Request) {
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
		m.Edited = &slack.Edited{Timestamp: fmt.Sprintf("1795167000.%06d", ws.seq+1)}
		ws.seq++
		writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": ts, "text": m.Text})
		return
	}
	slackError(w, "message_not_found")
}

func (ws *Workspace) page(r *http.Request, msgs []slack.Message) map[string]any {
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

func (ws *Workspace) history(w http.ResponseWriter, r *http.Request) {
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

func (ws *Workspace) threadReplies(w http.ResponseWriter, r *http.Request) {
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

func (ws *Workspace) openView(w http.ResponseWriter, r *http.Request) {
	var req OpenedView
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.TriggerID == "" {
		slackError(w, "invalid_trigger_id")
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.calls["views.open"]++
	req.ID = fmt.Sprintf("V%04d", len(ws.views)+1)
	ws.views = append(ws.views, req)
	writeJSON(w, map[string]any{"ok": true, "view": map[string]any{
		"id": req.ID, "callback_id": req.View.CallbackID,
		"private_metadata": req.View.PrivateMetadata,
	}})
}

// reply takes an app's answer to a response_url, as Slack shows it to the clicker.
func (ws *Workspace) reply(w http.ResponseWriter, r *http.Request) {
	var m slack.WebhookMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.calls["response_url"]++
	ws.replies = append(ws.replies, Reply{Path: r.URL.Path, Text: m.Text, Type: m.ResponseType})
	w.WriteHeader(http.StatusOK)
}
