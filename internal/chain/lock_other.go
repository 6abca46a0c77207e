//go:build !unix

package chain

import "errors"

func lockFile(string) (func(), error) {
	return nil, errors.New("file locking is implemented for unix only")
}
