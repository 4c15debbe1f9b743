// Package buildinfo holds the version of the binaries: what the Makefile
// stamps at link time (-ldflags -X), or else what the go command recorded
// in the binary (module version and version control revision), so that a
// plain `go build` or `go install` still says which commit it is.
package buildinfo

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the Makefile with -ldflags "-X medispatcher/internal/buildinfo.Version=...".
// Each one left empty is filled in when the program starts: from the
// build information the go command recorded, else "dev" / "unknown".
var (
	Version   string
	BuildTime string
	GitHash   string
)

func init() {
	var bi *debug.BuildInfo
	if info, ok := debug.ReadBuildInfo(); ok {
		bi = info
	}
	Version, GitHash, BuildTime = resolve(Version, GitHash, BuildTime, bi)
}

// resolve keeps each value set at link time and fills the empty ones from
// bi (nil: none recorded), then with the defaults.
func resolve(version, gitHash, buildTime string, bi *debug.BuildInfo) (string, string, string) {
	v, h, t := fromBuildInfo(bi)
	return cmp.Or(version, v, "dev"), cmp.Or(gitHash, h, "unknown"), cmp.Or(buildTime, t, "unknown")
}

// fromBuildInfo is what the go command recorded in bi: the main module's
// version (none when it is "(devel)"), the first 12 characters of the
// commit with "-dirty" when the tree had uncommitted changes, and the
// commit's time (the go command records no build time). "" for what bi
// lacks; a nil bi lacks everything.
func fromBuildInfo(bi *debug.BuildInfo) (version, gitHash, commitTime string) {
	if bi == nil {
		return "", "", ""
	}
	if v := bi.Main.Version; v != "(devel)" {
		version = v
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			gitHash = s.Value[:min(len(s.Value), 12)]
		case "vcs.time":
			commitTime = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if gitHash != "" && modified {
		gitHash += "-dirty"
	}
	return version, gitHash, commitTime
}

// UserAgent is sent with every push.
func UserAgent() string { return "medispatcher/" + Version }

// String is the one-line version report of -v.
func String(program string) string {
	return fmt.Sprintf("%s %s (built %s, git %s, %s %s/%s)",
		program, Version, BuildTime, GitHash, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
