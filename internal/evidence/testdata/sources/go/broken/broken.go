// Package broken does not compile: a release must not pass with it.
package broken

// Answer returns the answer.
func Answer() int { return "42" }
