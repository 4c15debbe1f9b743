// Command replay puts messages that exist only in DATA logs (REDISTFAIL,
// DROP, RECOVFAILBACK lines) back into their tubes, once: replayed lines
// are recorded in a state file and skipped by later runs. It only parses
// flags and prints what package replay did.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"

	"medispatcher/connpool"
	"medispatcher/engine/buildinfo"
	"medispatcher/engine/config"
	"medispatcher/engine/replay"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run returns the exit code: 0 done, 1 config error, 2 usage error,
// 3 some lines could not be replayed (run again: they are retried).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("f", "/etc/medispatcher.toml", "medispatcher config file")
	dry := fs.Bool("dry-run", false, "count what would be replayed, put nothing")
	statePath := fs.String("state", "", "file recording replayed lines (default: LOG_DIR/replayed.state)")
	version := fs.Bool("v", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: replay [-f CONFIG] [--dry-run] [--state FILE] DATA-LOG...\n\n"+
			"Puts the jobs of REDISTFAIL and DROP lines back into their channel tubes and\n"+
			"those of RECOVFAILBACK lines into the main tube. A line replayed once is\n"+
			"recorded in the state file and never replayed again.\n"+
			"Exit codes: 0 done, 1 config error, 2 usage error, 3 some puts failed.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("replay"))
		return 0
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, _, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return 1
	}
	if *statePath == "" {
		*statePath = filepath.Join(cfg.LogDir, "replayed.state")
	}
	st, err := replay.OpenState(*statePath)
	if err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return 1
	}
	defer st.Close()
	pool, err := connpool.New(ctx, connpool.Config{Addrs: cfg.QueueServers})
	if err != nil {
		fmt.Fprintf(stderr, "replay: %v\n", err)
		return 3
	}
	defer pool.Close()
	opts := replay.Options{MainTube: cfg.NameOfMainQueue, ChannelPrefix: cfg.PrefixOfChannelQueue, DryRun: *dry}
	code := 0
	for _, file := range fs.Args() {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintf(stderr, "replay: %v\n", err)
			code = 3
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
			code = 3
		}
	}
	return code
}
