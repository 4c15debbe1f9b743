// Package cli is what medispatcher's operator tools share: signal
// handling, exit codes, and for the tools that work on the queue servers
// (amender, replay, cleanqueue, failrec) the -f CONFIG and -v flags and
// the steps every run takes before its own work (Tool). It holds no
// tool's logic.
//
// It links no beanstalkd client, so that medictl, which only speaks HTTP
// and uses the exit codes and Main, does not either: the tools open their
// pool with package clipool.
package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes of the operator tools.
const (
	ExitOK     = 0 // done
	ExitConfig = 1 // configuration missing or invalid
	ExitUsage  = 2 // bad command line
	ExitFailed = 3 // a server could not be reached or an operation failed
)

// Run is a tool's body: it returns the exit code.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Main runs run with a context that SIGINT and SIGTERM cancel, and exits
// with its code.
func Main(run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
