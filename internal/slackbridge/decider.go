package slackbridge

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
)

// Decider delivers Slack decisions to release workflows as commands with channel "slack",
// signed with the worker's Slack-bridge key: the handler has verified Slack's request
// signature, and the bridge key is how the workflow knows a worker did. It holds no state
// but the key; any number of workers may run one with the same key.
type Decider struct {
	Client client.Client
	Key    ssh.Signer
}

var _ slackapp.Decider = (*Decider)(nil)

// NewDecider returns a Decider over c signing with key.
func NewDecider(c client.Client, key ssh.Signer) *Decider { return &Decider{Client: c, Key: key} }

// Decide signals the decision and waits for the workflow's verdict. The workflow, not the
// bridge, checks group membership, the author rule and the fingerprint; every attempt lands
// in its audit log, refused ones included.
func (d *Decider) Decide(ctx context.Context, dec slackapp.Decision) (slackapp.Outcome, error) {
	var signal string
	switch dec.Action {
	case slackapp.ActionNameApprove:
		signal = release.SignalApprove
	case slackapp.ActionNameReject:
		signal = release.SignalReject
	default:
		return slackapp.Outcome{}, fmt.Errorf("unknown decision %q", dec.Action)
	}
	// The button's fingerprint is the workflow's own: it is passed on as clicked, and the
	// workflow refuses (and records) a click on evidence that has changed since.
	// The actor is the Slack user id Slack vouched for: the release's own policy, not this
	// worker's identity map, says which member that is.
	cmd := release.Command{
		Actor: dec.SlackUserID, Channel: release.ChannelSlack, Check: dec.Check,
		Reason: dec.Reason, Fingerprint: dec.Fingerprint,
	}
	if signal == release.SignalApprove {
		cmd.Comment = "approved in Slack"
	}
	e, err := control.Send(ctx, d.Client, d.Key, dec.ReleaseID, signal, cmd)
	if err != nil {
		return slackapp.Outcome{}, err
	}
	return slackapp.Outcome{Accepted: e.Accepted, Message: d.message(dec, e)}, nil
}

// message is the clicker's ephemeral answer.
func (d *Decider) message(dec slackapp.Decision, e release.AuditEntry) string {
	if !e.Accepted {
		return fmt.Sprintf("Not recorded: %s.", strings.TrimPrefix(e.Reason, "refused: "))
	}
	if dec.Action == slackapp.ActionNameReject {
		return fmt.Sprintf("Your rejection of %s was recorded; the gate is blocked until you or a release manager clear it.", dec.Check)
	}
	msg := fmt.Sprintf("Your approval of %s was recorded.", dec.Check)
	if e.Detail != "" {
		msg += " " + dec.Check + ": " + e.Detail + "."
	}
	return msg
}

// CurrentFingerprint is the fingerprint a signoff message for check posted now would carry,
// or "" when the release takes no decision on it now.
func (d *Decider) CurrentFingerprint(ctx context.Context, releaseID, check string) (string, error) {
	st, err := control.Status(ctx, d.Client, releaseID)
	if err != nil {
		return "", err
	}
	fp, _ := currentFingerprint(st, check)
	return fp, nil
}
