package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/shipgate/shipgate/internal/chain"
	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

func (c *cli) start(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	manifestPath := fs.String("f", "", "the release manifest (release.yaml)")
	policy := fs.String("policy", release.DefaultPolicyName, "the name of one of the worker's policies")
	wait := fs.Bool("wait", false, "wait until the release ends and print how")
	as := fs.String("as", "", "who starts the release: your member id in the policy (default $USER)")
	key := keyFlag(fs)
	if _, err := parse(fs, args, false); err != nil {
		return err
	}
	if *manifestPath == "" {
		return &exitError{code: 2, msg: "start: -f MANIFEST is required"}
	}
	if !release.ValidPolicyName(*policy) {
		return &exitError{code: 2, msg: fmt.Sprintf("start: --policy %q: name one of the worker's policies (lower-case letters, digits, dashes); the platform team keeps policy files on the worker", *policy)}
	}
	m, err := release.LoadRelease(*manifestPath)
	if err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	if err := chain.CheckContracts(*manifestPath, m.Contracts); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	store, err := evstore.Open(ctx, os.Getenv(evstore.EnvStore))
	if err != nil {
		return &exitError{code: 1, msg: "start: " + err.Error()}
	}
	// The worker reads only what is uploaded here, by digest: never a path or URL of ours.
	if err := evstore.Upload(ctx, store, *manifestPath, m, nil); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	// what the workflow will require of the input: the commit, and blobs only
	if err := release.ValidateStored(*manifestPath, m); err != nil {
		return &exitError{code: 1, msg: err.Error()}
	}
	actor := *as
	if actor == "" {
		actor = envOr("USER", "unknown")
	}
	signer, err := control.LoadSigner(*key)
	if err != nil {
		return &exitError{code: 1, msg: "start: " + err.Error()}
	}
	cl, err := c.connect(ctx)
	if err != nil {
		return err
	}
	id := m.ID()
	// The workflow's lane decides at the canary; this only saves a release that could never
	// get there its testnet weeks (with releases in flight the live version may still change).
	if ls, ok, err := control.Lane(ctx, cl, m.Service); err == nil && ok && ls.Holder == nil && len(ls.Queue) == 0 &&
		ls.Live != "" && ls.Live != m.PreviousVersion {
		return &exitError{code: 1, msg: fmt.Sprintf("start: %s: previousVersion: production serves %s (left by %s), not %s; a release goes from what production serves",
			*manifestPath, ls.Live, ls.LiveBy, m.PreviousVersion)}
	}
	run, err := control.Start(ctx, cl, signer, actor, release.Input{Manifest: *m, PolicyName: *policy}, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
	if err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return &exitError{code: 1, msg: fmt.Sprintf("start: release %s is already running", id)}
		}
		return err
	}
	if err := control.Admitted(ctx, cl, run); err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("start %s: %v", id, err)}
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

// keyFlag is the --key flag every command that signs takes.
func keyFlag(fs *flag.FlagSet) *string {
	return fs.String("key", os.Getenv(control.EnvKey), "your SSH key: a private key file, or the .pub of a key in ssh-agent (env "+control.EnvKey+"; default: ssh-agent's only key)")
}
