package main

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// failPointFromEnv parses PATCHBAY_FAILPOINT=NAME@N: the server SIGKILLs
// itself the N-th time it reaches the store fail point NAME (for example
// inventory-commit@17, just before the 17th inventory commits). Kill tests
// choose N from a seeded random source, so every run kills at the same
// points. Empty means no fail point.
func failPointFromEnv(v string) (func(string), error) {
	if v == "" {
		return nil, nil
	}
	name, nth, ok := strings.Cut(v, "@")
	n, err := strconv.ParseInt(nth, 10, 64)
	if !ok || name == "" || err != nil || n < 1 {
		return nil, usageErrorf("PATCHBAY_FAILPOINT=%q: want NAME@N, such as inventory-commit@17", v)
	}
	var hits atomic.Int64
	return func(point string) {
		if point == name && hits.Add(1) == n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}, nil
}
