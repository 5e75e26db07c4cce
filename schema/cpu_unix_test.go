//go:build unix

package schema_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user and system, all
// threads, garbage collection included): on a shared machine it moves far
// less with the other load than the wall clock does.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
