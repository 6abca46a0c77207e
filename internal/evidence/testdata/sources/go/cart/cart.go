// Package cart sums a cart.
package cart

import "example.com/shop/price"

// Item is a line in a cart.
type Item struct {
	Cents, Qty int
}

// Total sums items with tax.
func Total(items []Item, tax int) (int, error) {
	sum := 0
	for _, it := range items {
		sum += it.Cents * it.Qty
	}
	return price.WithTax(sum, tax)
}

// Empty reports whether the cart has no items.
func Empty(items []Item) bool {
	return len(items) == 0
}

// Largest returns the most expensive line.
func Largest(items []Item) Item {
	var best Item
	for _, it := range items {
		if it.Cents*it.Qty > best.Cents*best.Qty {
			best = it
		}
	}
	return best
}
