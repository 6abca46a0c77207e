package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/devstack/people"
)

// workerBinary builds this command once per test binary run.
func workerBinary(t *testing.T) (bin, root string) {
	t.Helper()
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(t.TempDir(), "worker")
	cmd := exec.Command("go", "build", "-o", bin, "./worker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin, root
}

// runWorker starts the worker with env added to this process's environment, minus any Slack
// variable of the machine running the test.
func runWorker(t *testing.T, bin string, env ...string) (*exec.Cmd, *bytes.Buffer, string) {
	t.Helper()
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHIPGATE_SLACK_") {
			base = append(base, kv)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(append(base, "SHIPGATE_HTTP_ADDR="+addr), env...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out, "http://" + addr
}

func waitReady(t *testing.T, base string, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not ready: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestWorkerSlackMounting(t *testing.T) {
	bin, root := workerBinary(t)
	// starting the dev server takes minutes on a loaded 2-core machine (issue 11's ten runs)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	temporal, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = temporal.Stop() })
	policy := filepath.Join(root, "deployments/policies/demo.yaml")
	bridge, err := (&people.Keyring{Dir: t.TempDir()}).KeyFile(people.BridgeID)
	if err != nil {
		t.Fatal(err)
	}
	slackEnv := []string{"TEMPORAL_ADDRESS=" + temporal.Address, "SHIPGATE_SLACK_BOT_TOKEN=xoxb-test",
		"SHIPGATE_SLACK_SIGNING_SECRET=s3cret", "SHIPGATE_SLACK_CHANNEL=C0RELEASES", "SHIPGATE_SLACK_POLICY=" + policy,
		"SHIPGATE_SLACK_BRIDGE_KEY=" + bridge}

	tests := []struct {
		name string
		env  []string
		// what POST /slack/interactions with a forged signature answers
		wantStatus int
	}{
		{"without Slack nothing is mounted", []string{"TEMPORAL_ADDRESS=" + temporal.Address}, http.StatusNotFound},
		{"with Slack interactions are verified", slackEnv, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, log, base := runWorker(t, bin, tt.env...)
			waitReady(t, base, log)
			req, _ := http.NewRequest(http.MethodPost, base+"/slack/interactions", strings.NewReader("payload=%7B%7D"))
			req.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(time.Now().Unix()))
			req.Header.Set("X-Slack-Signature", "v0=00")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("POST /slack/interactions: %d, want %d\n%s", resp.StatusCode, tt.wantStatus, log)
			}
			// A graceful stop still works with the handler mounted.
			_ = cmd.Process.Signal(os.Interrupt)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("worker stop: %v\n%s", err, log)
			}
		})
	}
	t.Run("no Slack-bridge key stops the worker", func(t *testing.T) {
		env := append(append([]string(nil), slackEnv...), "SHIPGATE_SLACK_BRIDGE_KEY=")
		cmd, log, _ := runWorker(t, bin, env...)
		if err := cmd.Wait(); err == nil || !strings.Contains(log.String(), "SHIPGATE_SLACK_BRIDGE_KEY is not set") {
			t.Fatalf("exit %v, output %q; want a failure naming SHIPGATE_SLACK_BRIDGE_KEY", err, log)
		}
	})
	t.Run("a Slack-bridge key that is not a key stops the worker, quoting nothing of it", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bridge")
		if err := os.WriteFile(bad, []byte("xoxb-not-a-key-SECRETBYTES"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := append(append([]string(nil), slackEnv...), "SHIPGATE_SLACK_BRIDGE_KEY="+bad)
		cmd, log, _ := runWorker(t, bin, env...)
		if err := cmd.Wait(); err == nil || !strings.Contains(log.String(), "is not an unencrypted OpenSSH private key") || strings.Contains(log.String(), "SECRETBYTES") {
			t.Fatalf("exit %v, output %q", err, log)
		}
	})
	t.Run("missing approver policy stops the worker", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "policy.yaml")
		env := append(append([]string(nil), slackEnv...), "SHIPGATE_SLACK_POLICY="+missing)
		cmd, log, _ := runWorker(t, bin, env...)
		if err := cmd.Wait(); err == nil || !strings.Contains(log.String(), missing) {
			t.Fatalf("exit %v, output %q; want a failure naming %s", err, log, missing)
		}
	})
}

func TestWorkerRefusesBadSlackConfig(t *testing.T) {
	bin, _ := workerBinary(t)
	// Both fail before connecting to Temporal, which is not running.
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"user token instead of bot token", []string{"SHIPGATE_SLACK_BOT_TOKEN=xoxp-1", "SHIPGATE_SLACK_SIGNING_SECRET=s", "SHIPGATE_SLACK_CHANNEL=C1"},
			"SHIPGATE_SLACK_BOT_TOKEN: want a bot token starting with xoxb-"},
		{"no way to receive clicks", []string{"SHIPGATE_SLACK_BOT_TOKEN=xoxb-1", "SHIPGATE_SLACK_CHANNEL=C1"},
			"set SHIPGATE_SLACK_SIGNING_SECRET for HTTP interactions, or SHIPGATE_SLACK_APP_TOKEN for Socket Mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, log, _ := runWorker(t, bin, append(tt.env, "TEMPORAL_ADDRESS=127.0.0.1:1")...)
			err := cmd.Wait()
			if err == nil || !strings.Contains(log.String(), tt.want) {
				t.Fatalf("exit %v, output %q; want a failure saying %q", err, log, tt.want)
			}
		})
	}
}
