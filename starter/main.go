// Command starter is the release manager's CLI: start a release, follow it, and act on it.
// Connection settings come from Temporal's standard environment configuration
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS), default 127.0.0.1:7233.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/telemetry"
)

const usage = `usage: starter COMMAND [ARGS]

  start -f MANIFEST [--policy NAME] [--as ACTOR] [--wait]
                                                    start a release under one of the worker's
                                                    policies (default "default"); prints its id
  status ID [--json] [--watch]                      where a release is and what it waits for
  list [--stage S] [--state S]                      releases, newest first
  report [--since 30d|720h|DATE] [--json]           DORA metrics of the releases: deployment
                                                    frequency, lead time, change failure rate,
                                                    time to restore, per service
  approve ID --check CHECK --as ACTOR [--comment TEXT]
  reject ID --check CHECK --as ACTOR --reason TEXT
  clear-rejection ID --check CHECK --as ACTOR --reason TEXT
                                                    lift a rejection (its author, or a release
                                                    manager who is not the release's author)
  pause|resume ID --as ACTOR [--reason TEXT]
  recheck ID --as ACTOR [--gate GATE]
  abort ID --as ACTOR --reason TEXT
  rollback ID --as ACTOR --reason TEXT [--to VERSION]
                                                    production traffic back to the version live
                                                    before the release, or to VERSION
  restore ID --as ACTOR --reason TEXT [--to VERSION]
                                                    a release terminated or timed out from outside:
                                                    return the traffic and proxies it left
  report-issue ID --as ACTOR --severity critical|high|medium|low --title TEXT
  resolve-issue ID --as ACTOR --issue N
  break-glass ID --as ACTOR --window NAME --reason TEXT
  override ID --as ACTOR --window NAME --reason TEXT
                                                    let the release through the promotion window
                                                    that holds it now (two release managers,
                                                    neither the author)
  safe-sign ID --as ACTOR --owner-key NAME [--contract C] [--dev]
                                                    a Safe owner approves the pending governed
                                                    proposal off chain: the safeTxHash recomputed
                                                    from its fields, signed (EIP-712) with the
                                                    owner's keystore key, checked by the workflow
  freeze [--policy NAME] --as ACTOR --reason TEXT   stop the line: hold the promotion of every
                                                    release under the policy, and new starts
  unfreeze [--policy NAME] --as ACTOR --reason TEXT restart the line

Every command that acts is signed with your SSH key (the ssh-keygen -Y sign format, namespace
"shipgate"): --key FILE (a private key, or the .pub of a key held by ssh-agent; env
SHIPGATE_SSH_KEY), or ssh-agent's only key. The policy lists each member's sshKeys; --as names
the member whose key signs.

Temporal connection: TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS settings.
Tracing: --otlp-endpoint URL before the command (env SHIPGATE_OTLP_ENDPOINT), the OTLP/gRPC
collector the CLI's spans go to (http://host:4317 plaintext, https://host:4317 TLS): a release
started with it is one trace from its start to its end.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code; the message has already been printed when it is empty.
type exitError struct {
	code int
	msg  string
	// help is what -h on a command prints to standard output: its flags.
	help string
}

func (e *exitError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	otlp, args, err := otlpFlag(args)
	if err != nil {
		fmt.Fprintln(stderr, "starter:", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	cli := &cli{out: stdout, errOut: stderr, otlp: otlp}
	switch cmd {
	case "start":
		err = cli.start(ctx, rest)
	case "status":
		err = cli.status(ctx, rest)
	case "list":
		err = cli.list(ctx, rest)
	case "report":
		err = cli.report(ctx, rest)
	case "approve", "reject", "clear-rejection", "pause", "resume", "recheck", "abort", "rollback", "restore", "report-issue", "resolve-issue", "break-glass", "override":
		err = cli.signal(ctx, cmd, rest)
	case release.SignalSafeSign:
		err = cli.safeSign(ctx, rest)
	case release.ActionFreeze, release.ActionUnfreeze:
		err = cli.line(ctx, cmd, rest)
	default:
		fmt.Fprintf(stderr, "starter: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if cli.client != nil {
		cli.client.Close()
	}
	if cli.tracing != nil {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if terr := cli.tracing.Close(fctx); terr != nil {
			fmt.Fprintln(stderr, "starter: sending traces:", terr)
		}
		cancel()
	}
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.help != "" {
				fmt.Fprint(stdout, ee.help)
			}
			if ee.msg != "" {
				fmt.Fprintln(stderr, "starter:", ee.msg)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "starter %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type cli struct {
	out, errOut io.Writer
	client      client.Client
	namespace   string
	otlp        string             // the collector traces go to; empty: none
	tracing     *telemetry.Tracing // set by connect when otlp is
}

// otlpFlag takes --otlp-endpoint URL (or =URL) from before the command; its default is the
// environment's SHIPGATE_OTLP_ENDPOINT.
func otlpFlag(args []string) (string, []string, error) {
	endpoint := os.Getenv(telemetry.EnvOTLPEndpoint)
	for len(args) > 0 && strings.HasPrefix(args[0], "--otlp-endpoint") {
		if v, ok := strings.CutPrefix(args[0], "--otlp-endpoint="); ok {
			endpoint, args = v, args[1:]
			continue
		}
		if args[0] != "--otlp-endpoint" || len(args) < 2 {
			return "", nil, fmt.Errorf("--otlp-endpoint needs a URL, e.g. http://127.0.0.1:4317")
		}
		endpoint, args = args[1], args[2:]
	}
	return endpoint, args, nil
}

func (c *cli) connect(ctx context.Context) (client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, fmt.Errorf("temporal connection settings: %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = "127.0.0.1:7233"
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	opts.Logger = quietLogger{}
	if c.otlp != "" {
		tr, err := telemetry.NewTracing(ctx, c.otlp, "shipgate-cli")
		if err != nil {
			return nil, err
		}
		c.tracing = tr
		opts.Interceptors = append(opts.Interceptors, tr.Interceptor)
	}
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to temporal at %s: %w", opts.HostPort, err)
	}
	c.client, c.namespace = cl, opts.Namespace
	return cl, nil
}

// parse parses a subcommand's flags; the release id may stand before or after them.
func parse(fs *flag.FlagSet, args []string, wantID bool) (string, error) {
	fs.SetOutput(io.Discard)
	var id string
	if wantID && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return "", &exitError{code: 0, help: commandHelp(fs, wantID)}
	} else if err != nil {
		return "", &exitError{code: 2, msg: fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if wantID && id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return "", &exitError{code: 2, msg: fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	if wantID && id == "" {
		return "", &exitError{code: 2, msg: fs.Name() + ": the release id (release/<service>/<version>) is required"}
	}
	return id, nil
}

// commandHelp is a command's usage line and its flags, for -h.
func commandHelp(fs *flag.FlagSet, wantID bool) string {
	var b strings.Builder
	b.WriteString("usage: starter " + fs.Name())
	if wantID {
		b.WriteString(" ID")
	}
	b.WriteString(" [flags]\n\nflags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// quietLogger keeps the SDK's own logging off the CLI's output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
