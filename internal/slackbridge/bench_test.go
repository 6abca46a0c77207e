package slackbridge

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
	"github.com/shipgate/shipgate/internal/slackapp"
)

const benchClickers = 50

// benchPolicy adds a group of 50 approvers and a G1 signoff that needs all of them.
func benchPolicy(p string) string {
	var g strings.Builder
	g.WriteString("groups:\n  bench:\n    members:\n")
	for i := range benchClickers {
		fmt.Fprintf(&g, "      - {id: bench%02d, slack: U0BENCH%02d}\n", i, i)
	}
	p = strings.Replace(p, "groups:\n", g.String(), 1)
	return strings.Replace(p, "      - {name: peer-review, kind: signoff, group: reviewers, approvals: 2}\n",
		"      - {name: peer-review, kind: signoff, group: reviewers, approvals: 2}\n"+
			fmt.Sprintf("      - {name: bench-review, kind: signoff, group: bench, approvals: %d}\n", benchClickers), 1)
}

// BenchmarkConcurrentSlackClicks: 50 approvers click Approve on the same signoff message at
// once, signed, against the worker's /slack/interactions (NewWorker's handler), with the real
// workflow on the real dev server. It reports p50/p99 of the time to the HTTP ack and of the
// time until each approval shows in `status`. One op is one release and 50 clicks.
//
//	go test -run '^$' -bench ConcurrentSlackClicks -benchtime 3x ./internal/slackbridge/
func BenchmarkConcurrentSlackClicks(b *testing.B) {
	e := startE2E(b, benchPolicy)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var acks, visible []time.Duration
	wfts := 0
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		in := e.in
		in.Manifest.Version = fmt.Sprintf("1.4.%d", 100+i)
		id := in.Manifest.ID()
		if err := e.release(in).Start(ctx, e.c, "rm-ada", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL); err != nil {
			b.Fatal(err)
		}
		var msg slack.Message
		for msg.Timestamp == "" {
			for _, m := range e.ws.Messages(e2eChannel) {
				if key, _ := m.Metadata.EventPayload[slackapp.MetadataKeyField].(string); strings.HasPrefix(key, id+"/") && strings.HasSuffix(key, "/signoff/bench-review") {
					msg = m
				}
			}
			if ctx.Err() != nil {
				b.Fatal("no bench-review message")
			}
			time.Sleep(20 * time.Millisecond)
		}
		before := wftCount(b, ctx, e.c, id)
		b.StartTimer()
		a, v := clickAll(b, ctx, e, id, msg)
		b.StopTimer()
		wfts += wftCount(b, ctx, e.c, id) - before
		acks, visible = append(acks, a...), append(visible, v...)
		if _, err := e.release(in).Send(ctx, e.c, release.SignalAbort, release.Command{Actor: "rm-ada", Channel: release.ChannelCLI, Reason: "benchmark done"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	e.sl.Handler.Wait()
	b.ReportMetric(pct(acks, 50).Seconds()*1000, "ack-p50-ms")
	b.ReportMetric(pct(acks, 99).Seconds()*1000, "ack-p99-ms")
	b.ReportMetric(pct(visible, 50).Seconds()*1000, "status-p50-ms")
	b.ReportMetric(pct(visible, 99).Seconds()*1000, "status-p99-ms")
	b.ReportMetric(float64(wfts)/float64(b.N), "workflow-tasks/op")
}

// wftCount is the number of workflow tasks a release has completed so far.
func wftCount(b *testing.B, ctx context.Context, c client.Client, id string) int {
	n := 0
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			n++
		}
	}
	return n
}

// clickAll fires the 50 clicks at once and watches status until every approval is in it.
func clickAll(b *testing.B, ctx context.Context, e *e2e, id string, msg slack.Message) (acks, visible []time.Duration) {
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range benchClickers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			code, err := e.slack.Click(ctx, fmt.Sprintf("U0BENCH%02d", i), e2eChannel, msg, slackapp.ActionApprove, e.ws.ResponseURL(fmt.Sprintf("bench%02d", i)))
			d := time.Since(t0)
			if err != nil || code != http.StatusOK {
				b.Errorf("click %d: %d %v", i, code, err)
			}
			mu.Lock()
			acks = append(acks, d)
			mu.Unlock()
		}()
	}
	seen := map[string]bool{}
	for len(seen) < benchClickers {
		st, err := control.Status(ctx, e.c, id)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Since(start)
		for _, g := range st.Gates {
			for _, c := range g.Checks {
				if c.Name != "bench-review" {
					continue
				}
				for _, a := range c.Approvals {
					if !seen[a.Actor] {
						seen[a.Actor] = true
						visible = append(visible, now)
					}
				}
			}
		}
		if ctx.Err() != nil {
			b.Fatalf("only %d of %d approvals showed in status", len(seen), benchClickers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	return acks, visible
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}
