package command

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"medispatcher/loadgen"
)

// runOptions is what `loadgen run` reads from its command line besides
// the run's Config.
type runOptions struct {
	cfg     loadgen.Config
	client  string // connpool or raw
	asJSON  bool
	jsonOut string
	strict  bool
}

// parseRun reads the command line; a nil result comes with the exit code.
func parseRun(args []string, stderr io.Writer) (*runOptions, int) {
	o := &runOptions{cfg: loadgen.Defaults()}
	cfg := &o.cfg
	fs := newFlagSet("run", stderr)
	servers := fs.String("servers", strings.Join(cfg.Servers, ","), "beanstalkd servers (QueueServerAddr)")
	rate := loadgen.RateFlag(cfg.Rate)
	fs.Var(&rate, "rate", "messages per second over all topics (50k = 50000)")
	noRegister := fs.Bool("no-register", false, "use existing subscriptions (ids from --first-sub-id, pointing at --farm-addr)")
	quiet := fs.Bool("quiet", false, "no live progress")
	registerConfigFlags(fs, cfg)
	fs.StringVar(&o.client, "client", "connpool", "beanstalkd client of the producer: connpool or raw")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON report to this file")
	fs.BoolVar(&o.strict, "strict", false, "exit 4 when messages were lost or duplicated")
	var metrics metricsFlag
	fs.Var(&metrics, "metrics", "the daemons' /metrics `URLs`, comma-separated (e.g. http://127.0.0.1:25606/metrics): their stage timings across the run go into the report")
	var pf profileFlags
	pf.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, loadgen.ExitUsage
	}
	if o.client != "connpool" && o.client != "raw" {
		fmt.Fprintf(stderr, "loadgen: --client %q (connpool or raw)\n", o.client)
		return nil, loadgen.ExitUsage
	}
	cfg.Rate = float64(rate)
	cfg.Servers = strings.Split(*servers, ",")
	cfg.Register = !*noRegister
	cfg.Metrics = metrics
	if err := setClasses(cfg, &pf); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return nil, loadgen.ExitUsage
	}
	if !*quiet {
		setProgress(cfg, stderr)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o, loadgen.ExitOK
}

// registerConfigFlags defines the flags that set a Config field as they are.
func registerConfigFlags(fs *flag.FlagSet, cfg *loadgen.Config) {
	fs.StringVar(&cfg.MainTube, "main-tube", cfg.MainTube, "NameOfMainQueue")
	fs.StringVar(&cfg.ChannelPrefix, "channel-prefix", cfg.ChannelPrefix, "PrefixOfChannelQueue")
	fs.IntVar(&cfg.Topics, "topics", cfg.Topics, "topics")
	fs.IntVar(&cfg.SubsPerTopic, "subs-per-topic", cfg.SubsPerTopic, "subscriptions per topic")
	fs.Int64Var(&cfg.FirstSubID, "first-sub-id", cfg.FirstSubID, "first subscription id")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "main-tube job size in bytes")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "warm-up phase (produced, not timed)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "steady phase (produced and timed)")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "longest wait for the backlog to empty")
	fs.DurationVar(&cfg.MaxLag, "max-lag", cfg.MaxLag, "producer lateness beyond which the run is void")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "concurrent puts")
	fs.StringVar(&cfg.SubsFile, "subs-file", "", "register subscriptions in this file (SubscriptionSource = \"file:...\")")
	fs.StringVar(&cfg.RedisAddr, "redis", "", "register subscriptions in this Redis (SubscriptionSource = \"redis\")")
	fs.StringVar(&cfg.RedisPrefix, "redis-prefix", cfg.RedisPrefix, "Redis.KeyPrefix")
	fs.DurationVar(&cfg.ProbeTimeout, "probe-timeout", cfg.ProbeTimeout, "wait for the daemon to push to every subscription")
	fs.StringVar(&cfg.FarmAddr, "farm-addr", cfg.FarmAddr, "listen address of the subscriber farm (loopback)")
}

// setClasses takes the topic classes from --profiles, or makes one class of
// --topics topics from the behaviour flags.
func setClasses(cfg *loadgen.Config, pf *profileFlags) error {
	if pf.file == "" {
		cfg.Classes = []loadgen.Class{{Profile: pf.profile(), Topics: cfg.Topics}}
		return nil
	}
	cls, err := loadgen.LoadClasses(pf.file)
	if err != nil {
		return err
	}
	cfg.Classes = cls
	return nil
}

// setProgress prints the live progress to w: one line redrawn on a
// terminal, a line every 5 s elsewhere (a log file, CI).
func setProgress(cfg *loadgen.Config, w io.Writer) {
	cfg.Progress = w
	cfg.TTY = loadgen.IsTerminal(w)
	if !cfg.TTY {
		cfg.ProgressInterval = 5 * time.Second
	}
}
