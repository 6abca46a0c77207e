package control

import (
	"context"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// List calls fn for every execution a visibility query matches, page after page, in the
// server's order; it stops at the first error, fn's or the server's. The CLI, the worker's
// gauges and the DORA report all list through it, so none of them reads only the first page.
func List(ctx context.Context, c client.Client, query string, fn func(*workflowpb.WorkflowExecutionInfo) error) error {
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return err
		}
		for _, e := range resp.GetExecutions() {
			if err := fn(e); err != nil {
				return err
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

// Keyword reads a keyword search attribute of a listed execution; "" when it is not set.
func Keyword(e *workflowpb.WorkflowExecutionInfo, name string) string {
	var v string
	_ = converter.GetDefaultDataConverter().FromPayload(e.GetSearchAttributes().GetIndexedFields()[name], &v)
	return v
}
