// Command replay puts messages that exist only in DATA logs (REDISTFAIL,
// DROP, RECOVFAILBACK lines) back into their tubes, once: replayed lines
// are recorded in a state file and skipped by later runs. It only parses
// flags and prints what package replay did.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"medispatcher/connpool"
	"medispatcher/engine/cli"
	"medispatcher/engine/replay"
)

func main() { cli.Main(run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags("replay", "usage: replay [-f CONFIG] [--dry-run] [--state FILE] DATA-LOG...\n\n"+
		"Puts the jobs of REDISTFAIL and DROP lines back into their channel tubes and\n"+
		"those of RECOVFAILBACK lines into the main tube. A line replayed once is\n"+
		"recorded in the state file and never replayed again.\n", stderr)
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
	code := cli.ExitOK
	for _, file := range fs.Args() {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(stderr, "replay: %v\n", err)
			code = cli.ExitFailed
			continue
		}
		sum := replay.Run(ctx, f, pool, st, opts)
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
	return code
}
