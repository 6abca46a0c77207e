package main

import (
	"context"
	"flag"
	"fmt"
	"slices"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// signal sends one command and waits until the workflow has decided on it: the workflow, not
// the CLI, checks membership and separation of duties, so the CLI reports its verdict.
func (c *cli) signal(ctx context.Context, name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cmd release.Command
	var newEvidence evidenceFlag
	fs.StringVar(&cmd.Actor, "as", "", "who acts: your member id in the policy; your key must be one of its sshKeys")
	key := keyFlag(fs)
	required := []string{"as"}
	switch name {
	case release.SignalApprove:
		fs.StringVar(&cmd.Check, "check", "", "the signoff check")
		fs.StringVar(&cmd.Comment, "comment", "", "a comment for the audit log")
		required = append(required, "check")
	case release.SignalReject, release.SignalClearRejection:
		fs.StringVar(&cmd.Check, "check", "", "the signoff check")
		fs.StringVar(&cmd.Reason, "reason", "", "why")
		required = append(required, "check", "reason")
	case release.SignalPause, release.SignalResume:
		fs.StringVar(&cmd.Reason, "reason", "", "why")
	case release.SignalRecheck:
		fs.StringVar(&cmd.Gate, "gate", "", "only this gate (default: every blocked gate)")
		fs.Var(&newEvidence, "evidence", "CHECK=PATH or CHECK=URL: new evidence for an evidence check, uploaded to the evidence store (repeat for several files; a check named replaces all its evidence)")
	case release.SignalAbort, release.SignalRollback, release.ActionRestore:
		fs.StringVar(&cmd.Reason, "reason", "", "why")
		required = append(required, "reason")
		if name != release.SignalAbort {
			fs.StringVar(&cmd.To, "to", "", "point production at this version instead of the one live before the release")
		}
	case release.SignalReportIssue:
		fs.StringVar(&cmd.Severity, "severity", "", "critical, high, medium or low")
		fs.StringVar(&cmd.Title, "title", "", "what is wrong")
		required = append(required, "severity", "title")
	case release.SignalResolveIssue:
		fs.IntVar(&cmd.Issue, "issue", 0, "the issue number")
		required = append(required, "issue")
	case release.SignalOverride:
		fs.StringVar(&cmd.Window, "window", "", "the promotion window that holds the release now")
		fs.StringVar(&cmd.Reason, "reason", "", "why")
		required = append(required, "window", "reason")
	case release.SignalBreakGlass:
		fs.StringVar(&cmd.Window, "window", "", "the window to end now")
		fs.StringVar(&cmd.Reason, "reason", "", "why")
		required = append(required, "window", "reason")
	}
	id, err := parse(fs, args, true)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, r := range required {
		if !set[r] {
			return &exitError{code: 2, msg: fmt.Sprintf("%s: --%s is required", name, r)}
		}
	}
	if name == release.SignalReportIssue && !slices.Contains(release.Severities, cmd.Severity) {
		return &exitError{code: 2, msg: fmt.Sprintf("report-issue: --severity must be critical, high, medium or low (got %q)", cmd.Severity)}
	}
	cmd.Channel = release.ChannelCLI
	if len(newEvidence) > 0 {
		if cmd.Evidence, err = newEvidence.upload(ctx); err != nil {
			return &exitError{code: 1, msg: name + ": " + err.Error()}
		}
	}
	signer, err := control.LoadSigner(*key)
	if err != nil {
		return &exitError{code: 1, msg: name + ": " + err.Error()}
	}
	cl, err := c.connect(ctx)
	if err != nil {
		return err
	}
	if name == release.ActionRestore {
		res, err := control.Restore(ctx, cl, signer, id, cmd)
		if err != nil {
			return &exitError{code: 4, msg: fmt.Sprintf("restore %s: %v", id, err)}
		}
		fmt.Fprintf(c.out, "restore %s: %s; production serves %s\n", id, res.Note, res.Live)
		return nil
	}
	entry, err := control.Send(ctx, cl, signer, id, name, cmd)
	if err != nil {
		return err
	}
	if !entry.Accepted {
		return &exitError{code: 4, msg: fmt.Sprintf("%s %s: %s", name, id, entry.Reason)}
	}
	fmt.Fprintf(c.out, "%s %s: accepted", name, id)
	if entry.Reason != "" {
		fmt.Fprintf(c.out, " (%s)", entry.Reason)
	}
	fmt.Fprintln(c.out)
	return nil
}
