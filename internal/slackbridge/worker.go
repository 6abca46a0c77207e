package slackbridge

import (
	"context"
	"fmt"
	"os"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

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

// EnvBridgeKey names the worker's Slack-bridge key file (an OpenSSH private key): clicks whose
// Slack signature the worker verified are signed with it, and policies list its public half
// in slackBridgeKeys. It is a secret of the worker, like the signing secret.
const EnvBridgeKey = "SHIPGATE_SLACK_BRIDGE_KEY"

// LoadBridgeKey reads the Slack-bridge key from path; errors never show the file's bytes.
func LoadBridgeKey(path string) (ssh.Signer, error) {
	if path == "" {
		return nil, fmt.Errorf("slack: %s is not set: the worker signs verified clicks with its Slack-bridge key (ssh-keygen -t ed25519 -N '' -f FILE; list FILE.pub in the policy's slackBridgeKeys)", EnvBridgeKey)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("slack: %s: %w", EnvBridgeKey, err)
	}
	key, err := ssh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("slack: %s: %s is not an unencrypted OpenSSH private key", EnvBridgeKey, path)
	}
	return key, nil
}

// NewWorker builds the Slack side from a loaded environment (slackapp.LoadEnv), the policy
// file whose groups name the approvers' Slack ids (EnvPolicy; "" for the default) and the
// Slack-bridge key.
func NewWorker(c client.Client, env slackapp.Env, policyPath string, key ssh.Signer, log *zap.Logger) (*Worker, error) {
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
		Decider:       NewDecider(c, key),
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
