// Command amender kicks buried jobs of medispatcher's tubes (main, channel
// and retry tubes, every server of the config) back to ready, as the old
// daemon's `amender -f CONFIG` did. It only parses flags and prints what
// package amend did.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/amend"
	"medispatcher/engine/buildinfo"
	"medispatcher/engine/config"
	"medispatcher/engine/datalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run returns the exit code: 0 done (or nothing to do), 1 config error,
// 2 usage error, 3 some jobs could not be kicked or a server not read.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("amender", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("f", "/etc/medispatcher.toml", "medispatcher config file")
	dry := fs.Bool("dry-run", false, "report buried jobs per tube, kick nothing")
	version := fs.Bool("v", false, "print the version and exit")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: amender [-f CONFIG] [--dry-run]\n\n"+
			"Kicks every buried job of the main, channel and retry tubes on every\n"+
			"beanstalkd server of CONFIG back to ready (duplicates are possible;\n"+
			"without it, messages buried by a crashed 2.x daemon are never pushed).\n"+
			"Exit codes: 0 done, 1 config error, 2 usage error, 3 something failed.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("amender"))
		return 0
	}
	cfg, _, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "amender: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pool, err := connpool.New(ctx, connpool.Config{Addrs: cfg.QueueServers})
	if err != nil {
		fmt.Fprintf(stderr, "amender: %v\n", err)
		return 3
	}
	defer pool.Close()
	var kickFail amend.KickFailer
	if !*dry {
		data, err := datalog.Open(datalog.Config{Dir: cfg.LogDir, Split: cfg.SplitLog, Fsync: cfg.DataLogFsync})
		if err != nil {
			fmt.Fprintf(stderr, "amender: %v\n", err)
			return 1
		}
		defer data.Close(context.Background())
		kickFail = func(server, tube string, id uint64, reason string) { _ = data.KickFail(server, tube, id, reason) }
	}
	reports, err := amend.Run(ctx, pool, cfg.NameOfMainQueue, cfg.PrefixOfChannelQueue, *dry, kickFail)
	code := 0
	fmt.Fprintf(stdout, "%-22s %-50s %8s %8s\n", "SERVER", "TUBE", "BURIED", "KICKED")
	total := 0
	for _, r := range reports {
		fmt.Fprintf(stdout, "%-22s %-50s %8d %8d\n", r.Server, r.Tube, r.Buried, r.Kicked)
		if *dry {
			total += int(r.Buried)
		} else {
			total += r.Kicked
		}
		if r.Err != nil {
			fmt.Fprintf(stderr, "amender: %s %s: %v\n", r.Server, r.Tube, r.Err)
			code = 3
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "amender: %v\n", err)
		code = 3
	}
	verb := "kicked"
	if *dry {
		verb = "would kick (dry run)"
	}
	fmt.Fprintf(stdout, "%s %d jobs in %d tubes\n", verb, total, len(reports))
	return code
}
