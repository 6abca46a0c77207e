package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Issue 17: `starter approve -h` printed "flag: help requested" and exited 2. -h on any command
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
		if got := out.String(); !strings.HasPrefix(got, "usage: starter "+cmd) || !strings.Contains(got, "\n  "+flag+" ") && !strings.Contains(got, "\n  "+flag+"\n") {
			t.Errorf("%s -h printed %q, without its flag %s", cmd, got, flag)
		}
	}
	// a wrong flag is still a usage error
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"approve", "--nope"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "flag provided but not defined") {
		t.Errorf("unknown flag: exit %d %q", code, errOut.String())
	}
}
