package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// s2s is the SDK's schedule-to-start histograms of one worker, summed over their labels, and
// the activity tasks it ran: an eager activity (started in the completion of the workflow task
// that scheduled it, README "Sizing") never waited in a queue and has no schedule-to-start.
type s2s struct {
	actSum, actCount, wftSum, wftCount, actRun float64
}

// scrape reads a worker's /metrics (Prometheus text format) for the SDK's schedule-to-start
// latencies: how long tasks waited in the server's queues for a worker to take them.
func scrape(url string) (s2s, error) {
	// minutes: the worker's /metrics counts releases through visibility, slow on a loaded server
	cl := &http.Client{Timeout: 2 * time.Minute}
	resp, err := cl.Get(url)
	if err != nil {
		return s2s{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s2s{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return s2s{}, err
	}
	var out s2s
	fields := map[string]*float64{
		"temporal_activity_schedule_to_start_latency_seconds_sum":        &out.actSum,
		"temporal_activity_schedule_to_start_latency_seconds_count":      &out.actCount,
		"temporal_workflow_task_schedule_to_start_latency_seconds_sum":   &out.wftSum,
		"temporal_workflow_task_schedule_to_start_latency_seconds_count": &out.wftCount,
		"temporal_activity_execution_latency_seconds_count":              &out.actRun,
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		dst, ok := fields[name]
		if !ok {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			return s2s{}, fmt.Errorf("%s: %q: %w", url, line, err)
		}
		*dst += v
	}
	return out, nil
}
