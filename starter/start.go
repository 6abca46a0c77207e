package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/checks"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

func (c *cli) start(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	manifestPath := fs.String("f", "", "the release manifest (release.yaml)")
	policyPath := fs.String("policy", "", "the policy (policy.yaml); the built-in default when empty")
	wait := fs.Bool("wait", false, "wait until the release ends and print how")
	as := fs.String("as", "", "who starts the release (default $USER)")
	if _, err := parse(fs, args, false); err != nil {
		return err
	}
	if *manifestPath == "" {
		return &exitError{code: 2, msg: "start: -f MANIFEST is required"}
	}
	in, err := release.Load(*manifestPath, *policyPath, checks.Validate)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if err := chain.CheckContracts(*manifestPath, in.Manifest.Contracts); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	in.StartedBy = *as
	if in.StartedBy == "" {
		in.StartedBy = envOr("USER", "unknown")
	}
	cl, err := c.connect(ctx)
	if err != nil {
		return err
	}
	id := in.Manifest.ID()
	run, err := control.Start(ctx, cl, in, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return &exitError{code: 1, msg: fmt.Sprintf("start: release %s is already running", id)}
		}
		return err
	}
	fmt.Fprintln(c.out, id)
	if !*wait {
		return nil
	}
	var res release.Result
	if err := run.Get(ctx, &res); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s %s in %s %s\n", id, res.State, res.Stage, res.Reason)
	if res.State != release.StateSucceeded {
		return &exitError{code: 3}
	}
	return nil
}
