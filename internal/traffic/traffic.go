// Package traffic deploys a service version to an environment and moves a share of its traffic,
// through a backend: the generic webhook here; others plug in behind the same interface.
package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Change is one deploy-and-route request: Percent of the environment's traffic goes to Version,
// the rest to PreviousVersion. Percent 0 returns everything to PreviousVersion (rollback).
type Change struct {
	Service         string  `json:"service"`
	Version         string  `json:"version"`
	PreviousVersion string  `json:"previousVersion"`
	Environment     string  `json:"environment"`
	Percent         float64 `json:"percent"`
}

// Backend applies changes. Apply must be idempotent per key: a retry with the same key and the
// same change is harmless.
type Backend interface {
	Apply(ctx context.Context, key string, c Change) error
}

// Webhook POSTs the change as JSON to URL with an Idempotency-Key header; any 2xx is done.
type Webhook struct {
	URL    string
	Token  string // optional bearer token, read by the worker from its environment
	Client *http.Client
}

// maxErrorBody bounds what we quote from a failing backend's answer.
const maxErrorBody = 2048

// Apply sends the change.
func (w *Webhook) Apply(ctx context.Context, key string, c Change) error {
	if c.Percent < 0 || c.Percent > 100 {
		return fmt.Errorf("traffic webhook: percent %g out of range 0–100", c.Percent)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("traffic webhook %s: %w", w.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("traffic webhook %s: %w", w.URL, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode/100 != 2 {
		return &StatusError{URL: w.URL, Code: resp.StatusCode, Body: string(bytes.TrimSpace(msg))}
	}
	return nil
}

// StatusError is a non-2xx answer from the backend.
type StatusError struct {
	URL  string
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("traffic webhook %s answered %d: %s", e.URL, e.Code, e.Body)
}

// Permanent reports whether retrying cannot help: the backend refused the request itself
// (4xx other than 408/409/429).
func (e *StatusError) Permanent() bool {
	return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusRequestTimeout &&
		e.Code != http.StatusConflict && e.Code != http.StatusTooManyRequests
}
