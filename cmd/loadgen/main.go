// Command loadgen drives medispatcher with a reproducible load and reports
// delivered/s, end-to-end latency, and an exact ledger of every message.
//
//	loadgen [run] --servers 127.0.0.1:11300 --subs-file subs.toml --topics 500 --rate 50k --duration 60s
//	loadgen farm  --addr 127.0.0.1:8090 --latency uniform:0s:2ms
//	loadgen ceiling --servers 127.0.0.1:11300
//	loadgen bench [--quick] (what `make bench` runs)
//	loadgen demo            (what `make run` runs)
//
// Exit codes: 0 valid run, 1 could not run, 2 usage, 3 void run (its
// figures must not be used), 4 valid run that lost or duplicated messages
// (with --strict).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"medispatcher/internal/buildinfo"
	"medispatcher/loadgen"
	"medispatcher/loadgen/bench"
	"medispatcher/loadgen/ceiling"
	"medispatcher/loadgen/cptransport"
	"medispatcher/loadgen/farm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runLoad(ctx, args, stdout, stderr)
	case "farm":
		return runFarm(ctx, args, stdout, stderr)
	case "ceiling":
		return runCeiling(ctx, args, stdout, stderr)
	case "bench":
		return bench.Main(ctx, args, stdout, stderr)
	case "demo":
		return bench.Demo(ctx, args, stdout, stderr)
	case "version", "-v":
		fmt.Fprintln(stdout, buildinfo.String("loadgen"))
		return loadgen.ExitOK
	}
	fmt.Fprintf(stderr, "loadgen: unknown command %q (run, farm, ceiling, bench, demo, version)\n", cmd)
	return loadgen.ExitUsage
}

// rateFlag accepts 50000, 50k, 1.5k, 2m.
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'f', -1, 64) }

func (r *rateFlag) Set(s string) error {
	v, err := ParseRate(s)
	*r = rateFlag(v)
	return err
}

// ParseRate parses a rate with an optional k or m suffix.
func ParseRate(s string) (float64, error) {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("bad rate %q", s)
	}
	return v * mult, nil
}

type profileFlags struct {
	latency    farm.Dist
	errorRatio float64
	errorKind  string
	file       string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.Var(&p.latency, "latency", "subscriber latency: fixed:D, uniform:MIN:MAX or longtail:SCALE:CAP")
	fs.Float64Var(&p.errorRatio, "error-ratio", 0, "share of pushes answered with a failure")
	fs.StringVar(&p.errorKind, "error-kind", "500", "failure kind: 500, status0 or timeout")
	fs.StringVar(&p.file, "profiles", "", "TOML file of [[class]] tables (name, topics, latency, error_ratio, ...); overrides --topics and the flags above")
}

func (p *profileFlags) profile() farm.Profile {
	return farm.Profile{Name: "default", Latency: p.latency, ErrorRatio: p.errorRatio, ErrorKind: farm.ErrorKind(p.errorKind)}
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := loadgen.Defaults()
	fs := flag.NewFlagSet("loadgen run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	servers := fs.String("servers", strings.Join(cfg.Servers, ","), "beanstalkd servers (QueueServerAddr)")
	fs.StringVar(&cfg.MainTube, "main-tube", cfg.MainTube, "NameOfMainQueue")
	fs.StringVar(&cfg.ChannelPrefix, "channel-prefix", cfg.ChannelPrefix, "PrefixOfChannelQueue")
	fs.IntVar(&cfg.Topics, "topics", cfg.Topics, "topics")
	fs.IntVar(&cfg.SubsPerTopic, "subs-per-topic", cfg.SubsPerTopic, "subscriptions per topic")
	fs.Int64Var(&cfg.FirstSubID, "first-sub-id", cfg.FirstSubID, "first subscription id")
	rate := rateFlag(cfg.Rate)
	fs.Var(&rate, "rate", "messages per second over all topics (50k = 50000)")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "main-tube job size in bytes")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up phase (produced, not timed)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "steady phase (produced and timed)")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "longest wait for the backlog to empty")
	fs.DurationVar(&cfg.MaxLag, "max-lag", cfg.MaxLag, "producer lateness beyond which the run is void")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent puts")
	fs.StringVar(&cfg.SubsFile, "subs-file", "", "register subscriptions in this file (SubscriptionSource = \"file:...\")")
	fs.StringVar(&cfg.RedisAddr, "redis", "", "register subscriptions in this Redis (SubscriptionSource = \"redis\")")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", cfg.RedisPrefix, "Redis.KeyPrefix")
	noRegister := fs.Bool("no-register", false, "use existing subscriptions (ids from --first-sub-id, pointing at --farm-addr)")
	fs.DurationVar(&cfg.ProbeTimeout, "probe-timeout", cfg.ProbeTimeout, "wait for the daemon to push to every subscription")
	fs.StringVar(&cfg.FarmAddr, "farm-addr", cfg.FarmAddr, "listen address of the subscriber farm (loopback)")
	client := fs.String("client", "connpool", "beanstalkd client of the producer: connpool or raw")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	jsonOut := fs.String("json-out", "", "also write the JSON report to this file")
	strict := fs.Bool("strict", false, "exit 4 when messages were lost or duplicated")
	quiet := fs.Bool("quiet", false, "no live progress")
	var pf profileFlags
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		return loadgen.ExitUsage
	}
	cfg.Rate = float64(rate)
	cfg.Servers = strings.Split(*servers, ",")
	cfg.Register = !*noRegister
	if pf.file != "" {
		cls, err := loadgen.LoadClasses(pf.file)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return loadgen.ExitUsage
		}
		cfg.Classes = cls
	} else {
		cfg.Classes = []loadgen.Class{{Profile: pf.profile(), Topics: cfg.Topics}}
	}
	if !*quiet {
		cfg.Progress = stderr
		cfg.TTY = isTTY(stderr)
		if !cfg.TTY {
			cfg.ProgressInterval = 5 * time.Second
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	var put loadgen.Putter
	if *client == "connpool" {
		p, err := cptransport.New(ctx, cfg.Servers)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return loadgen.ExitError
		}
		put = p
	} else if *client != "raw" {
		fmt.Fprintf(stderr, "loadgen: --client %q (connpool or raw)\n", *client)
		return loadgen.ExitUsage
	}
	rep, err := loadgen.Run(ctx, cfg, put)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		if errors.Is(err, loadgen.ErrConfig) {
			return loadgen.ExitUsage
		}
		return loadgen.ExitError
	}
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err == nil {
			err = rep.WriteJSON(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return loadgen.ExitError
		}
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return loadgen.ExitError
	}
	return rep.ExitCode(*strict)
}

func runFarm(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen farm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address (loopback)")
	every := fs.Duration("interval", 5*time.Second, "report interval")
	var pf profileFlags
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		return loadgen.ExitUsage
	}
	profiles := []farm.Profile{pf.profile()}
	if pf.file != "" {
		cls, err := loadgen.LoadClasses(pf.file)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen farm:", err)
			return loadgen.ExitUsage
		}
		profiles = profiles[:0]
		for _, c := range cls {
			profiles = append(profiles, c.Profile)
		}
	}
	f, err := farm.New(farm.Config{Addr: *addr, Profiles: profiles})
	if err != nil {
		fmt.Fprintln(stderr, "loadgen farm:", err)
		return loadgen.ExitError
	}
	fmt.Fprintf(stdout, "farm listening on %s; subscription URLs: http://%s/s/<id>?class=<name> (classes:", f.Addr(), f.Addr())
	for _, p := range f.Classes() {
		fmt.Fprintf(stdout, " %s", p.Name)
	}
	fmt.Fprintln(stdout, "); messages must carry seq and ts (unix ns) in their body")
	tk := time.NewTicker(*every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = f.Close(c)
			iv := f.Tick()
			printFarm(stdout, f, iv)
			return loadgen.ExitOK
		case <-tk.C:
			printFarm(stdout, f, f.Tick())
		}
	}
}

func printFarm(w io.Writer, f *farm.Farm, iv farm.Interval) {
	t := f.Totals()
	fmt.Fprintf(w, "arrivals %d delivered %d dups %d failed %d probes %d malformed %d | last interval: %d delivered, p50 %v p99 %v max %v\n",
		t.Arrivals, t.Delivered, t.Dups, t.Failed, t.Probes, t.Malformed, iv.Delivered, iv.P50, iv.P99, iv.Max)
}

func runCeiling(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen ceiling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	servers := fs.String("servers", "127.0.0.1:11300", "beanstalkd server (the first is used)")
	d := fs.Duration("duration", 5*time.Second, "length of each measurement")
	size := fs.Int("size", 512, "job size")
	if err := fs.Parse(args); err != nil {
		return loadgen.ExitUsage
	}
	res, err := ceiling.Measure(ctx, ceiling.Config{Beanstalkd: strings.Split(*servers, ",")[0], Duration: *d, Size: *size})
	if err != nil {
		fmt.Fprintln(stderr, "loadgen ceiling:", err)
		return loadgen.ExitError
	}
	fmt.Fprintf(stdout, "beanstalkd dispatch cycle: %.0f msg/s\nfasthttp client→server:   %.0f req/s\n", res.CycleRate, res.HTTPRate)
	return loadgen.ExitOK
}
