package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// Issue 17: `shipgate approve -h` printed "flag: help requested" and exited 2. -h on any command
// prints its flags to standard output and exits 0, before any connection is made.
func TestHelpOnEveryCommandPrintsItsFlags(t *testing.T) {
	for cmd, flag := range map[string]string{
		"start": "-f", "status": "-json", "list": "-stage", "report": "-since",
		"approve": "-check", "reject": "-reason", "clear-rejection": "-check", "pause": "-as",
		"resume": "-as", "recheck": "-evidence", "abort": "-reason", "rollback": "-to",
		"restore": "-to", "report-issue": "-severity", "resolve-issue": "-issue",
		"break-glass": "-window", "override": "-window", "freeze": "-policy", "unfreeze": "-policy",
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{cmd, "-h"}, &out, &errOut)
		if code != 0 || errOut.Len() != 0 {
			t.Errorf("%s -h: exit %d, stderr %q", cmd, code, errOut.String())
		}
		if got := out.String(); !strings.HasPrefix(got, "usage: shipgate "+cmd+" ") || !strings.Contains(got, "\n  "+flag+" ") && !strings.Contains(got, "\n  "+flag+"\n") {
			t.Errorf("%s -h printed %q, without its flag %s", cmd, got, flag)
		}
	}
	// a wrong flag is still a usage error
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"approve", "--nope"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "flag provided but not defined") {
		t.Errorf("unknown flag: exit %d %q", code, errOut.String())
	}
}

// Every command of the table is dispatched, listed by usage with its one-line help, and has
// -h; no command is dispatched that the table lacks.
func TestUsageIsTheCommandTable(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &errOut); code != 0 {
		t.Fatalf("-h: exit %d %q", code, errOut.String())
	}
	for _, c := range commands() {
		if !strings.Contains(out.String(), "\n  "+c.name+" "+c.args+"\n      "+c.help+"\n") {
			t.Errorf("usage lacks %s:\n%s", c.name, out.String())
		}
		var h bytes.Buffer
		if code := run(context.Background(), []string{"help", c.name}, &h, io.Discard); code != 0 || !strings.Contains(h.String(), c.help) {
			t.Errorf("help %s: exit %d %q", c.name, code, h.String())
		}
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"nope"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "nope"`) || !strings.Contains(errOut.String(), "usage: shipgate") {
		t.Errorf("unknown command: exit %d %q", code, errOut.String())
	}
	if code := run(context.Background(), nil, &out, &errOut); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
}

// `shipgate completion bash` completes the table's commands and each command's own flags,
// run by bash itself.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	var script, errOut bytes.Buffer
	if code := run(context.Background(), []string{"completion", "bash"}, &script, &errOut); code != 0 {
		t.Fatalf("completion bash: exit %d %q", code, errOut.String())
	}
	complete := func(words ...string) string {
		t.Helper()
		cmd := exec.Command(bash, "--norc", "-c", script.String()+`
COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _shipgate; echo "${COMPREPLY[*]}"`, "bash")
		cmd.Args = append(cmd.Args, words...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"shipgate", "app"}, "approve"},
		{[]string{"shipgate", "re"}, "report reject resume recheck restore report-issue resolve-issue"},
		{[]string{"shipgate", "--otlp-endpoint", "http://x:4317", "unf"}, "unfreeze"},
		{[]string{"shipgate", "approve", "release/demo/1.4.0", "--c"}, "--check --comment"},
		{[]string{"shipgate", "start", "-"}, "--as -f --key --policy --wait"},
		{[]string{"shipgate", "completion", ""}, "bash"},
	} {
		if got := complete(c.words...); got != c.want {
			t.Errorf("%q: completed %q, want %q", c.words, got, c.want)
		}
	}
	if code := run(context.Background(), []string{"completion", "zsh"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("completion zsh: exit %d, want 2", code)
	}
}
