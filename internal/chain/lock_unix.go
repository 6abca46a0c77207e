//go:build unix

package chain

import (
	"os"
	"syscall"
)

// LockFile takes an exclusive flock on path (created if missing), waiting for it, and returns
// its release. flock locks belong to the open file description, so two goroutines of one
// process that each call LockFile exclude each other as two processes do.
func LockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
