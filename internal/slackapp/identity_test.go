package slackapp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIdentities(t *testing.T) {
	ids, err := NewIdentities(map[string]string{"U01ALICE": "alice@example.com", " U02BOB ": " bob@example.com "})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		slackID string
		want    string
		wantErr bool
	}{
		{"U01ALICE", "alice@example.com", false},
		{"U02BOB", "bob@example.com", false},
		{"U09MALLORY", "", true},
		{"", "", true},
		{"u01alice", "", true},
	}
	for _, tt := range tests {
		got, err := ids.Actor(tt.slackID)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("Actor(%q) = %q, %v; want %q, err=%v", tt.slackID, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrUnmappedUser) {
			t.Errorf("Actor(%q) error %v is not ErrUnmappedUser", tt.slackID, err)
		}
	}
	if ids.Len() != 2 {
		t.Errorf("Len = %d", ids.Len())
	}
	var zero Identities
	if _, err := zero.Actor("U01ALICE"); !errors.Is(err, ErrUnmappedUser) {
		t.Errorf("zero Identities mapped a user: %v", err)
	}
}

func TestNewIdentitiesRejectsBadMappings(t *testing.T) {
	tests := []struct {
		name    string
		members map[string]string
		want    string
	}{
		{"empty slack id", map[string]string{"": "alice"}, "empty Slack user id"},
		{"empty actor", map[string]string{"U01": " "}, "empty actor identity"},
		{"one actor, two users", map[string]string{"U01": "alice", "U02": "alice"}, `actor "alice" is claimed by Slack users "U01" and "U02"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIdentities(tt.members)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSeenSet(t *testing.T) {
	now := time.Unix(1795167000, 0)
	clock := func() time.Time { return now }
	s := newSeenSet(time.Minute, 3, clock)
	if !s.firstTime("a") || s.firstTime("a") {
		t.Fatal("a: want first then repeat")
	}
	now = now.Add(59 * time.Second)
	if s.firstTime("a") {
		t.Fatal("a forgotten before its ttl")
	}
	now = now.Add(2 * time.Second)
	if !s.firstTime("a") {
		t.Fatal("a remembered past its ttl")
	}
	// Capacity: the oldest key is evicted first.
	s.firstTime("b")
	s.firstTime("c")
	s.firstTime("d")
	if s.len() != 3 {
		t.Fatalf("len %d, want capacity 3", s.len())
	}
	if !s.firstTime("a") {
		t.Fatal("a should have been evicted as the oldest")
	}
	if s.firstTime("d") {
		t.Fatal("d evicted although it is the newest")
	}
}

func TestSeenSetStaysBounded(t *testing.T) {
	now := time.Unix(0, 0)
	s := newSeenSet(time.Second, 100, func() time.Time { return now })
	for i := range 100000 {
		now = now.Add(time.Millisecond)
		s.firstTime(string(rune(i)))
	}
	if s.len() > 100 || len(s.order)-s.head > 100 || cap(s.order) > 10000 {
		t.Fatalf("seen set grew: %d keys, %d live order entries, order cap %d", s.len(), len(s.order)-s.head, cap(s.order))
	}
}
