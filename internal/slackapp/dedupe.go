package slackapp

import (
	"sync"
	"time"
)

// seenSet remembers delivery keys for a while so a replayed or retried
// delivery of the same click is ignored. It is bounded both in time (ttl)
// and in size (capacity, oldest evicted first), so a flood of distinct
// keys cannot grow memory without limit.
type seenSet struct {
	mu       sync.Mutex
	ttl      time.Duration
	capacity int
	now      func() time.Time
	expiry   map[string]time.Time
	order    []string // insertion order; order[head:] are live candidates
	head     int
}

func newSeenSet(ttl time.Duration, capacity int, now func() time.Time) *seenSet {
	return &seenSet{ttl: ttl, capacity: capacity, now: now, expiry: make(map[string]time.Time)}
}

// firstTime records key and reports whether it was not seen within ttl.
func (s *seenSet) firstTime(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expire(now)
	if exp, ok := s.expiry[key]; ok && now.Before(exp) {
		return false
	}
	for len(s.expiry) >= s.capacity && s.head < len(s.order) {
		delete(s.expiry, s.order[s.head])
		s.head++
	}
	s.expiry[key] = now.Add(s.ttl)
	s.order = append(s.order, key)
	s.compact()
	return true
}

// expire drops keys from the front while they are past their expiry. Keys
// are inserted with a constant ttl, so insertion order is expiry order and
// the expired keys are a prefix of order[head:]. A key is only inserted
// again after it left that prefix, so order[head:] holds no duplicates.
func (s *seenSet) expire(now time.Time) {
	for s.head < len(s.order) {
		k := s.order[s.head]
		if now.Before(s.expiry[k]) {
			return
		}
		delete(s.expiry, k)
		s.head++
	}
}

// compact reclaims the consumed prefix of order once it dominates.
func (s *seenSet) compact() {
	if s.head > 1024 && s.head*2 > len(s.order) {
		s.order = append([]string(nil), s.order[s.head:]...)
		s.head = 0
	}
}

func (s *seenSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.expiry)
}
