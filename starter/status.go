package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

func (c *cli) query(ctx context.Context, id string) (release.Status, error) {
	cl, err := c.connect(ctx)
	if err != nil {
		return release.Status{}, err
	}
	return control.Status(ctx, cl, id)
}

func (c *cli) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print one JSON object")
	watch := fs.Bool("watch", false, "keep printing until the release ends")
	id, err := parse(fs, args, true)
	if err != nil {
		return err
	}
	last := ""
	for {
		st, err := c.query(ctx, id)
		if err != nil {
			return err
		}
		var b strings.Builder
		if *asJSON {
			enc := json.NewEncoder(&b)
			enc.SetIndent("", "  ")
			if err := enc.Encode(st); err != nil {
				return err
			}
		} else {
			printStatus(&b, st)
		}
		if b.String() != last {
			fmt.Fprint(c.out, b.String())
			last = b.String()
		}
		if !*watch || st.State.Final() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// printStatus is the human view: stage and state, what it waits for, gates, windows, audit tail.
func printStatus(w io.Writer, st release.Status) {
	fmt.Fprintf(w, "%s  %s → %s  (rollback target %s)\n", st.ID, st.Stage, st.State, st.Previous)
	if st.Execution != "" {
		fmt.Fprintf(w, "  ENDED FROM OUTSIDE: the execution was %s while the release was %s in %s; nothing returned its traffic (%g %%) or proxies\n",
			st.Execution, st.State, st.Stage, st.TrafficPercent)
	}
	if st.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", st.Reason)
	}
	fmt.Fprintf(w, "  traffic: %g %%   policy: %s %s\n", st.TrafficPercent, st.PolicyName, st.PolicyDigest)
	if l := st.Line; l != nil && l.Frozen && !st.State.Final() {
		fmt.Fprintf(w, "  LINE STOPPED by %s at %s: %s\n", l.By, l.At.Local().Format(time.RFC3339), l.Reason)
	}
	for _, x := range st.WaitingFor {
		fmt.Fprintf(w, "  waiting for: %s\n", x)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nGATE\tCHECK\tKIND\tSTATE\tDETAIL")
	for _, g := range st.Gates {
		fmt.Fprintf(tw, "%s %s\t\t\t%s\t(before %s)\n", g.ID, g.Name, g.State, g.Before)
		for _, ch := range g.Checks {
			detail := ch.Detail
			if ch.Applies != "" {
				detail = strings.TrimSpace(detail + " [" + ch.Applies + "]")
			}
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", ch.Name, ch.Kind, ch.State, detail)
		}
	}
	fmt.Fprintln(tw, "\nWINDOW\tSTATE\tENDS\tLEFT\tNOTE")
	now := time.Now()
	for _, win := range st.Windows {
		ends, left := "", ""
		if !win.EndsAt.IsZero() {
			ends = win.EndsAt.Local().Format(time.RFC3339)
			if win.State == release.WindowOpen && win.EndsAt.After(now) {
				left = win.EndsAt.Sub(now).Round(time.Second).String()
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", win.Name, win.State, ends, left, win.Note)
	}
	printContracts(tw, st)
	_ = tw.Flush()
	for _, is := range st.Issues {
		state := "open"
		if is.ResolvedAt != nil {
			state = "resolved by " + is.ResolvedBy
		}
		fmt.Fprintf(w, "  issue #%d %s %q (%s)\n", is.N, is.Severity, is.Title, state)
	}
	printAnalyses(w, st.Analyses)
	from := max(0, len(st.Audit)-8)
	fmt.Fprintln(w, "\nRECENT AUDIT")
	for _, a := range st.Audit[from:] {
		verdict := "accepted"
		if !a.Accepted {
			verdict = "refused"
		}
		fmt.Fprintf(w, "  %s %s/%s %s %s %s %s\n", a.At.Local().Format("15:04:05"), a.Actor, a.Channel, a.Action, a.Target, verdict, a.Reason)
	}
}

// printContracts lists every contract transaction and the rollback plan's on-chain part.
func printContracts(tw io.Writer, st release.Status) {
	if len(st.Contracts) > 0 {
		fmt.Fprintln(tw, "\nCHAIN\tCONTRACT\tOP\tKIND\tADDRESS\tTX\tBLOCK\tCONF\tCODE HASH\tIMPLEMENTATION")
		for _, d := range st.Contracts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", d.Chain, d.Contract, d.Op, d.Kind, d.Address, d.TxHash, d.Block, d.Confirmations, d.CodeHash, d.Implementation)
		}
	}
	for _, g := range st.Governance {
		fmt.Fprintf(tw, "\nGOVERNED UPGRADE\t%s on %s: %s", g.Contract, g.Chain, g.Phase)
		if g.Approvals != "" {
			fmt.Fprintf(tw, " (approvals %s)", g.Approvals)
		}
		if !g.ReadyAt.IsZero() {
			fmt.Fprintf(tw, " (ready %s)", g.ReadyAt.Local().Format(time.RFC3339))
		}
		fmt.Fprintln(tw)
		for _, l := range g.Summary {
			fmt.Fprintf(tw, "\t%s\n", l)
		}
		if g.Refused != "" {
			fmt.Fprintf(tw, "\trefused: %s\n", g.Refused)
		}
		if g.Stopped != "" {
			fmt.Fprintf(tw, "\tstopped: %s\n", g.Stopped)
		}
		for _, l := range g.Rejection {
			fmt.Fprintf(tw, "\trejection: %s\n", l)
		}
		for _, l := range g.Cancel {
			fmt.Fprintf(tw, "\tcancellation: %s\n", l)
		}
	}
	if st.RollbackPlan != nil {
		fmt.Fprintf(tw, "\nROLLBACK PLAN\t%s to %s (recorded %s)\n", st.RollbackPlan.Environment, st.RollbackPlan.TargetVersion, st.RollbackPlan.RecordedAt.Local().Format(time.RFC3339))
		for _, c := range st.RollbackPlan.Contracts {
			fmt.Fprintf(tw, "\t%s\n", c)
		}
	}
}

// printAnalyses shows each analysis with the latest verdict of every metric (rule, values,
// threshold, rendered query) and, while it runs, its last few intervals.
func printAnalyses(w io.Writer, as []release.AnalysisOutcome) {
	if len(as) == 0 {
		return
	}
	fmt.Fprintln(w, "\nANALYSIS")
	for _, a := range as {
		fmt.Fprintf(w, "  %s %s after %d intervals: %s\n", a.Step, a.Action, a.Intervals, a.Reason)
		for _, m := range a.Metrics {
			if m.Last == nil {
				continue
			}
			fmt.Fprintf(w, "    %s\n      %s\n", m.Last.Evidence(), m.TimelineString())
		}
		for _, r := range a.Recent[max(0, len(a.Recent)-3):] {
			fmt.Fprintf(w, "    %s\n", r)
		}
	}
}

func (c *cli) list(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	stage := fs.String("stage", "", "only releases in this stage")
	state := fs.String("state", "", "only releases in this state")
	if _, err := parse(fs, args, false); err != nil {
		return err
	}
	if *stage != "" && !release.Stage(*stage).Valid() {
		return &exitError{code: 2, msg: fmt.Sprintf("list: unknown stage %q", *stage)}
	}
	q := "WorkflowType = '" + release.ReleaseWorkflowName + "'"
	if *stage != "" {
		q += " AND " + release.SearchAttrStage + " = '" + *stage + "'"
	}
	if *state != "" {
		q += " AND " + release.SearchAttrState + " = '" + strings.ReplaceAll(*state, "'", "") + "'"
	}
	cl, err := c.connect(ctx)
	if err != nil {
		return err
	}
	lines, err := control.Lines(ctx, cl)
	if err != nil {
		return err
	}
	printLines(c.out, lines)
	tw := tabwriter.NewWriter(c.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTAGE\tSTATE\tSTARTED\tWAITS FOR")
	err = control.List(ctx, cl, q, func(e *workflowpb.WorkflowExecutionInfo) error {
		stg, sta, waits := control.Keyword(e, release.SearchAttrStage), control.Keyword(e, release.SearchAttrState), control.Keyword(e, release.SearchAttrWaitsFor)
		if end := control.ExecutionEnd(e.GetStatus()); end != "" {
			sta = end + " (was " + sta + ")" // the workflow did not end itself: its last state is stale
			waits = ""                       // and waits for nobody
		}
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.GetExecution().GetWorkflowId(), stg, sta, e.GetStartTime().AsTime().Local().Format(time.RFC3339), waits)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}
