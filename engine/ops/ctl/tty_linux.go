package ctl

import "golang.org/x/sys/unix"

// isTerminal reports whether fd is a terminal (it has terminal attributes).
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
