package probe

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

func probeHTTP(ctx context.Context, hc *http.Client, in parsed) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url, nil)
	if err != nil {
		return errorf("%s check: %v", TypeHTTP, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL is what is checked: not answering is the check failing, not missing evidence.
		return failf("GET %s: %v", in.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return failf("GET %s answered %s", in.url, resp.Status)
	}
	if in.contains == "" {
		return passf("GET %s answered %s", in.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return errorf("GET %s: reading body: %v", in.url, err)
	}
	if !bytes.Contains(body, []byte(in.contains)) {
		return failf("GET %s answered %s but its first %d bytes do not contain %q", in.url, resp.Status, len(body), in.contains)
	}
	return passf("GET %s answered %s and contains %q", in.url, resp.Status, in.contains)
}
