//go:build !unix

package main

// processAlive cannot tell here: every process counts as alive, so no
// lease is released early.
func processAlive(pid int) bool { return true }
