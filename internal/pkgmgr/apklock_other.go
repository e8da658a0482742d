//go:build !linux

package pkgmgr

// flockHeld is for Linux, where apk runs; elsewhere nothing is seen
// locked, and apk's own errors tell.
func flockHeld(path string) (held bool, pid int, err error) { return false, 0, nil }
