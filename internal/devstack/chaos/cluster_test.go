package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/shipgate/shipgate/internal/release"
)

// TestCluster runs shipgate on the production-shaped cluster: the Temporal server v1.29.1 on
// PostgreSQL with two workers. One worker is SIGKILLed in the middle of a release (while it
// holds the release: its last activity, and the workflow in its cache) and the other carries
// the release on to production; then the server is SIGKILLed and restarted mid-soak on the
// same database, and the soak ends at the deadline it recorded. It runs in the suite (not
// only with -chaos): it needs .bin/temporal-server (go tool task tools) and Debian's
// postgresql, and fails, saying so, without them.
func TestCluster(t *testing.T) {
	seed := time.Now().UnixNano()
	if v := os.Getenv("SHIPGATE_CHAOS_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("seed %d (rerun with SHIPGATE_CHAOS_SEED=%d)", seed, seed)
	begin := time.Now()
	su := &suite{t: t, rng: rand.New(rand.NewPCG(uint64(seed), 0)), live: "1.3.0"}
	su.s = newStack(t, stackOptions{cluster: true, workers: 2})
	t.Logf("stack up in %s: PostgreSQL on 127.0.0.1:%d, Temporal server frontend %s, two workers %v; logs in %s and %s",
		time.Since(begin).Round(time.Second), su.s.cluster.Ports.Postgres, su.s.temporal.Address, su.s.workerAt, su.s.dir, su.s.cluster.Dir)
	report := func(t *testing.T, r Run) {
		t.Logf("%s: %s in %s: %s", r.Scenario, r.Name, r.Duration.Round(100*time.Millisecond), r.Note)
		for _, p := range r.Problems {
			t.Error(p)
		}
	}
	t.Run("worker-failover", func(t *testing.T) { report(t, su.failover()) })
	t.Run("server-restart", func(t *testing.T) { report(t, su.serverKill()) })
}

// failover: a release with contracts on two workers; in staging, the worker that holds the
// release (the one running its activity, else the one that ran its last) is SIGKILLed and
// stays dead. The other must carry the release to production, every step and transaction
// once. The note gives the failover time: from the kill to the next activity the other worker
// completed, and to the release's next workflow task.
func (su *suite) failover() Run {
	const version = "2.0.0"
	run := Run{Scenario: "worker-failover", Name: "release " + version + " (contracts, analysis), one of two workers SIGKILLed in staging"}
	fail := func(err error) Run { run.Problems = append(run.Problems, err.Error()); return run }
	r, err := su.release(version, "chaos", firstContracts)
	if err != nil {
		return fail(err)
	}
	before, err := su.nonces()
	if err != nil {
		return fail(err)
	}
	id := r.In.Manifest.ID()
	start := time.Now()
	if err := su.start(r); err != nil {
		return fail(err)
	}
	killed := -1
	var killedAt time.Time
	var killedID, inFlight string // the dead worker's identity, the activity it was running
	st, err := su.follow(r, 10*time.Minute, func(st release.Status) {
		if killed >= 0 || st.Stage != release.StageStaging {
			return
		}
		slot, identity, running := su.holder(id)
		if slot < 0 {
			return // no activity seen yet: next round
		}
		killedAt = time.Now()
		su.s.killWorker(slot)
		killed, killedID, inFlight = slot, identity, running
	})
	run.Duration = time.Since(start)
	if err != nil {
		return fail(err)
	}
	if killed < 0 {
		return fail(errors.New("no worker was killed: the release was never seen in staging with an activity started"))
	}
	run.Kills = 1
	if st.State != release.StateSucceeded {
		run.Problems = append(run.Problems, fmt.Sprintf("release ended %s: %s", st.State, st.Reason))
	}
	run.Problems = append(run.Problems, ExactlyOnce(StepsOf(su.s.steps(), version, su.live), allSteps, true)...)
	txProblems, txNote := su.checkTransactions(st, before, 2)
	run.Problems = append(run.Problems, txProblems...)
	su.proxies = map[string][2]common.Address{}
	for _, d := range st.Contracts {
		if d.Kind == "proxy" {
			su.proxies[d.Chain] = [2]common.Address{common.HexToAddress(d.Address), common.HexToAddress(d.Implementation)}
		}
	}
	// from the history: after the kill, only the other worker worked
	events, err := su.history(id)
	if err != nil {
		return fail(err)
	}
	var nextActivity, nextTask, retried time.Duration
	survivors := map[string]bool{}
	activityOf := map[int64]string{} // scheduled event id → activity id
	for _, ev := range events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			activityOf[ev.GetEventId()] = a.GetActivityId()
		}
		at := ev.GetEventTime().AsTime()
		if at.Before(killedAt) {
			continue
		}
		var who string
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			who = a.GetIdentity()
			if nextActivity == 0 {
				nextActivity = at.Sub(killedAt)
			}
			if inFlight != "" && activityOf[a.GetScheduledEventId()] == inFlight {
				retried = at.Sub(killedAt)
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			who = ev.GetWorkflowTaskCompletedEventAttributes().GetIdentity()
			if nextTask == 0 {
				nextTask = at.Sub(killedAt)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			who = ev.GetActivityTaskStartedEventAttributes().GetIdentity()
		}
		if who == "" {
			continue
		}
		if who == killedID {
			run.Problems = append(run.Problems, fmt.Sprintf("event %d (%s) after the kill names the killed worker %s", ev.GetEventId(), ev.GetEventType(), who))
		}
		survivors[who] = true
	}
	if len(survivors) == 0 || nextActivity == 0 {
		run.Problems = append(run.Problems, "no activity was completed after the kill")
	}
	held := "its last activity done"
	if inFlight != "" {
		held = fmt.Sprintf("activity %s in flight, completed by the other %.1f s after the kill", inFlight, retried.Seconds())
		if retried == 0 { // the release may have canceled it (a wait that ended otherwise): it succeeded all the same
			held = fmt.Sprintf("activity %s in flight (not completed after the kill)", inFlight)
		}
	}
	run.Note = fmt.Sprintf("killed worker %d (%s) in staging with %s; the other (%s) completed the next activity %.1f s and the release's next workflow task %.1f s after the kill; %s",
		killed+1, killedID, held, strings.Join(slices.Sorted(maps.Keys(survivors)), ", "), nextActivity.Seconds(), nextTask.Seconds(), txNote)
	if st.State == release.StateSucceeded {
		su.live = version
	}
	return run
}

// holder is the worker slot that holds the release: the one whose activity is running (its
// activity id in running), else the one that started its latest activity; -1 when no activity
// has started yet.
func (su *suite) holder(id string) (slot int, identity, running string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if d, err := su.s.c.DescribeWorkflowExecution(ctx, id, ""); err == nil {
		for _, pa := range d.GetPendingActivities() {
			if pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
				if i := su.s.workerOf(pa.GetLastWorkerIdentity()); i >= 0 {
					return i, pa.GetLastWorkerIdentity(), pa.GetActivityId()
				}
			}
		}
	}
	events, err := su.history(id)
	if err != nil {
		return -1, "", ""
	}
	for i := len(events) - 1; i >= 0; i-- {
		if a := events[i].GetActivityTaskStartedEventAttributes(); a != nil {
			if w := su.s.workerOf(a.GetIdentity()); w >= 0 {
				return w, a.GetIdentity(), ""
			}
		}
	}
	return -1, "", ""
}

// workerOf is the slot of the running worker with a Temporal identity (the SDK's default,
// pid@host); -1 if none.
func (s *stack) workerOf(identity string) int {
	pid, _, ok := strings.Cut(identity, "@")
	if !ok {
		return -1
	}
	for i, w := range s.workers {
		if w != nil && w.ProcessState == nil && strconv.Itoa(w.Process.Pid) == pid {
			return i
		}
	}
	return -1
}

// history is a workflow's history, read through the frontend.
func (su *suite) history(id string) ([]*historypb.HistoryEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := su.s.c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var out []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
