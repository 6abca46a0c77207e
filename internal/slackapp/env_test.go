package slackapp

import (
	"strings"
	"testing"
)

func TestLoadEnv(t *testing.T) {
	tests := []struct {
		name        string
		vars        map[string]string
		wantEnabled bool
		wantSocket  bool
		wantAPI     string
		wantErr     []string
	}{
		{name: "nothing set: Slack off", vars: nil},
		{name: "http mode", vars: map[string]string{EnvBotToken: "xoxb-1", EnvSigningSecret: "s", EnvChannel: "C1"}, wantEnabled: true},
		{name: "socket mode", vars: map[string]string{EnvBotToken: "xoxb-1", EnvAppToken: "xapp-1", EnvChannel: "C1"}, wantEnabled: true, wantSocket: true},
		{name: "no way in", vars: map[string]string{EnvBotToken: "xoxb-1", EnvChannel: "C1"}, wantEnabled: true, wantErr: []string{EnvSigningSecret, EnvAppToken}},
		{name: "swapped tokens", vars: map[string]string{EnvBotToken: "xapp-1", EnvAppToken: "xoxb-1", EnvChannel: "C1"}, wantEnabled: true, wantErr: []string{EnvBotToken + ": want a bot token", EnvAppToken + ": want an app-level token"}},
		{name: "only a channel", vars: map[string]string{EnvChannel: "C1"}, wantEnabled: true, wantErr: []string{EnvBotToken + " is not set"}},
		{name: "stand-in API", vars: map[string]string{EnvBotToken: "xoxb-1", EnvSigningSecret: "s", EnvChannel: "C1", EnvAPIURL: "http://127.0.0.1:8091"}, wantEnabled: true, wantAPI: "http://127.0.0.1:8091/"},
		{name: "API URL alone: Slack off", vars: map[string]string{EnvAPIURL: "http://127.0.0.1:8091/"}},
		{name: "API URL not a URL", vars: map[string]string{EnvBotToken: "xoxb-1", EnvSigningSecret: "s", EnvChannel: "C1", EnvAPIURL: "slack.com/api"}, wantEnabled: true, wantErr: []string{EnvAPIURL + ": want an http(s) URL"}},
		{name: "no channel", vars: map[string]string{EnvBotToken: "xoxb-1", EnvSigningSecret: "s"}, wantEnabled: true, wantErr: []string{EnvChannel + " is not set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, enabled, err := LoadEnv(func(k string) string { return tt.vars[k] })
			if enabled != tt.wantEnabled {
				t.Errorf("enabled = %v, want %v", enabled, tt.wantEnabled)
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if env.SocketMode() != tt.wantSocket {
					t.Errorf("SocketMode = %v", env.SocketMode())
				}
				if env.APIURL != tt.wantAPI {
					t.Errorf("APIURL = %q, want %q", env.APIURL, tt.wantAPI)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
