package slackapp

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
)

// Acker acknowledges a Socket Mode request; *socketmode.Client implements it.
type Acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// HandleSocketEvent runs the handler's logic for one Socket Mode event.
// Socket Mode needs no signature check: the WebSocket itself was opened
// with the app-level token. Every request is acked, even a refused one,
// because an un-acked envelope is redelivered by Slack; the returned error
// only reports a refusal for logging and tests.
func (h *Handler) HandleSocketEvent(evt socketmode.Event, ack Acker) error {
	switch evt.Type {
	case socketmode.EventTypeInteractive:
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
		// Not ours, but ack so Slack does not redeliver.
		if evt.Request != nil {
			return ack.Ack(*evt.Request)
		}
		return nil
	default:
		// Connection lifecycle events carry no request to answer.
		h.log.Debug("socket mode event", zap.String("type", string(evt.Type)))
		return nil
	}
	if evt.Request == nil {
		return errors.New("socket mode: interactive event without a request envelope")
	}
	cb, ok := evt.Data.(slack.InteractionCallback)
	if !ok {
		_ = ack.Ack(*evt.Request)
		return fmt.Errorf("socket mode: interactive event data is %T, not slack.InteractionCallback", evt.Data)
	}
	rep := h.interact(cb)
	if rep.err != nil {
		h.log.Warn("interaction refused", zap.Error(rep.err))
		_ = ack.Ack(*evt.Request)
		return rep.err
	}
	var err error
	if rep.body != nil {
		err = ack.Ack(*evt.Request, rep.body)
	} else {
		err = ack.Ack(*evt.Request)
	}
	if err != nil {
		return fmt.Errorf("socket mode ack: %w", err)
	}
	h.start(rep.async)
	return nil
}

// RunSocketMode connects with the app-level token and serves interactions
// over Socket Mode until ctx ends: the alternative to exposing
// /slack/interactions over HTTPS (worker config switch, for deployments
// without a public URL). client is socketmode.New(slack.New(botToken,
// slack.OptionAppLevelToken(appToken))).
func RunSocketMode(ctx context.Context, client *socketmode.Client, h *Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- client.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			h.Wait()
			return nil
		case err := <-runErr:
			h.Wait()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt := <-client.Events:
			if err := h.HandleSocketEvent(evt, client); err != nil {
				h.log.Warn("socket mode event", zap.Error(err))
			}
		}
	}
}
