// Command cleanqueue empties one subscription's channel and retry tubes on
// every server (ready jobs; delayed and buried ones on request), up to a
// snapshot, so it ends while messages keep arriving. Every deleted job is
// first written to the drop log (DropMessageLogDir), from which the replay
// command can put it back. It only parses flags and prints what package
// clean did.
package main

import (
	"context"
	"fmt"
	"io"

	"medispatcher/engine/ops/clean"
	"medispatcher/engine/ops/cli"
	"medispatcher/internal/datalog"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags("cleanqueue", "usage: cleanqueue [-f CONFIG] --topic T --sub ID [--delayed] [--buried] [--dry-run]\n\n"+
		"Deletes the jobs of <topic>/<prefix><id> and its /FAIL tube on every server,\n"+
		"writing each to the drop log first (replay can put them back).\n", stderr)
	topic := fs.String("topic", "", "the subscription's topic (required)")
	sub := fs.Int64("sub", 0, "the subscription id (required)")
	delayed := fs.Bool("delayed", false, "also delete delayed jobs (retries not yet due)")
	buried := fs.Bool("buried", false, "also delete buried jobs")
	dry := fs.Bool("dry-run", false, "count only")
	if code, done := fs.Parse(args, stdout); done {
		return code
	}
	if *topic == "" || *sub <= 0 {
		fs.Usage()
		return cli.ExitUsage
	}
	cfg, pool, code := fs.Open(ctx, stderr)
	if code != cli.ExitOK {
		return code
	}
	defer pool.Close()
	var drop clean.DropLog
	if !*dry {
		drops, err := datalog.Open(datalog.Config{Dir: cfg.DropMessageLogDir, Prefix: "DROP", Split: cfg.SplitLog, Fsync: datalog.FsyncAlways})
		if err != nil {
			fmt.Fprintf(stderr, "cleanqueue: %v\n", err)
			return cli.ExitConfig
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
		return cli.ExitFailed
	}
	return cli.ExitOK
}
