package main

import (
	"context"
	"net/http"
	"os"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/activities"
	"github.com/shipgate/shipgate/internal/slackapp"
	"github.com/shipgate/shipgate/internal/slackbridge"
)

// startSlack connects the worker to Slack: notices post through its Web API (notify), clicks
// arrive over Socket Mode (its end on socketErr) or on mux. Called only when Slack is set up.
func startSlack(ctx context.Context, c client.Client, env slackapp.Env, namespace string, notify *activities.Notify,
	mux *http.ServeMux, socketErr chan<- error, log *zap.Logger) (*slackbridge.Worker, error) {
	key, err := slackbridge.LoadBridgeKey(os.Getenv(slackbridge.EnvBridgeKey))
	if err != nil {
		return nil, err
	}
	sl, err := slackbridge.NewWorker(c, env, os.Getenv(slackbridge.EnvPolicy), key, log)
	if err != nil {
		return nil, err
	}
	notify.Slack, notify.Channel = sl.Poster, env.Channel
	notify.UIBase, notify.Namespace = os.Getenv(slackbridge.EnvUIURL), namespace
	if env.SocketMode() {
		go func() { socketErr <- sl.RunSocketMode(ctx) }()
	} else {
		mux.Handle(slackbridge.InteractionsPath, sl.Handler)
	}
	return sl, nil
}
