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

// lingerMax bounds how long a demo keeps everything up after its report
// when nobody presses Enter.
const lingerMax = 30 * time.Minute

// demoOptions are the demo's command line and where it may wait for Enter.
type demoOptions struct {
	daemon, out string
	rate        loadgen.RateFlag
	topics      int
	duration    time.Duration
	exit        bool
	// stdin is read for Enter after the report when interactive and not
	// exit; otherwise the demo stops everything right after the report.
	stdin       io.Reader
	interactive bool
}

// Demo is `make run`: private servers, daemon and subscriber farm, a
// modest load for about 20 s with the live progress line, the report, and
// where to look next. On a terminal everything keeps running after the
// report until Enter or Ctrl-C (--exit: stop at once, as elsewhere).
func Demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseDemo(args, stderr)
	if err != nil {
		return loadgen.ExitUsage
	}
	o.stdin, o.interactive = os.Stdin, loadgen.IsTerminal(os.Stdin)
	return runDemo(ctx, o, stdout, stderr)
}

func parseDemo(args []string, stderr io.Writer) (*demoOptions, error) {
	o := &demoOptions{rate: 500}
	fs := flag.NewFlagSet("loadgen demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.daemon, "daemon", "bin/medispatcher", "medispatcher binary")
	fs.StringVar(&o.out, "out", "bench/out/demo", "directory for the servers' and daemon's files")
	fs.Var(&o.rate, "rate", "messages per second (50k = 50000)")
	fs.IntVar(&o.topics, "topics", 50, "topics")
	fs.DurationVar(&o.duration, "duration", 17*time.Second, "steady phase (after a 3 s warm-up)")
	fs.BoolVar(&o.exit, "exit", false, "stop everything right after the report instead of waiting for Enter")
	return o, fs.Parse(args)
}

// waits reports whether the demo keeps everything up after its report.
func (o *demoOptions) waits() bool { return o.interactive && !o.exit }

func runDemo(ctx context.Context, o *demoOptions, stdout, stderr io.Writer) int {
	dir, err := demoDir(o)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return loadgen.ExitError
	}
	fmt.Fprintf(stdout, "medispatcher demo: starting beanstalkd, redis-server and %s on loopback (files in %s)\n", o.daemon, dir)
	env, err := StartEnv(ctx, dir, o.daemon, Layout{Servers: 1, Daemons: 1, Binlog: BinlogOff, Source: "file"}, nil)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return loadgen.ExitError
	}
	cfg := demoConfig(o, env, stderr)
	f, err := loadgen.NewFarm(cfg)
	if err != nil {
		env.Stop()
		fmt.Fprintln(stderr, "demo:", err)
		return loadgen.ExitError
	}
	// The daemon stops first, while the farm still answers its last pushes.
	defer func() {
		env.Stop()
		closeFarm(f)
	}()
	cfg.Farm = f
	fmt.Fprintf(stdout, "  beanstalkd %s, redis %s, daemon pid %d, subscriber farm %s\n", env.Servers()[0], env.Redis.Addr, env.Daemons[0].Proc.Pid(), f.Addr())
	writeAddrs(stdout, env)
	fmt.Fprintf(stdout, "loadgen: %d topics (90 %% fast subscribers, 10 %% answering in 5-50 ms), %.0f msg/s, 3 s warm-up + %v measured\n\n", o.topics, float64(o.rate), o.duration)

	rep, err := demoRun(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		fmt.Fprintf(stderr, "the daemon's log: %s\n", filepath.Join(env.Dir, "medispatcher.log"))
		return loadgen.ExitError
	}
	fmt.Fprintln(stdout)
	_ = rep.WriteText(stdout)
	writeNext(stdout, env)
	if o.waits() {
		linger(ctx, o.stdin, f, stdout)
	}
	return rep.ExitCode(false)
}

// demoDir makes a fresh directory for this demo's files under o.out.
func demoDir(o *demoOptions) (string, error) {
	if _, err := os.Stat(o.daemon); err != nil {
		return "", fmt.Errorf("%w (run make build)", err)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(o.out, time.Now().UTC().Format("20060102T150405-"))
}

// demoConfig is the demo's load: 90 % of the topics with fast subscribers,
// 10 % with subscribers answering in 5-50 ms.
func demoConfig(o *demoOptions, env *Env, progress io.Writer) loadgen.Config {
	slow := max(1, o.topics/10)
	return loadgen.Config{
		Servers: env.Servers(), MainTube: env.MainTube, Rate: float64(o.rate), Size: 512,
		Classes: []loadgen.Class{
			{Profile: farm.Profile{Name: "fast", Latency: farm.Dist{Kind: farm.Uniform, A: 0, B: time.Millisecond}}, Topics: o.topics - slow},
			{Profile: farm.Profile{Name: "slower", Latency: farm.Dist{Kind: farm.Uniform, A: 5 * time.Millisecond, B: 50 * time.Millisecond}}, Topics: slow},
		},
		Warmup: 3 * time.Second, Duration: o.duration, Drain: 15 * time.Second,
		Register: true, SubsFile: env.SubsFile,
		Progress: progress, TTY: loadgen.IsTerminal(progress),
		Logger: slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

func demoRun(ctx context.Context, cfg loadgen.Config) (*loadgen.Report, error) {
	put, err := cptransport.New(ctx, cfg.Servers)
	if err != nil {
		return nil, err
	}
	rep, err := loadgen.Run(ctx, cfg, put)
	if err != nil {
		return nil, err
	}
	rep.Scenario = "demo"
	return rep, nil
}

// writeAddrs lists what the daemon under demo serves over HTTP.
func writeAddrs(w io.Writer, env *Env) {
	d := env.Daemons[0]
	fmt.Fprintf(w, `  status page:              http://%s/
  push statistics (JSON):   http://%s/
  Prometheus metrics:       http://%s/metrics
  pprof:                    http://%s/debug/pprof/   (go tool pprof http://%s/debug/pprof/profile?seconds=10)
`, d.AdminAddr, d.StatAddr, d.PromAddr, d.DebugAddr, d.DebugAddr)
}

// writeNext says where to look after the report.
func writeNext(w io.Writer, env *Env) {
	fmt.Fprintln(w, "\nWhere to look next:")
	writeAddrs(w, env)
	fmt.Fprintf(w, `  the admin API:            bin/medictl --addr %s status   (or: info, subs, failures, alerts; --json)
  daemon log and config:    %s
  the figures this machine reaches, and how they were measured: BENCHMARKS.md (make bench)
  a run of your own:        bin/loadgen --help
`, env.Daemons[0].AdminAddr, env.Dir)
}

// linger keeps the servers, the daemon and the farm up, the farm answering
// pushes again, until a line (or the end) on stdin, ctx's end (Ctrl-C) or
// lingerMax.
func linger(ctx context.Context, stdin io.Reader, f *farm.Farm, stdout io.Writer) {
	f.OpenGate()
	fmt.Fprintln(stdout, "\nThe daemon, its servers and the subscriber farm keep running: press Enter (or Ctrl-C) to stop them.")
	line := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(stdin).ReadString('\n') // a line, or its end
		close(line)
	}()
	t := time.NewTimer(lingerMax)
	defer t.Stop()
	select {
	case <-line:
	case <-ctx.Done():
	case <-t.C:
	}
	fmt.Fprintln(stdout, "stopping the daemon, its servers and the subscriber farm")
}

func closeFarm(f *farm.Farm) {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.Close(c)
}
