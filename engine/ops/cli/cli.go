// Package cli is what medispatcher's operator tools (amender, replay,
// cleanqueue, failrec) share: signal handling, the -f CONFIG and -v flags,
// exit codes, and opening the configuration and the beanstalkd pool. It
// holds no tool's logic.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"medispatcher/connpool"
	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
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

// Flags is a tool's flag set with the flags every tool has.
type Flags struct {
	*flag.FlagSet
	name    string
	Config  *string // -f CONFIG
	version *bool
}

// NewFlags returns the flag set of tool name; usage is printed above the
// flag list by -h.
func NewFlags(name, usage string, stderr io.Writer) *Flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &Flags{FlagSet: fs, name: name}
	f.Config = fs.String("f", "/etc/medispatcher.toml", "medispatcher config file")
	f.version = fs.Bool("v", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nExit codes: 0 done, 1 config error, 2 usage error, 3 something failed.\n\n")
		fs.PrintDefaults()
	}
	return f
}

// Parse parses args. done reports that the tool must return code now
// (help shown, usage error, version printed).
func (f *Flags) Parse(args []string, stdout io.Writer) (code int, done bool) {
	if err := f.FlagSet.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return ExitOK, true
		}
		return ExitUsage, true
	}
	if *f.version {
		fmt.Fprintln(stdout, buildinfo.String(f.name))
		return ExitOK, true
	}
	return ExitOK, false
}

// Open loads the configuration and connects a beanstalkd pool to its
// servers. On failure it prints why and returns the exit code to use.
func (f *Flags) Open(ctx context.Context, stderr io.Writer) (*config.Config, *connpool.Pool, int) {
	cfg, err := f.Load(stderr)
	if err != nil {
		return nil, nil, ExitConfig
	}
	pool, err := connpool.New(ctx, connpool.Config{Addrs: cfg.QueueServers})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
		return nil, nil, ExitFailed
	}
	return cfg, pool, ExitOK
}

// Load loads the configuration; a failure is printed.
func (f *Flags) Load(stderr io.Writer) (*config.Config, error) {
	cfg, _, err := config.Load(*f.Config)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
	}
	return cfg, err
}
