//go:build crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Enabled reports whether this binary was built with its crash points.
const Enabled = true

var crashed atomic.Bool

// Reach kills the process with SIGKILL when one of names is the point in SHIPGATE_TEST_CRASH_AT,
// once per process, saying so in log (or on standard error when log is nil): the tests read
// the line to know the worker died where they meant it to.
func Reach(log *zap.Logger, names ...string) {
	want := os.Getenv(Env)
	if want == "" {
		return
	}
	for _, point := range names {
		if point != want || !crashed.CompareAndSwap(false, true) {
			continue
		}
		if log != nil {
			log.Warn("test crash point reached: SIGKILL", zap.String("point", point))
			_ = log.Sync()
		} else {
			fmt.Fprintf(os.Stderr, "test crash point %s reached: SIGKILL\n", point)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute) // the signal is delivered; never return a result
	}
}
