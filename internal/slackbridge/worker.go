package slackbridge

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/slackapp"
)

// EnvUIURL is the Temporal Web UI base URL that Slack messages link to (optional).
const EnvUIURL = "SHIPGATE_TEMPORAL_UI_URL"

// InteractionsPath is where Slack's interactivity Request URL points in HTTP mode.
const InteractionsPath = "/slack/interactions"

// Worker is a worker's Slack side: the Web API client, the poster for notices and the
// interaction handler deciding through Temporal.
type Worker struct {
	Env     slackapp.Env
	API     *slack.Client
	Poster  *slackapp.Poster
	Handler *slackapp.Handler
}

// NewWorker builds the Slack side from a loaded environment (slackapp.LoadEnv) and the
// policy file whose groups name the approvers' Slack ids (EnvPolicy; "" for the default).
func NewWorker(c client.Client, env slackapp.Env, policyPath string, log *zap.Logger) (*Worker, error) {
	ids, err := LoadIdentities(policyPath)
	if err != nil {
		return nil, err
	}
	opts := []slack.Option{}
	if env.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(env.APIURL))
	}
	if env.SocketMode() {
		opts = append(opts, slack.OptionAppLevelToken(env.AppToken))
	}
	api := slack.New(env.BotToken, opts...)
	h, err := slackapp.NewHandler(slackapp.HandlerConfig{
		SigningSecret: env.SigningSecret,
		Decider:       NewDecider(c),
		Identities:    ids,
		Views:         api,
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	if log != nil {
		log.Info("slack enabled", zap.Bool("socketMode", env.SocketMode()), zap.String("channel", env.Channel), zap.String("apiURL", env.APIURL),
			zap.Int("approvers", ids.Len()))
	}
	return &Worker{Env: env, API: api, Poster: slackapp.NewPoster(api), Handler: h}, nil
}

// RunSocketMode serves interactions over Socket Mode until ctx ends; it returns at once in
// HTTP mode, where the caller mounts Handler at InteractionsPath.
func (w *Worker) RunSocketMode(ctx context.Context) error {
	if !w.Env.SocketMode() {
		return nil
	}
	if err := slackapp.RunSocketMode(ctx, socketmode.New(w.API), w.Handler); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	return nil
}
