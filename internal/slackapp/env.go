package slackapp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Environment variable names the worker reads (see deployments/slack/README.md).
const (
	EnvBotToken      = "SHIPGATE_SLACK_BOT_TOKEN"
	EnvSigningSecret = "SHIPGATE_SLACK_SIGNING_SECRET"
	EnvAppToken      = "SHIPGATE_SLACK_APP_TOKEN"
	EnvChannel       = "SHIPGATE_SLACK_CHANNEL"
	// EnvAPIURL points the Web API client somewhere else than Slack: the embedded stack's
	// stand-in (a slacktest server), or a proxy. Default https://slack.com/api/.
	EnvAPIURL = "SHIPGATE_SLACK_API_URL"
)

// Env is the Slack configuration of a worker. Secrets stay here, in the
// worker process: they are never passed to workflows.
type Env struct {
	BotToken      string
	SigningSecret string
	AppToken      string // set: Socket Mode instead of HTTP
	Channel       string
	APIURL        string // "" for Slack's own; otherwise ends with "/"
}

// SocketMode reports whether interactions arrive over Socket Mode (an app
// token is configured) rather than at /slack/interactions.
func (e Env) SocketMode() bool { return e.AppToken != "" }

// LoadEnv reads the Slack settings with getenv (os.Getenv in the worker).
// It returns enabled=false when none is set, so Slack stays optional, and
// an error naming each variable that is missing or malformed otherwise.
func LoadEnv(getenv func(string) string) (env Env, enabled bool, err error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	env = Env{BotToken: get(EnvBotToken), SigningSecret: get(EnvSigningSecret), AppToken: get(EnvAppToken), Channel: get(EnvChannel)}
	if env == (Env{}) {
		// An API URL alone configures nothing to talk to.
		return Env{}, false, nil
	}
	var errs []error
	if raw := get(EnvAPIURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: want an http(s) URL such as https://slack.com/api/ (got %q)", EnvAPIURL, raw))
		} else {
			// slack-go appends the method name to the base URL.
			env.APIURL = strings.TrimSuffix(raw, "/") + "/"
		}
	}
	if env.BotToken == "" {
		errs = append(errs, fmt.Errorf("%s is not set", EnvBotToken))
	} else if !strings.HasPrefix(env.BotToken, "xoxb-") {
		errs = append(errs, fmt.Errorf("%s: want a bot token starting with xoxb-", EnvBotToken))
	}
	if env.Channel == "" {
		errs = append(errs, fmt.Errorf("%s is not set (a channel id such as C0123456789)", EnvChannel))
	}
	switch {
	case env.AppToken != "" && !strings.HasPrefix(env.AppToken, "xapp-"):
		errs = append(errs, fmt.Errorf("%s: want an app-level token starting with xapp-", EnvAppToken))
	case env.AppToken == "" && env.SigningSecret == "":
		errs = append(errs, fmt.Errorf("set %s for HTTP interactions, or %s for Socket Mode", EnvSigningSecret, EnvAppToken))
	}
	if err := errors.Join(errs...); err != nil {
		return Env{}, true, fmt.Errorf("slack configuration: %w", err)
	}
	return env, true, nil
}
