package devstack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/kube"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/traffic/gatewayapi"
)

// testWriter writes a stack's progress to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// routeWrites records every write to the production route the API server reports (a watch from
// before the release): the weights each write left, in order.
type routeWrites struct {
	mu     sync.Mutex
	writes []string
}

func (r *routeWrites) watch(ctx context.Context, t *testing.T, s *KubeStack) {
	t.Helper()
	w, err := s.Kube.Kube.Dynamic.Resource(gatewayapi.HTTPRoutes).Namespace("production").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			st, ca, _ := gatewayapi.Weights(u, 0, "demo-stable", "demo-canary")
			r.mu.Lock()
			r.writes = append(r.writes, fmt.Sprintf("%d/%d", st, ca))
			r.mu.Unlock()
		}
	}()
}

func (r *routeWrites) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// TestKubeWorkerKilledBetweenPatchAndRecord: the demo release through the Temporal dev server
// and the real worker binary with the gatewayapi backend against a real API server. The worker
// SIGKILLs itself at a crash point right after the backend applied production's 25 % step and
// before the activity's result reached history. A new worker retries the step: the route is
// written for 75/25 exactly once (a watch on the route sees every write), the release goes on
// to 100 %, and a rollback then returns the route to stable, which selects 1.3.0.
func TestKubeWorkerKilledBetweenPatchAndRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s, err := StartKubeStack(ctx, t.TempDir(), testWriter{t}, KubeOptions{CrashPoints: true, Edits: []string{
		"testnetSoak: 20s", "testnetSoak: 2s", "canaryWatchMin: 10s", "canaryWatchMin: 2s",
		"{percent: 5, bake: 5s}", "{percent: 5, bake: 1s}", "{percent: 25, bake: 5s}", "{percent: 25, bake: 1s}",
		// long enough for the test to roll back from 100 % before the release succeeds
		"{percent: 100, bake: 5s}", "{percent: 100, bake: 10m}"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop the stack: %v", err)
		}
	})
	writes := &routeWrites{}
	writes.watch(ctx, t, s)
	// the worker now running started without the crash point: restart it with it
	s.KillWorker()
	s.WorkerEnv = []string{"SHIPGATE_TEST_CRASH_AT=traffic:production-25"}
	if err := s.StartWorker(); err != nil {
		t.Fatal(err)
	}
	r, err := s.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := r.In.Manifest.ID()
	if err := r.Start(ctx, s.Client, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
		t.Fatal(err)
	}
	fctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	followed := make(chan release.Status, 1)
	go func() {
		st, _ := Follow(fctx, s.Client, r, testWriter{t}, true)
		followed <- st
	}()
	if err := s.WaitWorker(10 * time.Minute); err != nil {
		t.Fatalf("the worker never reached its crash point: %v", err)
	}
	killedAt := time.Now()
	if st, ca, err := s.Weights(ctx, "production"); err != nil || st != 75 || ca != 25 {
		t.Fatalf("at the crash the route is %d/%d (%v), want the step applied: 75/25", st, ca, err)
	}
	before := writes.list()
	s.WorkerEnv = nil
	if err := s.StartWorker(); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(ctx, t, s, id, "production at 100 %", func(st release.Status) bool { return st.TrafficPercent == 100 })
	t.Logf("crash → production at 100 %% on the new worker: %s", time.Since(killedAt).Round(time.Millisecond))
	after := writes.list()
	if n := count(after, "75/25"); n != 1 {
		t.Fatalf("the route was written for 75/25 %d times, want once: %v", n, after)
	}
	if got := after[len(before):]; len(got) == 0 || got[0] != "0/100" {
		t.Fatalf("after the crash the first write to the route was %v, want the next step (0/100): the retried step must write nothing", got)
	}
	recorded := 0
	for _, d := range st.Deployments {
		if d.Environment == "production" && d.Percent == 25 {
			recorded++
		}
	}
	if recorded != 1 {
		t.Fatalf("production 25 %% recorded %d times in the release's deployments: %+v", recorded, st.Deployments)
	}
	e, err := r.Send(ctx, s.Client, release.SignalRollback, release.Command{Actor: "rm-bo", Channel: release.ChannelCLI, Reason: "test: rollback after the crash"})
	if err != nil || !e.Accepted {
		t.Fatalf("rollback: %v %s", err, e.Reason)
	}
	select {
	case st = <-followed:
	case <-ctx.Done():
		t.Fatal("the release did not end after the rollback")
	}
	if st.State != release.StateRolledBack {
		t.Fatalf("release ended %s (%s), want rolled_back", st.State, st.Reason)
	}
	if sw, cw, err := s.Weights(ctx, "production"); err != nil || sw != 100 || cw != 0 {
		t.Fatalf("after the rollback the route is %d/%d (%v), want 100/0", sw, cw, err)
	}
	svc, err := s.Kube.Kube.Core.CoreV1().Services("production").Get(ctx, "demo-stable", metav1.GetOptions{})
	if err != nil || svc.Spec.Selector[kube.LabelVersion] != "1.3.0" {
		t.Fatalf("demo-stable selects %v (%v), want 1.3.0", svc.Spec.Selector, err)
	}
	t.Logf("route writes in production: %v", writes.list())
}

func waitStatus(ctx context.Context, t *testing.T, s *KubeStack, id, what string, ok func(release.Status) bool) release.Status {
	t.Helper()
	for {
		st, err := control.Status(ctx, s.Client, id)
		if err == nil && ok(st) {
			return st
		}
		if err == nil && st.State.Final() {
			t.Fatalf("release ended %s (%s) before %s", st.State, st.Reason, what)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("release never reached %s: %v %+v", what, err, st)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
