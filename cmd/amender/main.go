// Command amender kicks buried jobs of medispatcher's tubes (main, channel
// and retry tubes, every server of the config) back to ready, as the old
// daemon's `amender -f CONFIG` did. It only parses flags and prints what
// package amend did.
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"medispatcher/engine/ops/amend"
	"medispatcher/engine/ops/cli"
	"medispatcher/internal/datalog"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags("amender", "usage: amender [-f CONFIG] [--dry-run]\n\n"+
		"Kicks every buried job of the main, channel and retry tubes on every\n"+
		"beanstalkd server of CONFIG back to ready (duplicates are possible;\n"+
		"without it, messages buried by a crashed 2.x daemon are never pushed).\n", stderr)
	dry := fs.Bool("dry-run", false, "report buried jobs per tube, kick nothing")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if code, done := fs.Parse(args, stdout); done {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, pool, code := fs.Open(ctx, stderr)
	if code != cli.ExitOK {
		return code
	}
	defer pool.Close()
	var kickFail amend.KickFailer
	if !*dry {
		data, err := datalog.Open(datalog.Config{Dir: cfg.LogDir, Split: cfg.SplitLog, Fsync: cfg.DataLogFsync})
		if err != nil {
			fmt.Fprintf(stderr, "amender: %v\n", err)
			return cli.ExitConfig
		}
		defer data.Close(context.Background())
		kickFail = func(server, tube string, id uint64, reason string) { _ = data.KickFail(server, tube, id, reason) }
	}
	reports, err := amend.Run(ctx, pool, cfg.NameOfMainQueue, cfg.PrefixOfChannelQueue, *dry, kickFail)
	code = cli.ExitOK
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
			code = cli.ExitFailed
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "amender: %v\n", err)
		code = cli.ExitFailed
	}
	verb := "kicked"
	if *dry {
		verb = "would kick (dry run)"
	}
	fmt.Fprintf(stdout, "%s %d jobs in %d tubes\n", verb, total, len(reports))
	return code
}
