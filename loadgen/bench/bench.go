package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
	"medispatcher/loadgen/cptransport"
	"medispatcher/loadgen/stages"
)

// Options of a bench run.
type Options struct {
	Scenarios string // directory of scenario files
	Out       string // raw reports, logs, profiles
	Markdown  string // file whose marked section is rewritten; "" = none
	Plots     string // SVG directory; "" = none
	Daemon    string // medispatcher binary
	Client    string // producer client: connpool or raw
	Quick     bool
	Only      []string // scenario names to run; nil: all
	// Baseline is the summary.json of an earlier run (another binary,
	// the same session): the latency-vs-rate plots draw its curves
	// beside this run's, labelled BaselineLabel.
	Baseline      string
	BaselineLabel string
	Ceiling       time.Duration
	Pprof         time.Duration // CPU profile (pprof = true) and execution trace (trace = true) length
	Progress      io.Writer
	TTY           bool
}

// RunResult is one loadgen run of a scenario.
type RunResult struct {
	Label  string          `json:"label"`
	Rate   float64         `json:"rate"`
	Report *loadgen.Report `json:"report,omitempty"`
	Err    string          `json:"error,omitempty"`
	// CPUSec and CPUPer1k are the CPU of all the scenario's daemons,
	// summed: a fleet's cost per message beside one daemon's.
	CPUSec   float64 `json:"daemon_cpu_s"`
	CPUPer1k float64 `json:"daemon_cpu_s_per_1k"`
	// BeanstalkdCPUPer1k is the CPU of the scenario's beanstalkd servers
	// per 1000 messages delivered: beside the ceiling's CPU per 1000
	// cycles, what the daemon's use of the queue costs.
	BeanstalkdCPUPer1k float64 `json:"beanstalkd_cpu_s_per_1k"`
	// BeanstalkdCmds are the commands the servers received per message
	// delivered, by kind (stats' cmd-* counters): the producer's puts, the
	// daemon's reserves, deletes, touches, watches, stats requests, wakes.
	BeanstalkdCmds map[string]float64 `json:"beanstalkd_cmds_per_msg,omitempty"`
	// Stages are the daemons' own timings of where the run's messages
	// spent their time (medispatcher_stage_seconds, summed over the
	// daemons, the difference across the run), beside the end-to-end
	// latency the subscribers saw.
	Stages []stages.Latency `json:"stages,omitempty"`
	// Database is what the run asked of the 2.x database (source mysql
	// only): the daemons' queries and failure rows, MariaDB's CPU.
	Database *DatabaseWork `json:"database,omitempty"`
	// Outages are the run's classes that refused connections for a
	// while: the daemon's pushes to them meanwhile, their recovery.
	Outages []OutageFigures `json:"outages,omitempty"`
	// Overloads are the run's classes whose subscribers turn pushes
	// away beyond a number in flight: the daemon's pushes to them and
	// their failures in the steady phase, its push window meanwhile.
	Overloads []OverloadFigures `json:"overloads,omitempty"`
	// Sink is what the run's trace collector received (a scenario with
	// OtelEndpoint = "sink" only).
	Sink      *OTLPSinkStats `json:"otlp_sink,omitempty"`
	Sustained bool           `json:"sustained"`
	Why       string         `json:"why,omitempty"`
}

// Result is a scenario's outcome.
type Result struct {
	S         *Scenario    `json:"-"`
	Name      string       `json:"name"`
	Servers   int          `json:"servers"` // beanstalkd instances of each run
	Daemons   int          `json:"daemons"` // medispatcher processes of each run
	Runs      []*RunResult `json:"runs"`
	Main      *RunResult   `json:"-"`                  // the run quoted in the table
	PeakRSSMB float64      `json:"daemon_peak_rss_mb"` // the largest of any one daemon
	Err       string       `json:"error,omitempty"`
	Failures  []string     `json:"failures,omitempty"` // quick mode's verdict
	Notes     []string     `json:"notes,omitempty"`
	Profile   string       `json:"cpu_profile,omitempty"`
	Trace     string       `json:"exec_trace,omitempty"` // runtime/trace of the first daemon (trace = true)
	Compare   *Comparison  `json:"compare,omitempty"`    // kind compare only
	// Breaker sets an outage scenario run with the circuit breaker on
	// against its twin with it off (see compareBreakers).
	Breaker *BreakerComparison `json:"breaker,omitempty"`
	// Window sets an overloaded-endpoint scenario run with the adaptive
	// push window on against its twin with it off (see compareWindows).
	Window *WindowComparison `json:"adaptive_window,omitempty"`
	// Tracing sets a traced throughput scenario's max rate against its
	// untraced twin's (see compareTracing).
	Tracing *TraceComparison `json:"tracing,omitempty"`
	// Publish are a publish scenario's figures (see publish.go).
	Publish *PublishFigures `json:"publish,omitempty"`
}

// Summary is everything a bench run produced.
type Summary struct {
	Started time.Time      `json:"started"`
	Elapsed float64        `json:"elapsed_s"`
	Machine Machine        `json:"machine"`
	Ceiling ceiling.Result `json:"ceiling"`
	Results []*Result      `json:"results"`
	Quick   bool           `json:"quick"`
}

// Main is `loadgen bench`.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return loadgen.ExitUsage
	}
	o.Progress = stderr
	sum, err := Bench(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen bench:", err)
		return loadgen.ExitError
	}
	writeConsole(stdout, sum)
	failed := 0
	for _, r := range sum.Results {
		if len(r.Failures) > 0 {
			failed++
		}
	}
	if o.Quick && failed > 0 {
		fmt.Fprintf(stderr, "loadgen bench --quick: %d scenario(s) failed\n", failed)
		return loadgen.ExitFaulty
	}
	return loadgen.ExitOK
}

// parseOptions reads the flags of loadgen bench.
func parseOptions(args []string, stderr io.Writer) (Options, error) {
	o := Options{}
	fs := flag.NewFlagSet("loadgen bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Scenarios, "scenarios", "", "scenario directory (default bench/scenarios, or bench/scenarios/quick with --quick)")
	fs.StringVar(&o.Out, "out", "bench/out", "directory for raw reports, logs and profiles")
	fs.StringVar(&o.Markdown, "markdown", "BENCHMARKS.md", "file whose generated section is rewritten (not with --quick, --only or, unless given, --scenarios)")
	fs.StringVar(&o.Plots, "plots", "bench/plots", "directory of the SVG plots (not with --quick, nor, unless given, with --only or --scenarios)")
	fs.StringVar(&o.Daemon, "daemon", "bin/medispatcher", "medispatcher binary")
	fs.StringVar(&o.Client, "client", "connpool", "producer's beanstalkd client: connpool or raw")
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: small scenarios, no BENCHMARKS.md; fails if a run is void or loses anything")
	only := fs.String("only", "", "comma-separated names of the scenarios to run (the ceiling always runs); writes no BENCHMARKS.md, nor plots unless --plots is given")
	fs.DurationVar(&o.Ceiling, "ceiling", 3*time.Second, "length of each ceiling measurement")
	fs.StringVar(&o.Baseline, "baseline", "", "summary.json of an earlier run whose latency-vs-rate curves the plots draw beside this run's")
	fs.StringVar(&o.BaselineLabel, "baseline-label", "before", "name of the baseline's curves")
	fs.DurationVar(&o.Pprof, "pprof", 5*time.Second, "CPU profile length for scenarios with pprof = true, execution trace length for trace = true (0: none)")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Scenarios != "" {
		// A directory of one's own scenarios is an experiment: it must
		// not replace make bench's section and plots unless asked to.
		if !set["markdown"] {
			o.Markdown = ""
		}
		if !set["plots"] {
			o.Plots = ""
		}
	}
	if o.Scenarios == "" {
		o.Scenarios = "bench/scenarios"
		if o.Quick {
			o.Scenarios = "bench/scenarios/quick"
		}
	}
	if o.Quick {
		o.Markdown, o.Plots = "", ""
		o.Ceiling = min(o.Ceiling, time.Second)
	}
	if *only != "" {
		// A partial run must not replace the full run's section.
		o.Only = strings.Split(*only, ",")
		o.Markdown = ""
		if !set["plots"] {
			o.Plots = ""
		}
	}
	return o, nil
}

// Bench runs the ceiling and every scenario and writes the outputs.
func Bench(ctx context.Context, o Options) (*Summary, error) {
	scs, err := LoadScenarios(o.Scenarios)
	if err != nil {
		return nil, err
	}
	if scs, err = selectScenarios(scs, o.Only); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.Daemon); err != nil {
		return nil, fmt.Errorf("daemon binary: %w (run make build)", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("out dir: %w", err)
	}
	runDir, err := os.MkdirTemp(o.Out, "run-"+time.Now().UTC().Format("20060102T150405")+"-")
	if err != nil {
		return nil, fmt.Errorf("out dir: %w", err)
	}
	sum := &Summary{Started: time.Now().UTC(), Machine: DescribeMachine(), Quick: o.Quick}
	logf(o, "bench: machine %s; outputs in %s", sum.Machine.String(), runDir)

	if sum.Ceiling, err = measureCeiling(ctx, o, scs, runDir); err != nil {
		return nil, err
	}

	byName := map[string]*Result{}
	for _, s := range scs {
		if ctx.Err() != nil {
			break
		}
		dir := filepath.Join(runDir, s.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		res := runScenario(ctx, o, s, dir, byName)
		byName[s.Name] = res
		sum.Results = append(sum.Results, res)
	}
	noteFleets(sum.Results)
	compareBreakers(sum.Results)
	compareWindows(sum.Results)
	compareTracing(sum.Results)
	sum.Elapsed = time.Since(sum.Started).Seconds()

	if f, err := os.Create(filepath.Join(runDir, "summary.json")); err == nil {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
		f.Close()
	}
	if o.Plots != "" {
		var base *Summary
		if o.Baseline != "" {
			if base, err = loadSummary(o.Baseline); err != nil {
				return sum, err
			}
		}
		if err := WritePlots(o.Plots, sum, base, o.BaselineLabel); err != nil {
			return sum, err
		}
	}
	md := RenderMarkdown(sum, o)
	if o.Markdown != "" {
		if err := ReplaceSection(o.Markdown, md); err != nil {
			return sum, err
		}
		logf(o, "bench: wrote %s", o.Markdown)
	} else {
		_ = os.WriteFile(filepath.Join(runDir, "report.md"), []byte(md), 0o644)
	}
	return sum, nil
}

func logf(o Options, format string, a ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", a...)
	}
}

// runScenario carries out scenario s by its kind, in directory dir; done
// holds the results of the scenarios before it (latency and compare
// scenarios take their rate from a throughput one).
func runScenario(ctx context.Context, o Options, s *Scenario, dir string, done map[string]*Result) *Result {
	res := &Result{S: s, Name: s.Name, Servers: s.Servers, Daemons: s.Daemons}
	logf(o, "bench: scenario %s (%s)", s.Name, s.Kind)
	sr := &scenarioRun{ctx: ctx, o: o, s: s, dir: dir, res: res}
	profileKeys := s.Daemon
	switch s.Kind {
	case KindFixed:
		res.Main = sr.run("", s.Rate, s.classes(nil), s.Daemon, "")
	case KindThroughput:
		sr.throughput()
	case KindLatency:
		rate, ok := baseRate(s, done, res)
		if !ok {
			return res
		}
		res.Main = sr.run(fmt.Sprintf("%.0f%% of %s", s.Fraction*100, s.Of), rate, s.classes(nil), s.Daemon, "")
	case KindIsolation:
		sr.isolation()
	case KindCompare:
		rate, ok := baseRate(s, done, res)
		if !ok {
			return res
		}
		profileKeys = sr.compare(rate, done[s.Of].Main.Rate)
	case KindPublish:
		sr.publish()
	}
	// The CPU profile is taken in a run of its own at the quoted run's
	// rate: profiling disturbs the latencies it would otherwise spoil.
	if s.Pprof && o.Pprof > 0 && res.Main != nil && res.Main.Report != nil && ctx.Err() == nil {
		sr.run(captureCPU, res.Main.Rate, s.classes(nil), profileKeys, captureCPU)
	}
	// So is the execution trace, which slows every goroutine switch.
	if s.Trace && o.Pprof > 0 && res.Main != nil && res.Main.Report != nil && ctx.Err() == nil {
		sr.run(captureTrace, res.Main.Rate, s.classes(nil), profileKeys, captureTrace)
	}
	res.judge(s)
	return res
}

// What a run may capture of the daemon in its steady phase: the label of
// the run, its file and the pprof endpoint serving it.
const (
	captureCPU   = "profile"
	captureTrace = "trace"
)

var (
	captureFile     = map[string]string{captureCPU: "cpu.pprof", captureTrace: "exec.trace"}
	captureEndpoint = map[string]string{captureCPU: "profile", captureTrace: "trace"}
)

// scenarioRun is one scenario on its way through its runs.
type scenarioRun struct {
	ctx context.Context
	o   Options
	s   *Scenario
	dir string
	res *Result
	n   int // runs so far: numbers their directories
	// client is the next runs' producer side (publish scenarios); nil:
	// the runner's ordinary producer.
	client *runClient
}

// run is one loadgen run at rate with classes, against servers and a
// daemon (configured with keys) of its own: jobs a run leaves in flight
// must not be counted by the next one. capture (captureCPU, captureTrace
// or "") takes a CPU profile or an execution trace of the (first) daemon
// during the steady phase.
func (sr *scenarioRun) run(label string, rate float64, classes []loadgen.Class, keys map[string]any, capture string) *RunResult {
	sr.n++
	rdir := filepath.Join(sr.dir, fmt.Sprintf("run%d-%s", sr.n, sanitize(label)))
	rr := &RunResult{Label: label, Rate: rate}
	res := sr.res
	res.Runs = append(res.Runs, rr)
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		rr.Err = err.Error()
		return rr
	}
	env, err := StartEnv(sr.ctx, rdir, sr.o.Daemon, sr.s.layout(), keys)
	if err != nil {
		rr.Err = err.Error()
		return rr
	}
	defer func() {
		res.PeakRSSMB = math.Max(res.PeakRSSMB, env.DaemonPeakRSSMB())
		for _, d := range env.Daemons {
			_ = SaveURL(context.Background(), "http://"+d.PromAddr+"/metrics", filepath.Join(rdir, d.file("metrics", ".txt")))
		}
		env.Stop()
		rr.Sink = env.SinkStats
	}()
	*rr = *oneRun(sr.ctx, sr.o, sr.s, env, rdir, label, rate, classes, capture, sr.client)
	if rr.Err == "" {
		switch capture {
		case captureCPU:
			res.Profile = filepath.Join(rdir, captureFile[capture])
		case captureTrace:
			res.Trace = filepath.Join(rdir, captureFile[capture])
		}
	}
	return rr
}

// throughput steps the rate up by Step from Rate (to MaxRate at most)
// until a step is not sustained, then narrows the answer; the quoted run
// is the last sustained one.
func (sr *scenarioRun) throughput() {
	s, res := sr.s, sr.res
	maxRate := s.MaxRate
	if maxRate <= 0 {
		maxRate = math.Inf(1)
	}
	steps := 0
	failedAt := 0.0
	for rate := s.Rate; rate <= maxRate && sr.ctx.Err() == nil; rate *= s.Step {
		rr := sr.run(fmt.Sprintf("step %d", steps+1), rate, s.classes(nil), s.Daemon, "")
		steps++
		if !rr.Sustained {
			failedAt = rate
			break
		}
		res.Main = rr
		if sr.o.Quick && steps >= 2 {
			break
		}
	}
	// Two more steps, each halfway (geometrically) between the last
	// sustained rate and the lowest that was not, narrow the answer to
	// within about 11 % of a ×1.5 step.
	for i := 0; i < 2 && res.Main != nil && failedAt > 0 && !sr.o.Quick && sr.ctx.Err() == nil; i++ {
		mid := math.Round(math.Sqrt(res.Main.Rate * failedAt))
		if rr := sr.run(fmt.Sprintf("refine %d", i+1), mid, s.classes(nil), s.Daemon, ""); rr.Sustained {
			res.Main = rr
		} else {
			failedAt = mid
		}
	}
	if res.Main == nil {
		res.Notes = append(res.Notes, "not even the first rate was sustained")
		res.Main = res.Runs[len(res.Runs)-1]
	}
}

// isolation runs the baseline classes alone, then every class at the same
// rate per topic, and fails when the slow class more than doubles the
// baseline classes' p99.
func (sr *scenarioRun) isolation() {
	s, res := sr.s, sr.res
	all := s.classes(nil)
	base := s.classes(s.Baseline)
	bt, at := 0, 0
	for _, c := range base {
		bt += c.Topics
	}
	for _, c := range all {
		at += c.Topics
	}
	// The same rate per topic in both runs.
	b := sr.run("baseline", s.Rate*float64(bt)/float64(at), base, s.Daemon, "")
	res.Main = sr.run("", s.Rate, all, s.Daemon, "")
	if b.Report == nil || res.Main.Report == nil || b.Report.Void || res.Main.Report.Void {
		return
	}
	bp, mp := classP99(b.Report, s.Baseline), classP99(res.Main.Report, s.Baseline)
	ratio := mp / bp
	verdict := "within"
	if ratio > 2 {
		verdict = "NOT within"
		res.Failures = append(res.Failures, fmt.Sprintf("isolation: p99 of %v is %.1f× the baseline", s.Baseline, ratio))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("p99 of classes %v: %.2f ms without the slow subscriber, %.2f ms with it (%.2f×, %s 2×)",
		s.Baseline, bp, mp, ratio, verdict))
}

// compare runs the daemon with the On keys and with the Off keys at rate,
// Repeat times each, interleaved so that what else the machine does falls
// on both, and compares the medians; ofRate is the sustained rate rate was
// taken from. It returns the On keys, which the CPU profile uses.
func (sr *scenarioRun) compare(rate, ofRate float64) map[string]any {
	s, res := sr.s, sr.res
	onKeys, offKeys := s.variantKeys(s.On), s.variantKeys(s.Off)
	var on, off []*RunResult
	for i := 1; i <= s.Repeat && sr.ctx.Err() == nil; i++ {
		on = append(on, sr.run(fmt.Sprintf("%s%d", onLabel, i), rate, s.classes(nil), onKeys, ""))
		off = append(off, sr.run(fmt.Sprintf("off %d", i), rate, s.classes(nil), offKeys, ""))
	}
	c := compareRuns(on, off, s.Goal)
	res.Compare = &c
	res.Main = medianRun(on, usableOn)
	res.Notes = append(res.Notes, fmt.Sprintf("%.0f/s offered (%.0f%% of %s's %.0f/s)", rate, s.Fraction*100, s.Of, ofRate),
		c.Note(), c.RunsNote())
	// An undrained overload run still balances (the backlog counts as
	// in flight), but its CPU per message then misses the drain.
	for _, rr := range res.Runs {
		if usable(rr) && !rr.Report.Drained {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: backlog not drained within %s; raise drain", rr.Label, s.Drain.D()))
		}
	}
	return onKeys
}

// judge adds the failures of res's runs: errors, void runs (except a
// throughput step past the max), lost or duplicated messages in a
// fault-free scenario, pushes faster than a token bucket. A run that did
// not keep up with its offer is no failure: throughput and compare
// scenarios overload on purpose.
func (res *Result) judge(s *Scenario) {
	for _, rr := range res.Runs {
		switch {
		case rr.Err != "":
			res.Failures = append(res.Failures, rr.Label+": "+rr.Err)
		case rr.Report.Void:
			// A void throughput step past the max is how stepping ends;
			// a compare run whose daemon was the limit while its producer
			// lagged still measured the capacity (capacityBound), and an
			// "on" run that kept up with its lagging producer a lower
			// bound of it (producerBound).
			if (s.Kind != KindThroughput || rr == res.Main) && !(s.Kind == KindCompare && countedVoid(rr)) {
				res.Failures = append(res.Failures, fmt.Sprintf("%s void: %v", rr.Label, rr.Report.VoidReasons))
			}
		case s.IsFaultFree() && (rr.Report.Ledger.Lost > 0 || rr.Report.Ledger.Duplicates > 0):
			res.Failures = append(res.Failures, fmt.Sprintf("%s lost %d, duplicated %d", rr.Label, rr.Report.Ledger.Lost, rr.Report.Ledger.Duplicates))
		}
		if rr.Report != nil {
			for _, c := range rr.Report.Classes {
				if c.OverLimit > 0 {
					res.Failures = append(res.Failures, fmt.Sprintf("%s: %d pushes to class %s faster than its token bucket", rr.Label, c.OverLimit, c.Name))
				}
			}
		}
	}
}

// baseRate is Fraction × the sustained max of the throughput scenario s
// builds on (latency, compare); without one it fails res.
func baseRate(s *Scenario, done map[string]*Result, res *Result) (float64, bool) {
	of := done[s.Of]
	if of == nil || of.Main == nil || !of.Main.Sustained {
		res.Err = fmt.Sprintf("no sustained rate from %q", s.Of)
		res.Failures = append(res.Failures, res.Err)
		return 0, false
	}
	return math.Round(of.Main.Rate * s.Fraction), true
}

func classP99(r *loadgen.Report, names []string) float64 {
	p := 0.0
	for _, c := range r.Classes {
		if contains(names, c.Name) {
			p = math.Max(p, c.Latency.P99)
		}
	}
	return p
}

func oneRun(ctx context.Context, o Options, s *Scenario, env *Env, dir, label string, rate float64, classes []loadgen.Class, capture string, cl *runClient) *RunResult {
	rr := &RunResult{Label: label, Rate: rate}
	logf(o, "bench: %s %s: %.0f msg/s", s.Name, label, rate)
	cfg := loadgen.Config{
		Servers: env.Servers(), MainTube: env.MainTube, ChannelPrefix: "sub-queue/",
		Classes: append([]loadgen.Class(nil), classes...), Rate: rate, Size: s.Size,
		Warmup: s.Warmup.D(), Duration: s.Duration.D(), Drain: s.Drain.D(),
		Register: true,
		Progress: o.Progress, TTY: o.TTY, ProgressInterval: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(o.Progress, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	switch s.Source {
	case SourceRedis:
		cfg.RedisAddr = env.Redis.Addr
	case SourceMySQL:
		cfg.Database = env.Database
	default:
		cfg.SubsFile = env.SubsFile
	}
	if capture != "" && o.Pprof > 0 {
		secs := int(math.Max(1, math.Min(o.Pprof.Seconds(), s.Duration.D().Seconds()-1)))
		cfg.OnSteady = func() {
			url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", env.Daemons[0].DebugAddr, captureEndpoint[capture], secs)
			if err := SaveURL(ctx, url, filepath.Join(dir, captureFile[capture])); err != nil {
				logf(o, "bench: %s: %s: %v", s.Name, capture, err)
			}
		}
	}
	cl.configure(&cfg)
	watch, err := startRunWatch(ctx, env, &cfg)
	if err != nil {
		rr.Err = err.Error()
		return rr
	}
	put, err := cl.putter(ctx, o, env)
	if err != nil {
		watch.finish(rr)
		rr.Err = err.Error()
		return rr
	}
	before := env.sample(ctx)
	rep, err := loadgen.Run(ctx, cfg, put)
	after := env.sample(ctx)
	watch.finish(rr)
	if err != nil {
		rr.Err = err.Error()
		return rr
	}
	rep.Scenario = s.Name
	if label != "" {
		rep.Scenario += " (" + label + ")"
	}
	rr.Report = rep
	rr.account(before, after)
	rr.noteOutages()
	rr.noteOverloads()
	rr.Sustained, rr.Why = sustained(rep)
	name := s.Name
	if label != "" {
		name += "-" + sanitize(label)
	}
	if f, err := os.Create(filepath.Join(dir, sanitize(name)+".json")); err == nil {
		_ = rep.WriteJSON(f)
		f.Close()
	}
	_ = rep.WriteText(o.Progress)
	return rr
}

// newPutter is the producer's client o asks for: connpool's, or nil for
// loadgen's raw one.
func newPutter(ctx context.Context, o Options, servers []string) (loadgen.Putter, error) {
	if o.Client != "connpool" {
		return nil, nil
	}
	p, err := cptransport.New(ctx, servers)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// sustained decides whether the daemon kept up with the offered rate:
// a valid run, nothing lost or duplicated, delivery within 3 % of the
// offered rate during the steady phase, the backlog at its end under a
// quarter second's worth, and drained in time.
func sustained(r *loadgen.Report) (bool, string) {
	switch {
	case r.Void:
		return false, "void"
	case r.Ledger.Lost > 0 || r.Ledger.Duplicates > 0:
		return false, "lost or duplicated messages"
	case !r.Drained:
		return false, "backlog not drained in time"
	case r.DeliveredRate < 0.97*r.Rate:
		return false, fmt.Sprintf("delivered %.0f/s of %.0f/s offered", r.DeliveredRate, r.Rate)
	}
	var last *loadgen.Point
	for i := range r.Timeline {
		if r.Timeline[i].Phase == "steady" {
			last = &r.Timeline[i]
		}
	}
	if last != nil && float64(last.Backlog) > math.Max(50, 0.25*r.Rate) {
		return false, fmt.Sprintf("backlog grew to %d", last.Backlog)
	}
	return true, ""
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

func writeConsole(w io.Writer, sum *Summary) {
	fmt.Fprintf(w, "\nceiling: beanstalkd six-op cycle %.0f msg/s, three-op cycle %.0f msg/s, fasthttp %.0f req/s\n",
		sum.Ceiling.CycleRate, sum.Ceiling.Cycle3Rate, sum.Ceiling.HTTPRate)
	for _, c := range sum.Ceiling.Cycles {
		fmt.Fprintf(w, "  beanstalkd %s\n", c)
	}
	for _, r := range sum.Results {
		status := "ok"
		if len(r.Failures) > 0 {
			status = fmt.Sprintf("FAILED: %v", r.Failures)
		}
		line := fmt.Sprintf("%-24s %s", r.Name, status)
		if r.Main != nil && r.Main.Report != nil {
			rep := r.Main.Report
			c := sum.Ceiling.At(rep.Topics)
			line += fmt.Sprintf(" | %.0f/s offered, %.0f/s delivered (%s of six-op, %s of three-op ceiling), p99 %.2f ms, lost %d, dup %d, CPU s/1k msg: daemon %.3f, beanstalkd %.3f",
				rep.Rate, rep.DeliveredRate, percentOf(rep.DeliveredRate, c.Six.PerS), percentOf(rep.DeliveredRate, c.Three.PerS),
				rep.Latency.P99, rep.Ledger.Lost, rep.Ledger.Duplicates, r.Main.CPUPer1k, r.Main.BeanstalkdCPUPer1k)
		}
		if r.isFleet() {
			line += fmt.Sprintf(" | %d daemons, %d beanstalkd servers", r.Daemons, r.Servers)
		}
		fmt.Fprintln(w, line)
		for _, n := range r.Notes {
			fmt.Fprintln(w, "    "+n)
		}
	}
	fmt.Fprintf(w, "elapsed %.0fs\n", sum.Elapsed)
}

// loadSummary reads the summary.json an earlier run wrote.
func loadSummary(path string) (*Summary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	var sum Summary
	if err := json.Unmarshal(data, &sum); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	return &sum, nil
}
