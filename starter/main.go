// Command shipgate (built from ./starter: go build -o .bin/shipgate ./starter) is the release
// manager's CLI: start a release, follow it, and act on it. Its commands are the table in
// commands.go.
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

	"github.com/shipgate/shipgate/internal/telemetry"
)

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
	// help: -h asked for the command's help, which goes to standard output with flags (its
	// flags as PrintDefaults shows them); flagNames are their names, for shell completion.
	help      bool
	flags     string
	flagNames []string
}

func (e *exitError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1 {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if args[0] == "help" { // help COMMAND: the command's -h
		args = []string{args[1], "-h"}
	}
	otlp, args, err := otlpFlag(args)
	if err != nil {
		fmt.Fprintln(stderr, prog+":", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n%s", prog, args[0], usage())
		return 2
	}
	cli := &cli{out: stdout, errOut: stderr, otlp: otlp}
	err = cmd.run(cli, ctx, cmd.name, args[1:])
	if cli.client != nil {
		cli.client.Close()
	}
	if cli.tracing != nil {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if terr := cli.tracing.Close(fctx); terr != nil {
			fmt.Fprintln(stderr, prog+": sending traces:", terr)
		}
		cancel()
	}
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.help {
				fmt.Fprint(stdout, cmd.helpText(ee.flags))
			}
			if ee.msg != "" {
				fmt.Fprintln(stderr, prog+":", ee.msg)
			}
			return ee.code
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, cmd.name, err)
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
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		return "", &exitError{code: 0, help: true, flags: flagsHelp(fs), flagNames: names}
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

// flagsHelp is a command's flags as -h prints them.
func flagsHelp(fs *flag.FlagSet) string {
	var b strings.Builder
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
