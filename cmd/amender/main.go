// Command amender kicks buried jobs of medispatcher's tubes (main, channel
// and retry tubes, every server of the config) back to ready, as the old
// daemon's `amender -f CONFIG` did. It only parses flags and prints what
// package amend did.
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"medispatcher/engine/ops/amend"
	"medispatcher/engine/ops/cli"
	"medispatcher/engine/ops/clipool"
	"medispatcher/internal/datalog"
)

var tool = &cli.Tool{Name: "amender", Usage: "usage: amender [-f CONFIG] [--dry-run]\n\n" +
	"Kicks every buried job of the main, channel and retry tubes on every\n" +
	"beanstalkd server of CONFIG back to ready (duplicates are possible;\n" +
	"without it, messages buried by a crashed 2.x daemon are never pushed).\n",
	Flags: func(fs *flag.FlagSet) cli.Body {
		dry := fs.Bool("dry-run", false, "report buried jobs per tube, kick nothing")
		timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
		return func(ctx context.Context, e *cli.Env) int {
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			return kick(ctx, e, *dry)
		}
	},
}

func main() { cli.Main(tool.Run) }

func kick(ctx context.Context, e *cli.Env, dry bool) int {
	cfg, pool, code := clipool.Open(ctx, e)
	if code != cli.ExitOK {
		return code
	}
	defer pool.Close()
	var kickFail amend.KickFailer
	if !dry {
		data, err := datalog.Open(datalog.Config{Dir: cfg.LogDir, Split: cfg.SplitLog, Fsync: cfg.DataLogFsync})
		if err != nil {
			return e.Failf(cli.ExitConfig, "%v", err)
		}
		defer data.Close(context.Background())
		kickFail = func(server, tube string, id uint64, reason string) { _ = data.KickFail(server, tube, id, reason) }
	}
	reports, err := amend.Run(ctx, pool, cfg.NameOfMainQueue, cfg.PrefixOfChannelQueue, dry, kickFail)
	code = cli.ExitOK
	fmt.Fprintf(e.Stdout, "%-22s %-50s %8s %8s\n", "SERVER", "TUBE", "BURIED", "KICKED")
	total := 0
	for _, r := range reports {
		fmt.Fprintf(e.Stdout, "%-22s %-50s %8d %8d\n", r.Server, r.Tube, r.Buried, r.Kicked)
		if dry {
			total += int(r.Buried)
		} else {
			total += r.Kicked
		}
		if r.Err != nil {
			code = e.Failf(cli.ExitFailed, "%s %s: %v", r.Server, r.Tube, r.Err)
		}
	}
	if err != nil {
		code = e.Failf(cli.ExitFailed, "%v", err)
	}
	verb := "kicked"
	if dry {
		verb = "would kick (dry run)"
	}
	fmt.Fprintf(e.Stdout, "%s %d jobs in %d tubes\n", verb, total, len(reports))
	return code
}
