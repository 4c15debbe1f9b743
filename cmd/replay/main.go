// Command replay puts messages that exist only in DATA logs (REDISTFAIL,
// DROP, RECOVFAILBACK and given-up FAILREC lines) back into their tubes,
// once: replayed lines are recorded in a state file and skipped by later
// runs. It only parses flags and prints what package replay did.
//
// Each malformed line is named on stderr (FILE:LINE: why) and the other
// lines are replayed all the same; the exit code is then 4 (exitMalformed),
// unless something failed (3).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"medispatcher/connpool"
	"medispatcher/engine/ops/cli"
	"medispatcher/engine/ops/replay"
)

// exitMalformed: every good line was replayed, but some lines are
// malformed (named on stderr) and their messages were not.
const exitMalformed = 4

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags("replay", "usage: replay [-f CONFIG] [--dry-run] [--state FILE] DATA-LOG...\n\n"+
		"Puts the jobs of REDISTFAIL and DROP lines back into their channel tubes,\n"+
		"those of RECOVFAILBACK lines into the main tube, and re-sends the job of\n"+
		"FAILREC lines whose final is given_up into its channel tube (retrying and\n"+
		"success lines are skipped: their message is in a retry tube or delivered).\n"+
		"A line replayed once is recorded in the state file and never replayed again.\n"+
		"Malformed lines are named on stderr (FILE:LINE) and skipped; exit code 4\n"+
		"then says so (3 wins when something else failed).\n", stderr)
	dry := fs.Bool("dry-run", false, "count what would be replayed, put nothing")
	statePath := fs.String("state", "", "file recording replayed lines (default: LOG_DIR/replayed.state)")
	if code, done := fs.Parse(args, stdout); done {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return cli.ExitUsage
	}
	cfg, err := fs.Load(stderr)
	if err != nil {
		return cli.ExitConfig
	}
	if *statePath == "" {
		*statePath = filepath.Join(cfg.LogDir, "replayed.state")
	}
	st, err := replay.OpenState(*statePath)
	if err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return cli.ExitConfig
	}
	defer st.Close()
	pool, err := connpool.New(ctx, connpool.Config{Addrs: cfg.QueueServers})
	if err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return cli.ExitFailed
	}
	defer pool.Close()
	opts := replay.Options{MainTube: cfg.NameOfMainQueue, ChannelPrefix: cfg.PrefixOfChannelQueue, DryRun: *dry}
	code, malformed := cli.ExitOK, 0
	for _, file := range fs.Args() {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(stderr, "replay: %v\n", err)
			code = cli.ExitFailed
			continue
		}
		opts.Malformed = func(line int, err error) {
			fmt.Fprintf(stderr, "replay: %s:%d: malformed: %v\n", file, line, err)
		}
		sum := replay.Run(ctx, f, pool, st, opts)
		malformed += sum.Malformed
		f.Close()
		cats := make([]string, 0, len(sum.Replayed))
		for c := range sum.Replayed {
			cats = append(cats, c)
		}
		sort.Strings(cats)
		verb := "replayed"
		if *dry {
			verb = "would replay"
		}
		fmt.Fprintf(stdout, "%s: %d lines;", file, sum.Lines)
		for _, c := range cats {
			fmt.Fprintf(stdout, " %s %s %d;", verb, c, sum.Replayed[c])
		}
		fmt.Fprintf(stdout, " already replayed %d; nothing to replay %d; malformed %d; failed %d\n",
			sum.Already, sum.Skipped, sum.Malformed, sum.Failed)
		if sum.FirstError != nil {
			fmt.Fprintf(stderr, "replay: %s: %v\n", file, sum.FirstError)
			code = cli.ExitFailed
		}
	}
	if code == cli.ExitOK && malformed > 0 {
		fmt.Fprintf(stderr, "replay: %d malformed lines not replayed\n", malformed)
		return exitMalformed
	}
	return code
}
