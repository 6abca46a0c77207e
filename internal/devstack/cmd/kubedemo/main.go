// Command kubedemo runs the demo release (deployments/examples/demo, the service alone) through
// Temporal with the gatewayapi backend: a local Kubernetes API server (kube-apiserver and etcd
// from .bin/, started by envtest, no cluster needed), the Temporal dev server and the worker
// binary, as devstack.KubeStack sets them up. The demo people sign off; each time a route's
// weights change, it prints them with the release's stage. With -rollback-at P, a release
// manager rolls the release back once production is at P %. No kubelet runs: a stand-in
// writes the Deployments' available status.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/release"
)

func main() {
	rollbackAt := flag.Float64("rollback-at", 0, "roll the release back (as release manager rm-bo) once production is at this percent; 0: let it finish")
	keep := flag.Bool("keep", false, "keep the stack's files (logs, kubeconfig) instead of removing them")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *rollbackAt, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "kubedemo:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, rollbackAt float64, keep bool) error {
	dir, err := os.MkdirTemp("", "kubedemo-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	out := &devstack.LockedWriter{W: os.Stdout}
	fmt.Fprintf(out, "kubedemo: the stack's files in %s\n", dir)
	s, err := devstack.StartKubeStack(ctx, dir, out, devstack.KubeOptions{})
	if err != nil {
		return err
	}
	defer func() { _ = s.Stop() }()
	r, err := s.Release(ctx)
	if err != nil {
		return err
	}
	id := r.In.Manifest.ID()
	if err := r.Start(ctx, s.Client, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		return err
	}
	fmt.Fprintf(out, "started %s (policy %s: the demo's gates and windows, traffic through the gatewayapi backend)\n  %s\n",
		id, devstack.KubePolicy, control.UILink(s.Temporal.UIURL, "default", id))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go watchRoutes(wctx, s, r, out, rollbackAt)
	start := time.Now()
	st, err := devstack.Follow(ctx, s.Client, r, out, true)
	if err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // the watcher prints the last change
	fmt.Fprintf(out, "%s %s in %s; worker log %s\n", id, st.State, time.Since(start).Round(time.Second), filepath.Join(dir, "worker-1.log"))
	if st.State != release.StateSucceeded && st.State != release.StateRolledBack {
		return fmt.Errorf("release ended %s: %s", st.State, st.Reason)
	}
	return nil
}

// watchRoutes prints each environment's route weights whenever they change, with the release's
// stage and production share as its status says, and sends the rollback at rollbackAt.
func watchRoutes(ctx context.Context, s *devstack.KubeStack, r devstack.Release, out *devstack.LockedWriter, rollbackAt float64) {
	type weights struct{ stable, canary int64 }
	last := map[string]weights{}
	rolledBack := false
	for ctx.Err() == nil {
		for _, env := range devstack.KubeEnvironments {
			st, ca, err := s.Weights(ctx, env)
			if err != nil {
				continue
			}
			if w := (weights{st, ca}); w != last[env] {
				last[env] = w
				status, _ := control.Status(ctx, s.Client, r.In.Manifest.ID())
				fmt.Fprintf(out, "%s   HTTPRoute %s/demo: demo-stable (%s) weight %3d, demo-canary (%s) weight %3d   [release: %s, production %g %%]\n",
					time.Now().Format("15:04:05"), env, r.In.Manifest.PreviousVersion, st, r.In.Manifest.Version, ca, status.Stage, status.TrafficPercent)
			}
		}
		if rollbackAt > 0 && !rolledBack && last["production"].canary == int64(rollbackAt) {
			rolledBack = true
			cmd := release.Command{Actor: "rm-bo", Channel: release.ChannelCLI, Reason: fmt.Sprintf("kubedemo: rollback at %g %%", rollbackAt)}
			if e, err := r.Send(ctx, s.Client, release.SignalRollback, cmd); err != nil || !e.Accepted {
				fmt.Fprintf(out, "rollback refused: %v %s\n", err, e.Reason)
			} else {
				fmt.Fprintf(out, "%s   rm-bo rolls the release back at %g %%\n", time.Now().Format("15:04:05"), rollbackAt)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}
