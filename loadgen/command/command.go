// Package command is the load generator's command line: it reads the
// arguments of `loadgen run`, `farm` and `ceiling` into the packages that
// do the work (loadgen, farm, ceiling, bench) and prints their results.
// It holds no measuring logic of its own.
package command

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"medispatcher/internal/buildinfo"
	"medispatcher/loadgen"
	"medispatcher/loadgen/bench"
)

// Main runs the subcommand named by args[0] (run when args is empty or
// starts with a flag) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runLoad(ctx, args, stdout, stderr)
	case "farm":
		return runFarm(ctx, args, stdout, stderr)
	case "ceiling":
		return runCeiling(ctx, args, stdout, stderr)
	case "bench":
		return bench.Main(ctx, args, stdout, stderr)
	case "demo":
		return bench.Demo(ctx, args, stdout, stderr)
	case "version", "-v":
		fmt.Fprintln(stdout, buildinfo.String("loadgen"))
		return loadgen.ExitOK
	}
	fmt.Fprintf(stderr, "loadgen: unknown command %q (run, farm, ceiling, bench, demo, version)\n", cmd)
	return loadgen.ExitUsage
}

// newFlagSet is the flag set of subcommand name: errors and -h go to
// stderr, and parsing returns instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("loadgen "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
