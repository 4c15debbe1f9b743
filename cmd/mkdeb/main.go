// Command mkdeb writes medispatcher's Debian package (see package debpkg)
// from a directory of built binaries; `make package` runs it. This file
// only parses the command line.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"medispatcher/internal/debpkg"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program: 0 when the package is written, 1 when it could
// not be, 2 on a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	var s debpkg.Spec
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.BinDir, "bin", "bin/pkg", "directory of the binaries to package (every executable file goes to /usr/bin)")
	fs.StringVar(&s.Version, "version", "", "the binaries' version stamp (as `medispatcher -v` prints it); required")
	fs.StringVar(&s.ServiceDir, "service", "scripts/service", "directory of the unit, the configuration files and deb/ maintainer scripts")
	fs.StringVar(&s.DocDir, "doc", "scripts", "directory of medispatcher.example.toml and subscriptions.example.toml")
	fs.StringVar(&s.Arch, "arch", "", "GOARCH of the binaries (default: this machine's)")
	fs.StringVar(&s.Maintainer, "maintainer", "", "Maintainer field of the package")
	out := fs.String("o", "bin", "output file, or a directory for the conventional name NAME_VERSION_ARCH.deb")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || s.Version == "" {
		fmt.Fprintln(stderr, "usage: mkdeb -version STAMP [-bin DIR] [-o PATH] [flags]")
		return 2
	}
	path, err := debpkg.Build(s, *out)
	if err != nil {
		fmt.Fprintf(stderr, "mkdeb: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, path)
	return 0
}
