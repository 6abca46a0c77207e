// Package devstack runs shipgate's embedded default stack on one machine: the Temporal CLI's
// dev server (with its Web UI), two local geth --dev chains, the demo service, the worker, and
// the processes' bookkeeping.
// Tests use it too, so integration tests run against the same real server users run.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// TemporalCLI finds the temporal binary: $SHIPGATE_TEMPORAL_CLI, then PATH, then the
// repository's git-ignored .bin/ (where `go tool task tools` builds it).
func TemporalCLI() (string, error) {
	if p := os.Getenv("SHIPGATE_TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("temporal CLI not found: run `go tool task tools` (builds it into .bin/) or put `temporal` on PATH")
}

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// TemporalOptions configure a dev server.
type TemporalOptions struct {
	Port   int    // gRPC frontend; 0 picks a free port
	UIPort int    // Web UI; 0 picks a free port
	DBFile string // SQLite file to persist to; empty keeps everything in memory
	Log    string // file for the server's output; empty discards it
}

// Temporal is a running dev server.
type Temporal struct {
	Cmd     *exec.Cmd
	Address string // host:port of the frontend
	UIURL   string
}

// ServerLimits are the dynamic config values the stack's Temporal server runs with, as a
// production cluster should:
//   - A signal is written to a workflow's history by the server before any workflow code can
//     refuse it, so forged signals are bounded here: shipgate's CLI and Slack bridge send
//     updates, which a release refuses before history, and no release needs more than a
//     handful of signals.
//   - A payload (a signal's, an update's, an activity's) may be at most MaxPayloadBytes, so
//     that the signals a release can be sent (MaxSignalsPerRelease × MaxPayloadBytes, 25 MiB)
//     can never push its history past Temporal's 50 MB limit, where the server would
//     terminate it — with traffic wherever it was. shipgate's own payloads are a few KiB
//     (a policy, a signed command, a signed transaction).
//   - Ten updates in flight per workflow (the default) makes a burst of Slack clicks on one
//     message wait for server-side retries with backoff; a release takes its decisions one
//     workflow task at a time anyway, so more may queue.
var ServerLimits = []string{
	"--dynamic-config-value", "history.maximumSignalsPerExecution=" + strconv.Itoa(MaxSignalsPerRelease),
	"--dynamic-config-value", "limit.blobSize.error=" + strconv.Itoa(MaxPayloadBytes),
	"--dynamic-config-value", "history.maxInFlightUpdates=" + strconv.Itoa(MaxInFlightUpdates),
}

// ServerTuning are the dynamic config values that make a release cheaper for the stack's
// Temporal server, as they would a production cluster's (measured with bench/releases,
// README "Sizing"):
//   - Eager activities: an activity a workflow task schedules on the worker's own task queue
//     (a traffic change, a contract step) is started in that task's completion and handed
//     back to the worker in its response, instead of being added to matching, polled for and
//     started in a transaction of its own. The SDK asks for it by default; the server refuses
//     it unless enabled.
var ServerTuning = []string{
	"--dynamic-config-value", "system.enableActivityEagerExecution=true",
}

// ServerDynamicArgs are ServerLimits and ServerTuning: the dev server's --dynamic-config-value
// arguments (the cluster writes them into its dynamic config file).
func ServerDynamicArgs() []string { return slices.Concat(ServerLimits, ServerTuning) }

// MaxPayloadBytes bounds every payload the server takes (ServerLimits).
const MaxPayloadBytes = 256 << 10

// MaxInFlightUpdates bounds the decide updates one release holds at once (ServerLimits).
const MaxInFlightUpdates = 100

// MaxSignalsPerRelease bounds the signals one release accepts (ServerLimits).
const MaxSignalsPerRelease = 100

// TestServer starts a dev server for a test and returns a client of it; both stop with the
// test.
func TestServer(tb testing.TB) client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t, err := StartTemporal(ctx, TemporalOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = t.Stop() })
	c, err := client.Dial(client.Options{HostPort: t.Address, Logger: nopLogger{}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// StartTemporal starts `temporal server start-dev` on loopback and waits until it answers.
// The search attributes are registered by the worker, as in production.
func StartTemporal(ctx context.Context, o TemporalOptions) (*Temporal, error) {
	bin, err := TemporalCLI()
	if err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if o.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if o.UIPort == 0 {
		if o.UIPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(o.Port),
		"--ui-port", strconv.Itoa(o.UIPort), "--log-level", "warn", "--namespace", "default"}
	args = append(args, ServerDynamicArgs()...)
	if o.DBFile != "" {
		args = append(args, "--db-filename", o.DBFile)
	}
	cmd := exec.Command(bin, args...)
	if o.Log != "" {
		f, err := os.OpenFile(o.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	t := &Temporal{Cmd: cmd, Address: fmt.Sprintf("127.0.0.1:%d", o.Port), UIURL: fmt.Sprintf("http://127.0.0.1:%d", o.UIPort)}
	if err := WaitTemporal(ctx, t.Address, 3*time.Minute); err != nil { // minutes: a starved machine is slow, not broken
		_ = t.Stop()
		return nil, err
	}
	return t, nil
}

// WaitTemporal waits until a frontend at address answers its health check.
func WaitTemporal(ctx context.Context, address string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := client.DialContext(ctx, client.Options{HostPort: address, Logger: nopLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("temporal at %s did not come up in %s: %v", address, timeout, last)
}

// Stop ends the server and waits for it.
func (t *Temporal) Stop() error {
	if t.Cmd.Process == nil {
		return nil
	}
	_ = t.Cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- t.Cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = t.Cmd.Process.Kill()
		<-done
	}
	return nil
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
