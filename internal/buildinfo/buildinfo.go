// Package buildinfo holds the version stamped into the binaries at link
// time by the Makefile (-ldflags -X).
package buildinfo

import (
	"fmt"
	"runtime"
)

// Set by the Makefile with -ldflags "-X medispatcher/internal/buildinfo.Version=...".
var (
	Version   = "dev"
	BuildTime = "unknown"
	GitHash   = "unknown"
)

// UserAgent is sent with every push.
func UserAgent() string { return "medispatcher/" + Version }

// String is the one-line version report of -v.
func String(program string) string {
	return fmt.Sprintf("%s %s (built %s, git %s, %s %s/%s)",
		program, Version, BuildTime, GitHash, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
