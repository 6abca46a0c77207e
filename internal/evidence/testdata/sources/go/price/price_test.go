package price

import "testing"

func TestWithTax(t *testing.T) {
	got, err := WithTax(1000, 20)
	if err != nil || got != 1200 {
		t.Fatalf("WithTax = %d, %v", got, err)
	}
}

func TestWithTaxNegative(t *testing.T) {
	if _, err := WithTax(-1, 20); err != ErrNegative {
		t.Fatalf("err = %v", err)
	}
}

func TestDiscount(t *testing.T) {
	if got := Discount(1000, 10); got != 900 {
		t.Fatalf("Discount = %d", got)
	}
	if got := Discount(1000, 100); got != 0 {
		t.Fatalf("Discount = %d", got)
	}
}

func TestDiscountRounding(t *testing.T) {
	t.Skip("rounding rules pending product decision")
}
