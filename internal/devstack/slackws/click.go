package slackws

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
)

// Delivery posts interactions to an app's Request URL the way Slack does: a form with one
// "payload" field, signed with the app's signing secret (v0 scheme).
type Delivery struct {
	Endpoint      string // e.g. http://127.0.0.1:9464/slack/interactions
	SigningSecret string
	HTTP          *http.Client // default http.DefaultClient
}

var actionSeq atomic.Int64

// Button finds the button with actionID in a message's blocks.
func Button(msg slack.Message, actionID string) (*slack.ButtonBlockElement, string, bool) {
	for _, b := range msg.Blocks.BlockSet {
		ab, ok := b.(*slack.ActionBlock)
		if !ok || ab.Elements == nil {
			continue
		}
		for _, e := range ab.Elements.ElementSet {
			if btn, ok := e.(*slack.ButtonBlockElement); ok && btn.ActionID == actionID {
				return btn, ab.BlockID, true
			}
		}
	}
	return nil, "", false
}

// Click presses the button actionID of msg, posted in channel, as user. responseURL is where
// the app's ephemeral answer goes. It returns the HTTP status of the app's ack.
func (d Delivery) Click(ctx context.Context, user, channel string, msg slack.Message, actionID, responseURL string) (int, error) {
	btn, blockID, ok := Button(msg, actionID)
	if !ok {
		return 0, fmt.Errorf("message %s has no button %q", msg.Timestamp, actionID)
	}
	now := time.Now()
	ts := fmt.Sprintf("%d.%06d", now.Unix(), actionSeq.Add(1)%1_000_000)
	return d.Deliver(ctx, now, map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user},
		"trigger_id":   fmt.Sprintf("%d.%d.trigger", now.UnixNano(), actionSeq.Load()),
		"response_url": responseURL,
		"container":    map[string]any{"type": "message", "message_ts": msg.Timestamp, "channel_id": channel},
		"channel":      map[string]any{"id": channel},
		"message":      map[string]any{"ts": msg.Timestamp, "text": msg.Text},
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": blockID,
			"value": btn.Value, "action_ts": ts,
		}},
	})
}

// Submit submits a modal the app opened, as user, with the given input values (block id →
// action id → value).
func (d Delivery) Submit(ctx context.Context, user string, v OpenedView, values map[string]map[string]string) (int, error) {
	state := map[string]any{}
	for block, actions := range values {
		acts := map[string]any{}
		for action, val := range actions {
			acts[action] = map[string]any{"type": "plain_text_input", "value": val}
		}
		state[block] = acts
	}
	return d.Deliver(ctx, time.Now(), map[string]any{
		"type": "view_submission",
		"user": map[string]any{"id": user},
		"view": map[string]any{
			"id": v.ID, "type": "modal", "callback_id": v.View.CallbackID,
			"private_metadata": v.View.PrivateMetadata,
			"state":            map[string]any{"values": state},
		},
	})
}

// Deliver signs payload as of at and posts it.
func (d Delivery) Deliver(ctx context.Context, at time.Time, payload map[string]any) (int, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return 0, err
	}
	return d.Post(ctx, at, d.SigningSecret, url.Values{"payload": {string(raw)}}.Encode())
}

// Post signs body with secret as of at and posts it: tests use it to send what Slack never
// would (a wrong secret, an old timestamp, an oversized body).
func (d Delivery) Post(ctx context.Context, at time.Time, secret, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Endpoint, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	ts, sig := Sign(secret, at, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	hc := d.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Sign returns the X-Slack-Request-Timestamp and X-Slack-Signature headers for body.
func Sign(secret string, at time.Time, body string) (ts, sig string) {
	ts = strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	return ts, "v0=" + hex.EncodeToString(mac.Sum(nil))
}
