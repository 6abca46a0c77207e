package slackapp

import (
	"testing"

	"github.com/slack-go/slack"

	"github.com/shipgate/shipgate/internal/devstack/slackws"
)

// newWorkspace starts a slacktest server that keeps a workspace's messages (see slackws) and
// returns a client for it.
func newWorkspace(t testing.TB) (*slackws.Workspace, *slack.Client) {
	t.Helper()
	ws := slackws.Start()
	t.Cleanup(ws.Close)
	return ws, ws.Client("xoxb-test")
}
