// Package searchattr registers shipgate's search attributes on a Temporal namespace, so
// releases can be listed by service, version, stage and state in the CLI and the UI.
package searchattr

import (
	"github.com/shipgate/shipgate/internal/release"

	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
)

// Names are the keyword search attributes a release sets.
var Names = release.SearchAttrs

// Ensure adds the missing ones; it is safe to call on every worker start.
func Ensure(ctx context.Context, c client.Client, namespace string) error {
	ops := c.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("listing search attributes of namespace %s: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, n := range Names {
		if _, ok := have.GetCustomAttributes()[n]; !ok {
			missing[n] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing}); err != nil {
		// Several workers starting together on a fresh namespace race to add them: the
		// losers are refused (already exists), and the attributes are there all the same.
		if again, lerr := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace}); lerr == nil && hasAll(again.GetCustomAttributes()) {
			return nil
		}
		return fmt.Errorf("adding search attributes %v to namespace %s: %w", keys(missing), namespace, err)
	}
	return nil
}

func hasAll(have map[string]enumspb.IndexedValueType) bool {
	for _, n := range Names {
		if _, ok := have[n]; !ok {
			return false
		}
	}
	return true
}

func keys(m map[string]enumspb.IndexedValueType) []string {
	out := make([]string, 0, len(m))
	for _, n := range Names {
		if _, ok := m[n]; ok {
			out = append(out, n)
		}
	}
	return out
}
