package cart

import (
	"os"
	"testing"
)

func TestTotal(t *testing.T) {
	got, err := Total([]Item{{Cents: 100, Qty: 2}}, 10)
	if err != nil || got != 220 {
		t.Fatalf("Total = %d, %v", got, err)
	}
}

// TestTotalBroken fails when SHOP_BREAK is set, so one run can record a failing report.
func TestTotalBroken(t *testing.T) {
	if os.Getenv("SHOP_BREAK") != "" {
		t.Errorf("Total of an empty cart = 1, want 0")
	}
}

func TestEmptyBroken(t *testing.T) {
	if os.Getenv("SHOP_BREAK") != "" && Empty(nil) {
		t.Errorf("Empty(nil) = true, want false (deliberately wrong expectation)")
	}
}
