package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/devstack/demosvc"
)

// TestMain lets the test binary play the demosvc command, so the tests below run the real
// main (flags, signals, exit codes) in a child process without a separate go build.
func TestMain(m *testing.M) {
	if os.Getenv("DEMOSVC_RUN_MAIN") == "1" {
		os.Args = append([]string{"demosvc"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is a demosvc child process started by startMain.
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan error
}

// startMain runs "demosvc args..." and waits for its "listening" log line.
func startMain(t *testing.T, args ...string) *process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "DEMOSVC_RUN_MAIN=1")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.WriteString(line + "\n")
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "demo service listening" {
				addrc <- entry.Addr
			}
		}
		p.done <- cmd.Wait()
	}()
	select {
	case p.addr = <-addrc:
	case err := <-p.done:
		t.Fatalf("demosvc %v exited before listening: %v\n%s", args, err, p.stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("demosvc %v did not log its address within 20 s", args)
	}
	return p
}

func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("demosvc exited with %v after SIGTERM, want 0\n%s", err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demosvc did not stop within 15 s of SIGTERM")
	}
	if !strings.Contains(p.stderr.String(), "demo service stopped") {
		t.Fatalf("no 'stopped' log line:\n%s", p.stderr)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestServeKeepsTheSplitAcrossARestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), ".data", "demosvc.json")
	args := []string{"serve", "--listen", "127.0.0.1:0", "--state", state, "--service", "demo", "--initial-version", "1.3.0"}
	p := startMain(t, args...)
	base := "http://" + p.addr

	req, _ := http.NewRequest(http.MethodPost, base+"/v1/traffic", strings.NewReader(
		`{"service":"demo","version":"1.4.0","previousVersion":"1.3.0","environment":"production","percent":5}`))
	req.Header.Set("Idempotency-Key", "release/demo/1.4.0/canary-5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/traffic: %d %s", resp.StatusCode, body)
	}
	var health string
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		health = string(b)
	}
	if health != "ok\n" {
		t.Fatalf("/healthz said %q", health)
	}
	p.stop(t)

	p = startMain(t, args...)
	var st demosvc.State
	getJSON(t, "http://"+p.addr+"/v1/traffic", &st)
	if got := st.Environments["production"]; got != (demosvc.Split{Stable: "1.3.0", Canary: "1.4.0", CanaryPercent: 5}) {
		t.Fatalf("after restart production is %+v, want 1.3.0 with 5 %% on 1.4.0", got)
	}

	// The load subcommand, in-process, against the running service.
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"load", "--target", "http://" + p.addr + "/svc/x", "--rps", "100", "--duration", "300ms", "--json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, errOut.String())
	}
	var res demosvc.LoadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("load --json printed %q: %v", out.String(), err)
	}
	if res.Sent < 1 || res.Sent > 30 || res.ByCode[200] != res.Sent {
		t.Fatalf("load result %+v: want 1 to 30 requests, all 200", res)
	}
	p.stop(t)
}

func TestServeRefusesABadStateFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "demosvc.json")
	if err := os.WriteFile(state, []byte(`{"formatVersion":1,"service":"shop"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve", "--listen", "127.0.0.1:0", "--state", state)
	cmd.Env = append(os.Environ(), "DEMOSVC_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1\n%s", err, out)
	}
	want := `demosvc: state file ` + state + `: service: the file is for service "shop" but this process serves "demo"`
	if !strings.Contains(string(out), want) {
		t.Fatalf("output %q does not contain %q", out, want)
	}
}

func TestRunArguments(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		wantOut string
	}{
		{args: nil, wantErr: "flag: help requested", wantOut: "usage:"},
		{args: []string{"deploy"}, wantErr: `unknown command "deploy"`, wantOut: "usage:"},
		{args: []string{"serve", "--listen"}, wantErr: "flag needs an argument: -listen"},
		{args: []string{"serve", "extra"}, wantErr: `serve: unexpected argument "extra"`},
		{args: []string{"serve", "--environment", "qa", "--state", ""}, wantErr: `environment "qa" is not one of`},
		{args: []string{"load", "--target", "http://10.1.2.3/"}, wantErr: `host "10.1.2.3" is not a loopback address`},
		{args: []string{"load", "--rps", "0"}, wantErr: "rps: must be between 1 and 2000, got 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run = %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(errOut.String(), tt.wantOut) {
				t.Fatalf("stderr %q does not contain %q", errOut.String(), tt.wantOut)
			}
		})
	}
}
