package slackapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
)

// MetadataEventType marks messages shipgate posted; their metadata payload
// carries the idempotency key under MetadataKeyField.
const (
	MetadataEventType = "shipgate_release_message"
	MetadataKeyField  = "key"
)

// Poster posts release messages through the Web API so that an activity
// retried after a crash or timeout never posts the same message twice:
// every message carries Slack message metadata with a key (built by the
// caller from workflow id + step), and before posting, recent channel
// history is searched for that key.
type Poster struct {
	api *slack.Client
	// HistoryLimit is how many recent messages (channel or thread) are
	// searched for a key. Default 200: a retry comes minutes after the
	// first attempt, not hundreds of messages later.
	HistoryLimit int
}

// NewPoster returns a Poster using api (a bot token client).
func NewPoster(api *slack.Client) *Poster {
	return &Poster{api: api, HistoryLimit: 200}
}

// PostOrUpdate posts msg to channel, or updates the message already
// carrying key, and returns its ts. Record the ts in the workflow: later
// updates (days after, when the message has scrolled out of recent history)
// should go through Update with that ts.
func (p *Poster) PostOrUpdate(ctx context.Context, channel, key string, msg Message) (string, error) {
	if channel == "" || key == "" {
		return "", errors.New("slack post: channel and key are required")
	}
	ts, err := p.FindByKey(ctx, channel, "", key)
	if err != nil {
		return "", err
	}
	if ts != "" {
		return ts, p.Update(ctx, channel, ts, key, msg)
	}
	_, ts, err = p.api.PostMessageContext(ctx, channel, p.options(key, msg)...)
	if err != nil {
		return "", fmt.Errorf("slack post to %s (key %s): %w", channel, key, err)
	}
	return ts, nil
}

// Update replaces the message at ts, keeping its key in the metadata.
func (p *Poster) Update(ctx context.Context, channel, ts, key string, msg Message) error {
	if _, _, _, err := p.api.UpdateMessageContext(ctx, channel, ts, p.options(key, msg)...); err != nil {
		return fmt.Errorf("slack update %s/%s (key %s): %w", channel, ts, key, err)
	}
	return nil
}

// PostThread posts msg as a reply in the thread of threadTS. With a key,
// it is idempotent like PostOrUpdate (the thread's replies are searched);
// an existing reply is left as it is, since notifications are facts that
// do not change. It returns the reply's ts.
func (p *Poster) PostThread(ctx context.Context, channel, threadTS, key string, msg Message) (string, error) {
	if channel == "" || threadTS == "" {
		return "", errors.New("slack thread post: channel and thread ts are required")
	}
	if key != "" {
		ts, err := p.FindByKey(ctx, channel, threadTS, key)
		if err != nil || ts != "" {
			return ts, err
		}
	}
	opts := append(p.options(key, msg), slack.MsgOptionTS(threadTS))
	_, ts, err := p.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", fmt.Errorf("slack thread post to %s/%s (key %s): %w", channel, threadTS, key, err)
	}
	return ts, nil
}

// FindByKey returns the ts of the most recent message carrying key, in
// the channel (threadTS "") or in one thread, or "" if none is found
// within HistoryLimit messages.
func (p *Poster) FindByKey(ctx context.Context, channel, threadTS, key string) (string, error) {
	limit := p.HistoryLimit
	if limit <= 0 {
		limit = 200
	}
	cursor := ""
	for seen := 0; seen < limit; {
		page := min(limit-seen, 200)
		msgs, next, err := p.history(ctx, channel, threadTS, cursor, page)
		if err != nil {
			return "", err
		}
		for _, m := range msgs {
			if m.Metadata.EventType != MetadataEventType {
				continue
			}
			if k, _ := m.Metadata.EventPayload[MetadataKeyField].(string); k == key {
				return m.Timestamp, nil
			}
		}
		seen += len(msgs)
		if next == "" || len(msgs) == 0 {
			break
		}
		cursor = next
	}
	return "", nil
}

func (p *Poster) history(ctx context.Context, channel, threadTS, cursor string, limit int) ([]slack.Message, string, error) {
	if threadTS == "" {
		resp, err := p.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: channel, Cursor: cursor, Limit: limit, IncludeAllMetadata: true,
		})
		if err != nil {
			return nil, "", fmt.Errorf("slack history of %s: %w", channel, err)
		}
		return resp.Messages, resp.ResponseMetaData.NextCursor, nil
	}
	msgs, _, next, err := p.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: channel, Timestamp: threadTS, Cursor: cursor, Limit: limit, IncludeAllMetadata: true,
	})
	if err != nil {
		return nil, "", fmt.Errorf("slack replies of %s/%s: %w", channel, threadTS, err)
	}
	return msgs, next, nil
}

func (p *Poster) options(key string, msg Message) []slack.MsgOption {
	opts := []slack.MsgOption{
		slack.MsgOptionText(msg.Text, false),
		slack.MsgOptionBlocks(msg.Blocks...),
	}
	if key != "" {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{
			EventType:    MetadataEventType,
			EventPayload: map[string]any{MetadataKeyField: key},
		}))
	}
	return opts
}
