// Package lintbad has deliberate staticcheck findings.
package lintbad

import (
	"fmt"
	"strings"
)

// Greet formats a greeting.
func Greet(name string) string {
	s := fmt.Sprintf("hello")
	s = strings.Replace(s+" "+name, "  ", " ", 0)
	if name == name {
		return s
	}
	return s
}
