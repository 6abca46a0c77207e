// Package price computes prices.
package price

import "errors"

// ErrNegative is returned for negative amounts.
var ErrNegative = errors.New("negative amount")

// WithTax adds tax in percent to cents.
func WithTax(cents, percent int) (int, error) {
	if cents < 0 {
		return 0, ErrNegative
	}
	return cents + cents*percent/100, nil
}

// Discount takes percent off cents.
func Discount(cents, percent int) int {
	if percent >= 100 {
		return 0
	}
	return cents - cents*percent/100
}
