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
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"medispatcher/engine/ops/cli"
	"medispatcher/engine/ops/clipool"
	"medispatcher/engine/ops/replay"
)

// exitMalformed: every good line was replayed, but some lines are
// malformed (named on stderr) and their messages were not.
const exitMalformed = 4

var tool = &cli.Tool{Name: "replay", Usage: "usage: replay [-f CONFIG] [--dry-run] [--state FILE] DATA-LOG...\n\n" +
	"Puts the jobs of REDISTFAIL and DROP lines back into their channel tubes,\n" +
	"those of RECOVFAILBACK lines into the main tube, and re-sends the job of\n" +
	"FAILREC lines whose final is given_up into its channel tube (retrying and\n" +
	"success lines are skipped: their message is in a retry tube or delivered).\n" +
	"A line replayed once is recorded in the state file and never replayed again.\n" +
	"Malformed lines are named on stderr (FILE:LINE) and skipped; exit code 4\n" +
	"then says so (3 wins when something else failed).\n",
	Flags: func(fs *flag.FlagSet) cli.Body {
		dry := fs.Bool("dry-run", false, "count what would be replayed, put nothing")
		statePath := fs.String("state", "", "file recording replayed lines (default: LOG_DIR/replayed.state)")
		return func(ctx context.Context, e *cli.Env) int {
			if len(e.Args()) == 0 {
				return e.UsageError()
			}
			return replayFiles(ctx, e, *statePath, *dry)
		}
	},
}

func main() { cli.Main(tool.Run) }

func replayFiles(ctx context.Context, e *cli.Env, statePath string, dry bool) int {
	cfg, code := e.Config()
	if code != cli.ExitOK {
		return code
	}
	if statePath == "" {
		statePath = filepath.Join(cfg.LogDir, "replayed.state")
	}
	st, err := replay.OpenState(statePath)
	if err != nil {
		return e.Failf(cli.ExitConfig, "%v", err)
	}
	defer st.Close()
	pool, code := clipool.Connect(ctx, e, cfg)
	if code != cli.ExitOK {
		return code
	}
	defer pool.Close()
	opts := replay.Options{MainTube: cfg.NameOfMainQueue, ChannelPrefix: cfg.PrefixOfChannelQueue, DryRun: dry}
	malformed := 0
	for _, file := range e.Args() {
		n, c := replayFile(ctx, e, file, pool, st, opts)
		malformed += n
		if c != cli.ExitOK {
			code = c
		}
	}
	if code == cli.ExitOK && malformed > 0 {
		fmt.Fprintf(e.Stderr, "replay: %d malformed lines not replayed\n", malformed)
		return exitMalformed
	}
	return code
}

// replayFile replays one DATA log and prints what it did; it returns the
// malformed lines it met and ExitFailed when something failed.
func replayFile(ctx context.Context, e *cli.Env, file string, pool replay.Putter, st *replay.State, opts replay.Options) (malformed int, code int) {
	f, err := os.Open(file)
	if err != nil {
		return 0, e.Failf(cli.ExitFailed, "%v", err)
	}
	defer f.Close()
	opts.Malformed = func(line int, err error) {
		fmt.Fprintf(e.Stderr, "replay: %s:%d: malformed: %v\n", file, line, err)
	}
	sum := replay.Run(ctx, f, pool, st, opts)
	cats := make([]string, 0, len(sum.Replayed))
	for c := range sum.Replayed {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	verb := "replayed"
	if opts.DryRun {
		verb = "would replay"
	}
	fmt.Fprintf(e.Stdout, "%s: %d lines;", file, sum.Lines)
	for _, c := range cats {
		fmt.Fprintf(e.Stdout, " %s %s %d;", verb, c, sum.Replayed[c])
	}
	fmt.Fprintf(e.Stdout, " already replayed %d; nothing to replay %d; malformed %d; failed %d\n",
		sum.Already, sum.Skipped, sum.Malformed, sum.Failed)
	if sum.FirstError != nil {
		return sum.Malformed, e.Failf(cli.ExitFailed, "%s: %v", file, sum.FirstError)
	}
	return sum.Malformed, cli.ExitOK
}
