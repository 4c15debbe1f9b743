// Command medispatcher is the beanstalkd → HTTP message dispatcher. This
// file only parses the command line, loads the configuration, sets up the
// process log and hands over to package daemon; it must hold no
// dispatching logic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"medispatcher/engine/paneldb"
	"medispatcher/engine/process/daemon"
	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
)

const defaultConfigPath = "/etc/medispatcher.toml"

// Exit codes, documented in the -h text.
const (
	exitOK      = 0 // done, or stopped cleanly on SIGTERM/SIGINT
	exitConfig  = 1 // configuration missing, unparsable or invalid
	exitUsage   = 2 // bad command line
	exitRuntime = 3 // the daemon could not start or failed while running
)

const usageText = `Usage: medispatcher [options] [CONFIG]

medispatcher moves messages from beanstalkd to subscribers over HTTP.

CONFIG is the TOML configuration file (default ` + defaultConfigPath + `);
it may also be given with -c. See scripts/medispatcher.example.toml.

Options:
  -c CONFIG        configuration file
  --check          load and validate the configuration, print its warnings
                   and "config OK: <path>", then exit
  -v, --version    print the version, build time and git hash, then exit
  -h, --help       print this help, then exit

Signals: SIGTERM or SIGINT stops gracefully (pushes in flight finish, the
rest goes back to beanstalkd); a second one kills the process at once.
SIGHUP re-reads a file subscription source.

Exit status:
  0  clean exit or clean shutdown
  1  configuration error (missing, unparsable or invalid file)
  2  usage error (bad command line)
  3  runtime failure (the daemon could not start or failed)
`

// runDaemon runs the daemon until ctx ends (serveDaemon); tests replace it.
type runDaemon func(ctx context.Context, cfg *config.Config, log *slog.Logger) error

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, serveDaemon))
}

// serveDaemon is the daemon's life: built from cfg (an error there means
// it could not start), run until SIGTERM or SIGINT ends ctx, then stopped
// in its shutdown order.
func serveDaemon(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	d, err := daemon.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	runErr := d.Run(ctx)
	d.Close()
	return runErr
}

// run is the whole program: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, start runDaemon) int {
	opts, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "medispatcher: %v\nRun 'medispatcher -h' for usage.\n", err)
		return exitUsage
	}
	switch {
	case opts.help:
		fmt.Fprint(stdout, usageText)
		return exitOK
	case opts.version:
		fmt.Fprintln(stdout, buildinfo.String("medispatcher"))
		return exitOK
	}

	cfg, warns, err := config.Load(opts.config)
	if err != nil {
		fmt.Fprintf(stderr, "medispatcher: %v\n", err)
		return exitConfig
	}
	if opts.check {
		for _, w := range warns {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		fmt.Fprintf(stdout, "config OK: %s\n", cfg.Path)
		if cfg.SubscriptionFromMySQL {
			// The address and the user, never the password.
			fmt.Fprintf(stdout, "subscriptions: mysql, database %s (user %s)\n", paneldb.Where(cfg.Database), cfg.Database.User)
		}
		return exitOK
	}

	log := newLogger(cfg, stderr)
	for _, w := range warns {
		log.Warn("config: "+w.Msg, "key", w.Key, "config", cfg.Path)
	}
	if cfg.ListenAddrExposed {
		log.Warn("control interface is reachable from the network and has no authentication", "addr", cfg.ListenAddr)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default action so that a
		// second one kills a shutdown that takes too long.
		<-ctx.Done()
		stop()
	}()

	log.Info("starting", "version", buildinfo.Version, "git", buildinfo.GitHash, "config", cfg.Path)
	if err := start(ctx, cfg, log); err != nil {
		log.Error("medispatcher failed", "err", err)
		return exitRuntime
	}
	return exitOK
}

type options struct {
	config  string
	check   bool
	help    bool
	version bool
}

// parseArgs accepts flags before and after the positional config path
// (the standard flag package stops at the first non-flag argument).
func parseArgs(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("medispatcher", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by run, usage by -h
	fs.StringVar(&o.config, "c", "", "configuration file")
	fs.BoolVar(&o.check, "check", false, "validate the configuration and exit")
	fs.BoolVar(&o.help, "h", false, "help")
	fs.BoolVar(&o.help, "help", false, "help")
	fs.BoolVar(&o.version, "v", false, "version")
	fs.BoolVar(&o.version, "version", false, "version")

	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(positional) > 1:
		return o, fmt.Errorf("one configuration file expected, got %d: %q", len(positional), positional)
	case len(positional) == 1 && o.config != "" && o.config != positional[0]:
		return o, errors.New("configuration file given twice (-c and argument)")
	case len(positional) == 1:
		o.config = positional[0]
	case o.config == "":
		o.config = defaultConfigPath
	}
	return o, nil
}

// newLogger is the process log: slog to w (stderr) at cfg's level and format.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: cfg.SlogLevel()}
	if cfg.LogFormat == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}
