// Command demosvc runs the embedded demo service of the local stack, or a bounded load
// against it.
//
//	demosvc serve --listen 127.0.0.1:8090 --state .data/demosvc.json --service demo --initial-version 1.3.0
//	demosvc load  --target http://127.0.0.1:8090/ --rps 20 --duration 1m
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/shipgate/shipgate/internal/devstack/demosvc"
)

const usage = `usage:
  demosvc serve [flags]   run the demo service (webhook, router, faults, metrics)
  demosvc load  [flags]   send a bounded load to a demo service on this machine
run "demosvc serve -h" or "demosvc load -h" for the flags`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demosvc:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "load":
		return load(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	var cfg demosvc.Config
	fs.StringVar(&cfg.StatePath, "state", ".data/demosvc.json", "JSON file that keeps the traffic split across restarts (empty: memory only)")
	fs.StringVar(&cfg.Service, "service", "demo", "service name this process plays")
	fs.StringVar(&cfg.InitialVersion, "initial-version", "1.0.0", "stable version of environments the state file does not know")
	fs.StringVar(&cfg.Environment, "environment", "production", "environment whose split the router (GET /, /svc/...) follows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	logger, err := zap.NewProduction()
	if err != nil {
		return fmt.Errorf("building logger: %w", err)
	}
	defer logger.Sync()
	cfg.Logger = logger

	srv, err := demosvc.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// Tests and scripts read the real address from this line when --listen has port 0.
	logger.Info("demo service listening", zap.String("addr", ln.Addr().String()),
		zap.String("service", cfg.Service), zap.String("environment", cfg.Environment),
		zap.String("state", cfg.StatePath))
	err = srv.Serve(ctx, ln)
	logger.Info("demo service stopped")
	return err
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg demosvc.LoadConfig
	fs.StringVar(&cfg.Target, "target", "http://127.0.0.1:8090/", "URL to GET; must be on this machine")
	fs.IntVar(&cfg.RPS, "rps", 20, fmt.Sprintf("requests per second (1 to %d)", demosvc.MaxLoadRPS))
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, fmt.Sprintf("how long to send (at most %s)", demosvc.MaxLoadDuration))
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected argument %q", fs.Arg(0))
	}
	res, err := demosvc.Load(ctx, cfg)
	if res.ByCode == nil { // the config was refused before anything was sent
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(res); encErr != nil {
			return encErr
		}
	} else {
		printLoad(stdout, res)
	}
	return err
}

func printLoad(w io.Writer, res demosvc.LoadResult) {
	fmt.Fprintf(w, "sent %d requests in %s (%d skipped, %d transport errors)\n",
		res.Sent, res.Elapsed.Round(time.Millisecond), res.Skipped, res.TransportErrors)
	for _, code := range slices.Sorted(maps.Keys(res.ByCode)) {
		fmt.Fprintf(w, "  status %d: %d\n", code, res.ByCode[code])
	}
	for _, v := range slices.Sorted(maps.Keys(res.ByVersion)) {
		fmt.Fprintf(w, "  version %s: %d\n", v, res.ByVersion[v])
	}
}
