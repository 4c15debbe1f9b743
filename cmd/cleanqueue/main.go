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

	"medispatcher/engine/ops/clean"
	"medispatcher/engine/ops/cli"
	"medispatcher/engine/ops/clipool"
	"medispatcher/internal/datalog"
)

var tool = &cli.Tool{Name: "cleanqueue", Usage: "usage: cleanqueue [-f CONFIG] --topic T --sub ID [--delayed] [--buried] [--dry-run]\n\n" +
	"Deletes the jobs of <topic>/<prefix><id> and its /FAIL tube on every server,\n" +
	"writing each to the drop log first (replay can put them back).\n",
	Flags: func(fs *flag.FlagSet) cli.Body {
		var o clean.Options
		fs.StringVar(&o.Topic, "topic", "", "the subscription's topic (required)")
		fs.Int64Var(&o.SubID, "sub", 0, "the subscription id (required)")
		fs.BoolVar(&o.Delayed, "delayed", false, "also delete delayed jobs (retries not yet due)")
		fs.BoolVar(&o.Buried, "buried", false, "also delete buried jobs")
		fs.BoolVar(&o.DryRun, "dry-run", false, "count only")
		return func(ctx context.Context, e *cli.Env) int {
			if o.Topic == "" || o.SubID <= 0 {
				return e.UsageError()
			}
			return cleanQueue(ctx, e, o)
		}
	},
}

func main() { cli.Main(tool.Run) }

func cleanQueue(ctx context.Context, e *cli.Env, o clean.Options) int {
	cfg, pool, code := clipool.Open(ctx, e)
	if code != cli.ExitOK {
		return code
	}
	defer pool.Close()
	var drop clean.DropLog
	if !o.DryRun {
		drops, err := datalog.Open(datalog.Config{Dir: cfg.DropMessageLogDir, Prefix: "DROP", Split: cfg.SplitLog, Fsync: datalog.FsyncAlways})
		if err != nil {
			return e.Failf(cli.ExitConfig, "%v", err)
		}
		defer drops.Close(context.Background())
		drop = drops.Drop
	}
	o.ChannelPrefix = cfg.PrefixOfChannelQueue
	reports, err := clean.Run(ctx, pool, o, drop)
	fmt.Fprintf(e.Stdout, "%-22s %-50s %-8s %8s %8s\n", "SERVER", "TUBE", "STATE", "FOUND", "DELETED")
	total := 0
	for _, r := range reports {
		fmt.Fprintf(e.Stdout, "%-22s %-50s %-8s %8d %8d\n", r.Server, r.Tube, r.State, r.Found, r.Deleted)
		total += r.Deleted
	}
	fmt.Fprintf(e.Stdout, "deleted %d jobs (each written to the drop log in %s)\n", total, cfg.DropMessageLogDir)
	if err != nil {
		return e.Failf(cli.ExitFailed, "%v", err)
	}
	return cli.ExitOK
}
