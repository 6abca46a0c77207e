package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shipgate/shipgate/internal/devstack/slackws"
	"github.com/shipgate/shipgate/internal/slackapp"
)

// The embedded stack's Slack: a slacktest workspace (slackws) in its own process stands in for
// the Web API; the worker posts to it and serves /slack/interactions, and the demo approvers
// click the buttons of the messages it holds, signed with the stack's signing secret.
const (
	SlackChannel  = "C0SHIPDEMO"
	slackBotToken = "xoxb-shipgate-demo" // the stand-in accepts any token
	slackURLFile  = "slack.url"
	slackSecret   = "slack-signing-secret"
)

// ServeSlack runs the stand-in until ctx ends, writing its Web API URL to urlFile once it
// listens (the port is free-chosen).
func ServeSlack(ctx context.Context, urlFile string) error {
	ws := slackws.Start()
	defer ws.Close()
	tmp := urlFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(ws.APIURL()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, urlFile); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// SlackConfig is how the stack's worker and demo reach the stand-in.
type SlackConfig struct {
	APIURL        string
	SigningSecret string
	Channel       string
}

// WorkerEnv is the worker's Slack environment: the stand-in's URL, the stack's secret, the
// policy whose members map Slack ids to people, and the Slack-bridge key clicks are signed with.
func (c SlackConfig) WorkerEnv(policy, bridgeKey, uiBase string) []string {
	return []string{
		"SHIPGATE_SLACK_BRIDGE_KEY=" + bridgeKey,
		slackapp.EnvBotToken + "=" + slackBotToken,
		slackapp.EnvSigningSecret + "=" + c.SigningSecret,
		slackapp.EnvChannel + "=" + c.Channel,
		slackapp.EnvAPIURL + "=" + c.APIURL,
		"SHIPGATE_SLACK_POLICY=" + policy,
		"SHIPGATE_TEMPORAL_UI_URL=" + uiBase,
	}
}

// StartSlack starts the stand-in (devstackBin slack) unless it runs, and returns its config.
// The signing secret is made once per state directory and kept there (mode 0600).
func (s Stack) StartSlack(ctx context.Context, devstackBin string) (SlackConfig, error) {
	urlFile, _ := filepath.Abs(filepath.Join(s.Dir, slackURLFile))
	if _, running := s.Running("slack"); !running {
		_ = os.Remove(urlFile)
		if _, err := s.Spawn("slack", devstackBin, []string{"slack", "--url-file", urlFile}, nil); err != nil {
			return SlackConfig{}, err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(urlFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return SlackConfig{}, fmt.Errorf("slack stand-in did not start (log: %s)", s.LogFile("slack"))
		}
		select {
		case <-ctx.Done():
			return SlackConfig{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	secretFile := filepath.Join(s.Dir, slackSecret)
	if _, err := os.Stat(secretFile); errors.Is(err, os.ErrNotExist) {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(b)), 0o600); err != nil {
			return SlackConfig{}, err
		}
	}
	return s.Slack()
}

// Slack reads the config of a running stand-in.
func (s Stack) Slack() (SlackConfig, error) {
	u, err := os.ReadFile(filepath.Join(s.Dir, slackURLFile))
	if err != nil {
		return SlackConfig{}, fmt.Errorf("slack stand-in not running (start the stack with `go tool task up`): %w", err)
	}
	secret, err := os.ReadFile(filepath.Join(s.Dir, slackSecret))
	if err != nil {
		return SlackConfig{}, err
	}
	return SlackConfig{APIURL: strings.TrimSpace(string(u)), SigningSecret: strings.TrimSpace(string(secret)), Channel: SlackChannel}, nil
}
