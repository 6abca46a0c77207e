package promotion

import (
	"testing"
	"time"
)

// BenchmarkCheck is one hold evaluation the workflow records at a promotion point: office
// hours (a weekly rule a year old) and a year-end freeze, on a Friday evening (held until
// Monday: the walk crosses the weekend).
//
//	go test -run '^$' -bench Check -benchmem ./internal/promotion/
func BenchmarkCheck(b *testing.B) {
	s, err := CompileRules(Rules{Allow: []Window{officeHours}, Deny: []Window{yearEnd}})
	if err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2027, 3, 12, 17, 30, 0, 0, loc)
	for b.Loop() {
		if h := s.Check(now, Point{Traffic: true}, nil); h == nil {
			b.Fatal("not held")
		}
	}
}
