package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/shipgate/shipgate/internal/release"
)

// prog is the CLI's name as people type it (the binary built from ./starter).
const prog = "shipgate"

// command is one of the CLI's commands. The table below is the only list of them: the
// dispatcher, the usage text, -h and the shell completion all read it.
type command struct {
	name string
	// args is what follows the name in usage: the release id and the main flags.
	args string
	// help says what the command does, in one line.
	help string
	run  func(c *cli, ctx context.Context, name string, args []string) error
}

// commands is the table, in the order usage lists them. (A function, not a variable: the
// completion command reads the table itself.)
func commands() []command {
	act := func(c *cli, ctx context.Context, name string, args []string) error { return c.signal(ctx, name, args) }
	line := func(c *cli, ctx context.Context, name string, args []string) error { return c.line(ctx, name, args) }
	return []command{
		{"start", "-f MANIFEST [--policy NAME] [--as ACTOR] [--wait]", `start a release under one of the worker's policies (default "default"); prints its id`,
			func(c *cli, ctx context.Context, _ string, args []string) error { return c.start(ctx, args) }},
		{"status", "ID [--json] [--watch]", "where a release is and what it waits for",
			func(c *cli, ctx context.Context, _ string, args []string) error { return c.status(ctx, args) }},
		{"list", "[--stage S] [--state S]", "releases, newest first",
			func(c *cli, ctx context.Context, _ string, args []string) error { return c.list(ctx, args) }},
		{"report", "[--since 30d|720h|DATE] [--json]", "DORA metrics per service: deployment frequency, lead time, change failure rate, time to restore",
			func(c *cli, ctx context.Context, _ string, args []string) error { return c.report(ctx, args) }},
		{release.SignalApprove, "ID --check CHECK --as ACTOR [--comment TEXT]", "sign off a check", act},
		{release.SignalReject, "ID --check CHECK --as ACTOR --reason TEXT", "reject a signoff check: its gate stays blocked until the rejection is cleared", act},
		{release.SignalClearRejection, "ID --check CHECK --as ACTOR --reason TEXT", "lift a rejection (its author, or a release manager who is not the release's author)", act},
		{release.SignalPause, "ID --as ACTOR [--reason TEXT]", "hold the release where it is", act},
		{release.SignalResume, "ID --as ACTOR [--reason TEXT]", "let a paused release go on", act},
		{release.SignalRecheck, "ID --as ACTOR [--gate GATE] [--evidence CHECK=PATH|URL ...]", "re-run the automated checks of blocked gates, with new evidence when given", act},
		{release.SignalAbort, "ID --as ACTOR --reason TEXT", "end the release (traffic that moved goes back first)", act},
		{release.SignalRollback, "ID --as ACTOR --reason TEXT [--to VERSION]", "production traffic back to the version live before the release, or to VERSION", act},
		{release.ActionRestore, "ID --as ACTOR --reason TEXT [--to VERSION]", "a release terminated or timed out from outside: return the traffic and proxies it left", act},
		{release.SignalReportIssue, "ID --as ACTOR --severity critical|high|medium|low --title TEXT", "report a problem (an open critical or high issue blocks promotion out of testnet)", act},
		{release.SignalResolveIssue, "ID --as ACTOR --issue N", "mark a reported issue resolved", act},
		{release.SignalBreakGlass, "ID --as ACTOR --window NAME --reason TEXT", "end a window now (two release managers, neither the author)", act},
		{release.SignalOverride, "ID --as ACTOR --window NAME --reason TEXT", "let the release through the promotion window that holds it now (two release managers, neither the author)", act},
		{release.SignalSafeSign, "ID --as ACTOR --owner-key NAME [--contract C] [--dev]", "a Safe owner approves the pending governed proposal off chain: the safeTxHash recomputed from its fields, signed (EIP-712) with the owner's keystore key, checked by the workflow",
			func(c *cli, ctx context.Context, _ string, args []string) error { return c.safeSign(ctx, args) }},
		{release.ActionFreeze, "[--policy NAME] --as ACTOR --reason TEXT", "stop the line: hold the promotion of every release under the policy, and new starts", line},
		{release.ActionUnfreeze, "[--policy NAME] --as ACTOR --reason TEXT", "restart the line", line},
		{"completion", "bash", "print a bash completion script: source <(shipgate completion bash)",
			func(c *cli, _ context.Context, _ string, args []string) error { return c.completion(args) }},
	}
}

// lookup finds a command by name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// helpText is what -h on the command prints: its usage line, what it does, its flags.
func (c command) helpText(flags string) string {
	s := fmt.Sprintf("usage: %s %s %s\n\n%s\n", prog, c.name, c.args, c.help)
	if flags != "" {
		s += "\nflags:\n" + flags
	}
	return s
}

// usage lists every command of the table with its arguments and what it does.
func usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s COMMAND [ARGS]   (%s COMMAND -h: its flags)\n\n", prog, prog)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %s %s\n      %s\n", c.name, c.args, c.help)
	}
	b.WriteString(`
Every command that acts is signed with your SSH key (the ssh-keygen -Y sign format, namespace
"shipgate"): --key FILE (a private key, or the .pub of a key held by ssh-agent; env
SHIPGATE_SSH_KEY), or ssh-agent's only key. The policy lists each member's sshKeys; --as names
the member whose key signs.

Temporal connection: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS settings.
Tracing: --otlp-endpoint URL before the command (env SHIPGATE_OTLP_ENDPOINT), the OTLP/gRPC
collector the CLI's spans go to (http://host:4317 plaintext, https://host:4317 TLS): a release
started with it is one trace from its start to its end.
`)
	return b.String()
}
