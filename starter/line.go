package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// line stops (freeze) or restarts (unfreeze) the line of one of the worker's policies: every
// release under it holds its promotion, and new ones hold before they start, until unfreeze.
// The command is signed; the line workflow checks it against the policy and relays it.
func (c *cli) line(ctx context.Context, action string, args []string) error {
	fs := flag.NewFlagSet(action, flag.ContinueOnError)
	var cmd release.Command
	policy := fs.String("policy", release.DefaultPolicyName, "the worker policy whose releases to hold")
	fs.StringVar(&cmd.Actor, "as", "", "who acts: your member id in the policy; your key must be one of its sshKeys")
	fs.StringVar(&cmd.Reason, "reason", "", "why (shown on every held release)")
	key := keyFlag(fs)
	if _, err := parse(fs, args, false); err != nil {
		return err
	}
	switch {
	case cmd.Actor == "":
		return &exitError{code: 2, msg: action + ": --as is required"}
	case cmd.Reason == "":
		return &exitError{code: 2, msg: action + ": --reason is required"}
	case !release.ValidPolicyName(*policy):
		return &exitError{code: 2, msg: fmt.Sprintf("%s: --policy %q is not a worker policy name", action, *policy)}
	}
	cmd.Channel = release.ChannelCLI
	signer, err := control.LoadSigner(*key)
	if err != nil {
		return &exitError{code: 1, msg: action + ": " + err.Error()}
	}
	cl, err := c.connect(ctx)
	if err != nil {
		return err
	}
	entry, err := control.SendLine(ctx, cl, signer, *policy, action, cmd)
	if err != nil {
		return err
	}
	if !entry.Accepted {
		return &exitError{code: 4, msg: fmt.Sprintf("%s %s: %s", action, release.LineID(*policy), entry.Reason)}
	}
	fmt.Fprintf(c.out, "%s %s: accepted (%s)\n", action, release.LineID(*policy), entry.Reason)
	return nil
}

// printLines shows every stopped line above the releases.
func printLines(w io.Writer, lines []release.LineState) {
	for _, l := range lines {
		if !l.Frozen() {
			continue
		}
		c := l.Latest.Command
		fmt.Fprintf(w, "LINE STOPPED  policy %s: frozen by %s at %s: %s (%d releases joined; new ones wait)\n",
			l.Policy, c.Actor, c.IssuedAt.Local().Format(time.RFC3339), c.Reason, l.Members)
	}
}
