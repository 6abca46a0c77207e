package dora

import (
	"context"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/shipgate/shipgate/internal/control"
	"github.com/shipgate/shipgate/internal/release"
)

// Source reads releases from Temporal: visibility lists them, the status query gives their
// stages, traffic and audit (a query replays the release on a worker), the first history event
// their manifest. A closed release never changes, so it is read once and kept.
type Source struct {
	Client client.Client

	mu     sync.Mutex
	closed map[string]Release // by workflow id + run id
}

// Releases returns every release still running or closed at or after since, newest first,
// one per release id (its latest run).
func (s *Source) Releases(ctx context.Context, since time.Time) ([]Release, error) {
	query := fmt.Sprintf("WorkflowType = '%s' AND (ExecutionStatus = 'Running' OR CloseTime >= '%s')",
		release.ReleaseWorkflowName, since.UTC().Format(time.RFC3339))
	var out []Release
	seen := map[string]bool{}
	err := control.List(ctx, s.Client, query, func(e *workflowpb.WorkflowExecutionInfo) error {
		id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
		if seen[id] {
			return nil
		}
		seen[id] = true
		running := e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		if r, ok := s.cached(id, run); ok && !running {
			out = append(out, r)
			return nil
		}
		var ended time.Time
		if !running && e.GetCloseTime() != nil {
			ended = e.GetCloseTime().AsTime()
		}
		r, err := s.read(ctx, id, run, ended)
		if err != nil {
			return err
		}
		if !running {
			s.keep(id, run, r)
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing releases: %w", err)
	}
	return out, nil
}

func (s *Source) cached(id, run string) (Release, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.closed[id+"/"+run]
	return r, ok
}

func (s *Source) keep(id, run string, r Release) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed == nil {
		s.closed = map[string]Release{}
	}
	s.closed[id+"/"+run] = r
}

func (s *Source) read(ctx context.Context, id, run string, ended time.Time) (Release, error) {
	st, err := control.Status(ctx, s.Client, id)
	if err != nil {
		return Release{}, err
	}
	m, err := s.manifest(ctx, id, run)
	if err != nil {
		return Release{}, err
	}
	return FromStatus(st, m, ended), nil
}

// manifest is the release's input manifest, from its start event.
func (s *Source) manifest(ctx context.Context, id, run string) (release.Manifest, error) {
	it := s.Client.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := it.Next()
	if err != nil {
		return release.Manifest{}, fmt.Errorf("release %s: reading its start: %w", id, err)
	}
	payloads := ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	if len(payloads) == 0 {
		return release.Manifest{}, fmt.Errorf("release %s: its start carries no input", id)
	}
	var in release.Input
	if err := converter.GetDefaultDataConverter().FromPayload(payloads[0], &in); err != nil {
		return release.Manifest{}, fmt.Errorf("release %s: decoding its input: %w", id, err)
	}
	return in.Manifest, nil
}
