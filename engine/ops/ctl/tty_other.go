//go:build !linux

package ctl

// isTerminal reports false where terminals are not detected: destructive
// commands then need --yes.
func isTerminal(int) bool { return false }
