// Command vulnapp parses a UUID.
package main

import (
	"fmt"
	"os"

	"github.com/google/uuid"
)

func main() {
	id, err := uuid.ParseBytes([]byte(os.Args[1]))
	fmt.Println(id, err)
}
