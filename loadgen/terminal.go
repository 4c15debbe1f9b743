package loadgen

import (
	"os"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether f is an *os.File open on a terminal: where the
// live progress line redraws itself in place, and where a command may wait
// for the user to press Enter.
func IsTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(file.Fd()), unix.TCGETS)
	return err == nil
}
