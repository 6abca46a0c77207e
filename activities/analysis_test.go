package activities

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shipgate/shipgate/internal/analysis"
	"github.com/shipgate/shipgate/internal/release"
)

// Without alerts in the policy, an interval's activity still lasts until the interval's end
// before it measures; with Prometheus unreachable its verdicts are errors, never a pass, and
// the interval comes back as a compact record.
func TestAnalyzeIntervalWaitsUntilTheIntervalEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	limit := 0.05
	spec := analysis.Spec{Interval: "1s", Metrics: []analysis.Metric{{Name: "err", Query: `rate(x{service="{{.Service}}"}[1s])`, Threshold: &limit, Direction: analysis.Max}}}
	a := &Analysis{PrometheusURL: closed, AlertPoll: 50 * time.Millisecond}
	begin := time.Now()
	v, err := execute(a.AnalyzeInterval, release.AnalyzeRequest{Spec: spec, Vars: analysis.Vars{Service: "demo", Version: "2"},
		Run: analysis.NewRun(spec, 1), Until: begin.Add(400 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	var res release.AnalyzeResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < 400*time.Millisecond {
		t.Fatalf("returned after %s, before the interval's end", took)
	}
	last := res.Run.Metrics[0].Last
	if last == nil || !last.Error || last.Query != `rate(x{service="demo"}[1s])` || res.Decision.Action == analysis.PromoteEligible {
		t.Fatalf("result %+v: want an error verdict with the rendered query", res)
	}
	if res.Record == nil || res.Record.N != 1 || !strings.Contains(res.Record.String(), "err inconclusive") {
		t.Fatalf("record %+v", res.Record)
	}
}
