//go:build !unix

package chain

import "errors"

// LockFile is the unix flock of lock_unix.go; elsewhere it is not implemented.
func LockFile(string) (func(), error) {
	return nil, errors.New("file locking is implemented for unix only")
}
