package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"medispatcher/loadgen"
	"medispatcher/loadgen/cptransport"
	"medispatcher/loadgen/farm"
)

// Demo is `make run`: private servers and daemon, a modest load for about
// 20 s with the live progress line, the report, and where to look next.
func Demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	daemon := fs.String("daemon", "bin/medispatcher", "medispatcher binary")
	out := fs.String("out", "bench/out/demo", "directory for the servers' and daemon's files")
	rate := fs.Float64("rate", 500, "messages per second")
	topics := fs.Int("topics", 50, "topics")
	d := fs.Duration("duration", 17*time.Second, "steady phase (after a 3 s warm-up)")
	if err := fs.Parse(args); err != nil {
		return loadgen.ExitUsage
	}
	if _, err := os.Stat(*daemon); err != nil {
		fmt.Fprintf(stderr, "demo: %v (run make build)\n", err)
		return loadgen.ExitError
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return loadgen.ExitError
	}
	dir, err := os.MkdirTemp(*out, time.Now().UTC().Format("20060102T150405-"))
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return loadgen.ExitError
	}
	fmt.Fprintf(stdout, "medispatcher demo: starting beanstalkd, redis-server and %s on loopback (files in %s)\n", *daemon, dir)
	env, err := StartEnv(ctx, dir, *daemon, 1, "file", nil)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return loadgen.ExitError
	}
	defer env.Stop()
	fmt.Fprintf(stdout, "  beanstalkd %s, redis %s, daemon pid %d\n", env.Servers()[0], env.Redis.Addr, env.Daemon.Pid())
	fmt.Fprintf(stdout, "loadgen: %d topics (90 %% fast subscribers, 10 %% answering in 5-50 ms), %.0f msg/s, 3 s warm-up + %v measured\n\n", *topics, *rate, *d)

	slow := max(1, *topics/10)
	cfg := loadgen.Config{
		Servers: env.Servers(), MainTube: env.MainTube, Rate: *rate, Size: 512,
		Classes: []loadgen.Class{
			{Profile: farm.Profile{Name: "fast", Latency: farm.Dist{Kind: farm.Uniform, A: 0, B: time.Millisecond}}, Topics: *topics - slow},
			{Profile: farm.Profile{Name: "slower", Latency: farm.Dist{Kind: farm.Uniform, A: 5 * time.Millisecond, B: 50 * time.Millisecond}}, Topics: slow},
		},
		Warmup: 3 * time.Second, Duration: *d, Drain: 15 * time.Second,
		Register: true, SubsFile: env.SubsFile,
		Progress: stderr, TTY: loadgen.IsTerminal(stderr),
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	put, err := cptransport.New(ctx, cfg.Servers)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return loadgen.ExitError
	}
	rep, err := loadgen.Run(ctx, cfg, put)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		fmt.Fprintf(stderr, "the daemon's log: %s\n", filepath.Join(env.Dir, "medispatcher.log"))
		return loadgen.ExitError
	}
	rep.Scenario = "demo"
	fmt.Fprintln(stdout)
	_ = rep.WriteText(stdout)
	fmt.Fprintf(stdout, `
Where to look next:
  status page:              http://%s/
  the admin API:            bin/medictl --addr %s status   (or: info, subs, failures, alerts; --json)
  push statistics (JSON):   http://%s/
  Prometheus metrics:       http://%s/metrics
  pprof:                    http://%s/debug/pprof/   (go tool pprof http://%s/debug/pprof/profile?seconds=10)
  daemon log and config:    %s
  the figures this machine reaches, and how they were measured: BENCHMARKS.md (make bench)
  a run of your own:        bin/loadgen --help
`, env.AdminAddr, env.AdminAddr, env.StatAddr, env.PromAddr, env.DebugAddr, env.DebugAddr, env.Dir)
	if loadgen.IsTerminal(os.Stdin) {
		fmt.Fprintln(stdout, "\nThe daemon and servers keep running: press Enter (or Ctrl-C) to stop them.")
		line := make(chan struct{})
		go func() { _, _ = bufio.NewReader(os.Stdin).ReadString('\n'); close(line) }()
		select {
		case <-line:
		case <-ctx.Done():
		case <-time.After(30 * time.Minute):
		}
	}
	return rep.ExitCode(false)
}
