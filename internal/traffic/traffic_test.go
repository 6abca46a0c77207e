package traffic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWebhookSendsChangeWithKey(t *testing.T) {
	var got Change
	var key, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, auth = r.Header.Get("Idempotency-Key"), r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	wh := &Webhook{URL: srv.URL, Token: "s3cret"}
	c := Change{Service: "demo", Version: "1.4.0", PreviousVersion: "1.3.0", Environment: "production", Percent: 5}
	if err := wh.Apply(context.Background(), "release/demo/1.4.0/canary", c); err != nil {
		t.Fatal(err)
	}
	if got != c || key != "release/demo/1.4.0/canary" || auth != "Bearer s3cret" {
		t.Fatalf("got %+v key %q auth %q", got, key, auth)
	}
}

func TestWebhookErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unknown environment \"prod\"", http.StatusBadRequest)
	}))
	defer srv.Close()
	err := (&Webhook{URL: srv.URL}).Apply(context.Background(), "k", Change{Percent: 5})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 400 || !se.Permanent() || !strings.Contains(err.Error(), `unknown environment "prod"`) {
		t.Fatalf("want a permanent 400 naming the reason, got %v", err)
	}
	if err := (&Webhook{URL: srv.URL}).Apply(context.Background(), "k", Change{Percent: 101}); err == nil {
		t.Fatal("percent 101 accepted")
	}
	srv.Close()
	if err := (&Webhook{URL: srv.URL}).Apply(context.Background(), "k", Change{Percent: 5}); err == nil || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("unreachable backend: %v", err)
	}
}
