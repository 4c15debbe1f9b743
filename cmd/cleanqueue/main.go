// Command cleanqueue empties one subscription's channel and retry tubes on
// every server (ready jobs; delayed and buried ones on request), up to a
// snapshot, so it ends while messages keep arriving. Every deleted job is
// first written to the drop log (DropMessageLogDir), from which the replay
// command can put it back. It only parses flags and prints what package
// clean did.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"medispatcher/connpool"
	"medispatcher/engine/buildinfo"
	"medispatcher/engine/clean"
	"medispatcher/engine/config"
	"medispatcher/engine/datalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run returns the exit code: 0 done, 1 config error, 2 usage error,
// 3 something failed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cleanqueue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("f", "/etc/medispatcher.toml", "medispatcher config file")
	topic := fs.String("topic", "", "the subscription's topic (required)")
	sub := fs.Int64("sub", 0, "the subscription id (required)")
	delayed := fs.Bool("delayed", false, "also delete delayed jobs (retries not yet due)")
	buried := fs.Bool("buried", false, "also delete buried jobs")
	dry := fs.Bool("dry-run", false, "count only")
	version := fs.Bool("v", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cleanqueue [-f CONFIG] --topic T --sub ID [--delayed] [--buried] [--dry-run]\n\n"+
			"Deletes the jobs of <topic>/<prefix><id> and its /FAIL tube on every server,\n"+
			"writing each to the drop log first (replay can put them back).\n"+
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
		fmt.Fprintln(stdout, buildinfo.String("cleanqueue"))
		return 0
	}
	if *topic == "" || *sub <= 0 {
		fs.Usage()
		return 2
	}
	cfg, _, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "cleanqueue: %v\n", err)
		return 1
	}
	pool, err := connpool.New(ctx, connpool.Config{Addrs: cfg.QueueServers})
	if err != nil {
		fmt.Fprintf(stderr, "cleanqueue: %v\n", err)
		return 3
	}
	defer pool.Close()
	var drop clean.DropLog
	if !*dry {
		drops, err := datalog.Open(datalog.Config{Dir: cfg.DropMessageLogDir, Prefix: "DROP", Split: cfg.SplitLog, Fsync: datalog.FsyncAlways})
		if err != nil {
			fmt.Fprintf(stderr, "cleanqueue: %v\n", err)
			return 1
		}
		defer drops.Close(context.Background())
		drop = drops.Drop
	}
	reports, err := clean.Run(ctx, pool, clean.Options{Topic: *topic, SubID: *sub, ChannelPrefix: cfg.PrefixOfChannelQueue,
		Delayed: *delayed, Buried: *buried, DryRun: *dry}, drop)
	fmt.Fprintf(stdout, "%-22s %-50s %-8s %8s %8s\n", "SERVER", "TUBE", "STATE", "FOUND", "DELETED")
	total := 0
	for _, r := range reports {
		fmt.Fprintf(stdout, "%-22s %-50s %-8s %8d %8d\n", r.Server, r.Tube, r.State, r.Found, r.Deleted)
		total += r.Deleted
	}
	fmt.Fprintf(stdout, "deleted %d jobs (each written to the drop log in %s)\n", total, cfg.DropMessageLogDir)
	if err != nil {
		fmt.Fprintf(stderr, "cleanqueue: %v\n", err)
		return 3
	}
	return 0
}
