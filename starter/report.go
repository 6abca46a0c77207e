package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/shipgate/shipgate/internal/dora"
)

// report prints the DORA metrics of the releases over a period, per service and overall.
func (c *cli) report(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	since := fs.String("since", "30d", "start of the period: 30d, 720h, 2026-11-01 or an RFC 3339 time")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, err := parse(fs, args, false); err != nil {
		return err
	}
	now := time.Now().UTC()
	from, err := dora.ParseSince(*since, now)
	if err != nil {
		return &exitError{code: 2, msg: "report: " + err.Error()}
	}
	cl, err := c.connect(ctx)
	if err != nil {
		return err
	}
	src := &dora.Source{Client: cl}
	rs, err := src.Releases(ctx, from)
	if err != nil {
		return err
	}
	rep := dora.Compute(rs, from, now)
	if *asJSON {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(c.out, rep)
	return nil
}

func printReport(out io.Writer, rep dora.Report) {
	days := rep.Until.Sub(rep.Since).Hours() / 24
	fmt.Fprintf(out, "DORA metrics from %s to %s (%.1f days)\n\n", rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), days)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tDEPLOYMENTS\tPER DAY\tLEAD TIME (MEDIAN)\tCHANGE FAILURE RATE\tTIME TO RESTORE (MEDIAN)")
	row := func(name string, m dora.Metrics) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\t%s\t%s\n", name, m.Deployments, m.PerDay, median(m.LeadTime, m.WithoutCommitTime),
			fmt.Sprintf("%.0f %% (%d of %d)", 100*m.ChangeFailureRate, m.Failed, m.ReachedProduction), median(m.TimeToRestore, 0))
	}
	for _, m := range rep.Services {
		row(m.Service, m)
	}
	row("all", rep.All)
	_ = tw.Flush()
}

// median shows a summary's median and how many it is of, "-" when there is none.
func median(d dora.Durations, without int) string {
	if d.N == 0 {
		if without > 0 {
			return fmt.Sprintf("- (%d without commitTime)", without)
		}
		return "-"
	}
	s := fmt.Sprintf("%s (n=%d)", roundDuration(d.Median), d.N)
	if without > 0 {
		s += fmt.Sprintf(", %d without commitTime", without)
	}
	return s
}

// roundDuration keeps a duration readable: milliseconds under a minute (a rollback on a fast
// backend takes well under a second), seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
