package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"medispatcher/loadgen/farm"
	"medispatcher/loadgen/stages"
)

// ErrNotReady: the daemon did not push to every live subscription within
// Config.ProbeTimeout (it does not run, or does not see the subscriptions).
var ErrNotReady = errors.New("loadgen: daemon did not deliver the probes")

// Run carries out one run: start the farm (unless cfg.Farm is set),
// register the subscriptions, probe until the daemon pushes to every live
// subscription, then warm-up, steady and drain phases, and close the
// ledger. put carries the jobs to beanstalkd (nil: a RawPutter over
// cfg.Servers); Run closes it.
func Run(ctx context.Context, cfg Config, put Putter) (*Report, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	f := cfg.Farm
	if f == nil {
		var err error
		if f, err = newFarm(&cfg); err != nil {
			return nil, err
		}
		defer closeFarm(f)
	}
	plan := NewPlan(&cfg, f)

	if cfg.Register {
		if err := register(ctx, &cfg, plan); err != nil {
			return nil, err
		}
	}
	if put == nil {
		var err error
		if put, err = NewRawPutter(cfg.Servers); err != nil {
			return nil, err
		}
	}
	defer put.Close()

	if err := probe(ctx, &cfg, plan, f, put); err != nil {
		return nil, err
	}

	r := &runState{cfg: &cfg, plan: plan, farm: f}
	// Jobs an earlier run left in these tubes would be counted as this
	// run's: remember them to explain a ledger that does not balance.
	if c, err := TakeCensus(ctx, cfg.Servers, cfg.MainTube, cfg.ChannelPrefix, plan); err == nil {
		r.before = c.Main + c.Channels
	}
	return r.run(ctx, put)
}

// NewFarm starts the subscriber farm a run of cfg needs (a class per topic
// class, room for every subscription id), for a caller that keeps it
// serving after the run: it passes it as cfg.Farm and closes it itself.
// A farm serves one run.
func NewFarm(cfg Config) (*farm.Farm, error) {
	cfg.Classes = slices.Clone(cfg.Classes)
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	return newFarm(&cfg)
}

func newFarm(cfg *Config) (*farm.Farm, error) {
	profiles := make([]farm.Profile, len(cfg.Classes))
	for i, c := range cfg.Classes {
		profiles[i] = c.Profile
	}
	return farm.New(farm.Config{Addr: cfg.FarmAddr, Profiles: profiles,
		MaxSubs: int(cfg.FirstSubID) + cfg.Topics*maxSubsPerTopic(cfg.Classes) + 1, Logger: cfg.Logger})
}

func closeFarm(f *farm.Farm) {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.Close(c)
}

func maxSubsPerTopic(cls []Class) int {
	m := 1
	for _, c := range cls {
		m = max(m, c.SubsPerTopic)
	}
	return m
}

// probe puts one probe job (ts 0) per topic with live subscribers and
// waits until each of them was pushed, re-putting the probes of topics
// still silent every two seconds: a daemon that loads subscriptions a
// moment later has dropped the first ones.
func probe(ctx context.Context, cfg *Config, plan *Plan, f *farm.Farm, put Putter) error {
	enc := NewEncoder(64)
	pending := map[int]bool{}
	for _, t := range plan.Topics {
		if !cfg.Classes[t.Class].Dead {
			pending[t.Index] = true
		}
	}
	deadline := time.NewTimer(cfg.ProbeTimeout)
	defer deadline.Stop()
	resend := time.NewTicker(2 * time.Second)
	defer resend.Stop()
	send := func() error {
		for ti := range pending {
			t := plan.Topics[ti]
			if err := put.Put(ctx, ti%len(cfg.Servers), cfg.MainTube, enc.Encode(t.Name, 0, 0, ti)); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
		}
		return nil
	}
	if err := send(); err != nil {
		return err
	}
	for len(pending) > 0 {
		select {
		case <-f.ProbeSeen():
		case <-resend.C:
			if err := send(); err != nil {
				return err
			}
			continue
		case <-deadline.C:
			return fmt.Errorf("%w: %d of %d topics silent after %v", ErrNotReady, len(pending), len(plan.Topics), cfg.ProbeTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
		for ti := range pending {
			all := true
			for _, id := range plan.Topics[ti].Subs {
				all = all && f.Probed(id)
			}
			if all {
				delete(pending, ti)
			}
		}
	}
	return nil
}

type runState struct {
	cfg  *Config
	plan *Plan
	farm *farm.Farm
	prod *Producer

	before int64 // jobs in the run's tubes before it started

	mu       sync.Mutex
	timeline []Point
}

func (r *runState) run(ctx context.Context, put Putter) (*Report, error) {
	cfg, f, plan := r.cfg, r.farm, r.plan
	names := make([]string, len(plan.Topics))
	for i, t := range plan.Topics {
		names[i] = t.Name
	}
	span := stages.Begin(ctx, cfg.Metrics)
	sched := Schedule{Start: time.Now().Add(100 * time.Millisecond), Rate: cfg.Rate, Topics: len(plan.Topics),
		Total: int64(cfg.Rate * (cfg.Warmup + cfg.Duration).Seconds())}
	steadyStart := sched.Start.Add(cfg.Warmup)
	steadyEnd := steadyStart.Add(cfg.Duration)
	f.SetWindow(steadyStart.UnixNano(), steadyEnd.UnixNano())
	r.prod = NewProducer(sched, put, cfg.MainTube, names, len(cfg.Servers), cfg.Workers, cfg.Size, sched.Index(steadyStart))

	rep := &Report{Started: sched.Start, Servers: cfg.Servers, Topics: len(plan.Topics), Subs: len(plan.Subs),
		Rate: cfg.Rate, Size: cfg.Size, Warmup: cfg.Warmup.Seconds(), Steady: cfg.Duration.Seconds(),
		DrainMax: cfg.Drain.Seconds(), LagBoundMS: ms(cfg.MaxLag)}

	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		r.prod.Run(ctx)
	}()
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		r.progress(sched, steadyStart, steadyEnd, stopProgress)
	}()

	// Counters at the edges of the steady phase give its rates.
	var d0, d1, s0, s1 int64
	for _, edge := range []struct {
		at   time.Time
		d, s *int64
	}{{steadyStart, &d0, &s0}, {steadyEnd, &d1, &s1}} {
		t := time.NewTimer(time.Until(edge.at))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		*edge.d, *edge.s = f.Totals().Delivered, r.prod.Sent()
		if edge.d == &d0 && cfg.OnSteady != nil {
			go cfg.OnSteady()
		}
	}
	rep.SentRate = float64(s1-s0) / cfg.Duration.Seconds()
	rep.DeliveredRate = float64(d1-d0) / cfg.Duration.Seconds()
	<-prodDone

	// Drain: wait for every delivery a live subscriber can take.
	drainStart := time.Now()
	target := int64(0)
	for _, t := range plan.Topics {
		if !cfg.Classes[t.Class].Dead {
			target += r.prod.SentTopic(t.Index) * int64(len(t.Subs))
		}
	}
	drainT := time.NewTimer(cfg.Drain)
	select {
	case <-f.DeliveredAtLeast(target):
		rep.Drained = true
	case <-drainT.C:
	case <-ctx.Done():
	}
	drainT.Stop()
	rep.DrainUsed = time.Since(drainStart).Seconds()
	stageTimings(ctx, rep, span)

	census, censusErr := r.cutoff(ctx)
	close(stopProgress)
	<-progressDone
	f.Tick()
	r.close(rep, census, censusErr)
	return rep, nil
}

// cutoff stops the farm from counting, waits for the pushes it is answering,
// and takes a census of the queues once two in a row agree.
func (r *runState) cutoff(ctx context.Context) (Census, error) {
	r.farm.CloseGate()
	deadline := time.Now().Add(15 * time.Second)
	for r.farm.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // no signal: the handlers are fasthttp's
	}
	// Jobs a daemon holds (reserved) are on their way somewhere: wait until
	// none is held and two censuses in a row agree, within a bound.
	var prev Census
	var err error
	for i := 0; i < 50; i++ {
		var c Census
		c, err = TakeCensus(ctx, r.cfg.Servers, r.cfg.MainTube, r.cfg.ChannelPrefix, r.plan)
		if err != nil {
			return c, err
		}
		if i > 0 && c.Reserved == 0 && c.Main == prev.Main && c.Channels == prev.Channels {
			return c, nil
		}
		prev = c
		time.Sleep(100 * time.Millisecond) // no signal: the daemon is another process
	}
	return prev, err
}

// close fills rep in once the run is over: the ledger from the farm's
// records and the census, the latencies, the producer's figures, and
// whether the run is void.
func (r *runState) close(rep *Report, census Census, censusErr error) {
	t := r.tally(census)
	l := t.ledger
	l.InFlight = census.Channels + census.Main*int64(max(t.k, 0))
	l.Moving = census.Reserved * int64(max(t.k, 1))
	if census.Main > 0 && !t.kSame {
		rep.Notes = append(rep.Notes, "main-tube jobs left at the cutoff counted with an estimated number of subscriptions")
	}
	rep.Ledger = CloseLedger(l, censusErr)
	r.ledgerNotes(rep, census)
	r.latencies(rep, t.classes)
	r.producerFigures(rep)
	r.judge(rep)
}

// tally is what the farm's records say of the run, per class and in all.
type tally struct {
	ledger  Ledger
	classes []ClassReport
	k       int  // subscriptions of the last topic (-1: no topic)
	kSame   bool // every topic has k subscriptions
}

// tally counts, per subscription, the deliveries owed (every claimed seq of
// its topic but those whose put failed), delivered, duplicated and still
// queued in its channel tube at the census.
func (r *runState) tally(census Census) tally {
	cfg, f, p := r.cfg, r.farm, r.prod
	t := tally{ledger: Ledger{Sent: p.Sent()}, classes: make([]ClassReport, len(cfg.Classes)), k: -1, kSame: true}
	for i, c := range cfg.Classes {
		t.classes[i] = ClassReport{Name: c.Name, Profile: profileText(c.Profile)}
	}
	l := &t.ledger
	for _, topic := range r.plan.Topics {
		n := p.Claimed(topic.Index)
		skip := p.Failed(topic.Index)
		l.PutFailed += int64(len(skip))
		cr := &t.classes[topic.Class]
		cr.Topics++
		if t.k >= 0 && t.k != len(topic.Subs) {
			t.kSame = false
		}
		t.k = len(topic.Subs)
		owed := int64(n) - int64(len(skip))
		for _, id := range topic.Subs {
			sc, _ := f.Count(id, n, skip)
			cr.Subs++
			cr.Owed += owed
			l.Owed += owed
			cr.Delivered += sc.InSet
			l.Delivered += sc.InSet
			cr.Duplicates += sc.Dups
			l.Duplicates += sc.Dups
			l.Unexpected += sc.Outside
			cr.Failed += sc.Failed
			cr.Retries += sc.Retries
			cr.OverLimit += sc.OverLimit
			cr.InFlight += census.PerSub[id]
		}
	}
	return t
}

// ledgerNotes explains a ledger that is exact only within a bound, or
// that does not balance: jobs the daemon held, jobs an earlier run left,
// and which tubes still hold jobs (the first ten).
func (r *runState) ledgerNotes(rep *Report, census Census) {
	if rep.Ledger.Moving > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the daemon still held %d jobs at the census: lost and in flight are exact within ±%d", census.Reserved, rep.Ledger.Moving))
	}
	if rep.Ledger.Balanced {
		return
	}
	if r.before > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d jobs were already queued in the run's tubes when it started (an earlier run's?)", r.before))
	}
	names := make([]string, 0, len(census.Tubes))
	for t := range census.Tubes {
		names = append(names, t)
	}
	sort.Strings(names)
	for i, t := range names {
		if i == 10 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("census: %d more tubes hold jobs", len(names)-10))
			break
		}
		tc := census.Tubes[t]
		rep.Notes = append(rep.Notes, fmt.Sprintf("census: %s holds ready %d, reserved %d, delayed %d, buried %d",
			t, tc.Ready, tc.Reserved, tc.Delayed, tc.Buried))
	}
}

// latencies sets the latency figures of every class and of the whole run.
func (r *runState) latencies(rep *Report, classes []ClassReport) {
	all := hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
	for i := range classes {
		h := r.farm.ClassLatency(r.farm.ClassIndex(r.cfg.Classes[i].Name))
		classes[i].Latency = latencyOf(h)
		all.Merge(h)
	}
	rep.Latency = latencyOf(all)
	rep.Classes = classes
}

// producerFigures copies the producer's lateness and put errors, the
// farm's unreadable pushes and the time series into rep.
func (r *runState) producerFigures(rep *Report) {
	p := r.prod
	rep.MaxLagMS = ms(p.MaxLag())
	rep.LatePuts = p.Late()
	var firstErr error
	rep.PutErrors, firstErr = p.Errors()
	if firstErr != nil {
		rep.FirstPutError = firstErr.Error()
	}
	rep.Malformed = r.farm.Totals().Malformed
	r.mu.Lock()
	rep.Timeline = r.timeline
	r.mu.Unlock()
}

// judge voids a run whose ledger does not balance, whose producer fell
// behind its schedule by more than MaxLag, or whose farm got pushes it
// could not read: its figures must not be quoted.
func (r *runState) judge(rep *Report) {
	if !rep.Ledger.Balanced {
		rep.VoidReasons = append(rep.VoidReasons, "ledger does not balance: "+rep.Ledger.Problem)
	}
	if lag := r.prod.MaxLag(); lag > r.cfg.MaxLag {
		rep.ProducerLagged = true
		rep.VoidReasons = append(rep.VoidReasons, fmt.Sprintf("producer fell %v behind its schedule (bound %v)",
			lag.Round(time.Millisecond), r.cfg.MaxLag))
	}
	if rep.Malformed > 0 {
		rep.VoidReasons = append(rep.VoidReasons, fmt.Sprintf("%d pushes the farm could not read", rep.Malformed))
	}
	rep.Void = len(rep.VoidReasons) > 0
}

// stageTimings ends span, the daemons' stage timings of the run, and sets
// them in rep, or notes why there are none: a missing figure is never
// shown as an empty one. A run stopped early still reads them.
func stageTimings(ctx context.Context, rep *Report, span *stages.Span) {
	ls, err := span.End(context.WithoutCancel(ctx))
	if err != nil {
		rep.Notes = append(rep.Notes, "no stage timings: "+err.Error())
		return
	}
	rep.Stages = ls
}

func profileText(p farm.Profile) string {
	parts := []string{"latency " + p.Latency.String()}
	if p.ErrorRatio > 0 {
		parts = append(parts, fmt.Sprintf("%g%% %s", p.ErrorRatio*100, p.ErrorKind))
	}
	if p.Dead {
		parts = append(parts, "dead")
	}
	if p.RateLimit > 0 {
		parts = append(parts, fmt.Sprintf("rate %g/s burst %d", p.RateLimit, p.Burst))
	}
	if p.OverloadAt > 0 {
		parts = append(parts, fmt.Sprintf("503 beyond %d in flight", p.OverloadAt))
	}
	if p.SlowAt > 0 {
		parts = append(parts, fmt.Sprintf("+%v beyond %d in flight", time.Duration(p.SlowLatency), p.SlowAt))
	}
	if p.Outage > 0 {
		parts = append(parts, fmt.Sprintf("refusing connections for %v from %v", time.Duration(p.Outage), time.Duration(p.OutageStart)))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// progress samples the run every interval: the time series of the report
// and the live line.
func (r *runState) progress(sched Schedule, steadyStart, steadyEnd time.Time, stop <-chan struct{}) {
	cfg := r.cfg
	tk := time.NewTicker(cfg.ProgressInterval)
	defer tk.Stop()
	var last Point
	lastAt := time.Now()
	for {
		select {
		case <-stop:
			if cfg.Progress != nil && cfg.TTY {
				fmt.Fprintln(cfg.Progress)
			}
			return
		case now := <-tk.C:
			iv := r.farm.Tick()
			owed := int64(0)
			for _, t := range r.plan.Topics {
				owed += r.prod.SentTopic(t.Index) * int64(len(t.Subs))
			}
			tot := r.farm.Totals()
			phase := "warm-up"
			switch {
			case now.After(steadyEnd):
				phase = "drain"
			case now.After(steadyStart):
				phase = "steady"
			}
			dt := now.Sub(lastAt).Seconds()
			pt := Point{T: now.Sub(sched.Start).Seconds(), Phase: phase, Sent: r.prod.Sent(), Delivered: tot.Delivered,
				Backlog: owed - tot.Delivered, P99: ms(iv.P99)}
			pt.SentRate = float64(pt.Sent-last.Sent) / dt
			pt.DelRate = float64(pt.Delivered-last.Delivered) / dt
			last, lastAt = pt, now
			r.mu.Lock()
			r.timeline = append(r.timeline, pt)
			r.mu.Unlock()
			if cfg.Progress != nil {
				writeProgress(cfg.Progress, cfg.TTY, pt, r.prod.MaxLag(), cfg.Duration)
			}
		}
	}
}

func writeProgress(w io.Writer, tty bool, p Point, lag, _ time.Duration) {
	prefix, end := "", "\n"
	if tty {
		prefix, end = "\r\x1b[K", ""
	}
	fmt.Fprintf(w, "%s%-7s %6.1fs  sent %9d (%7.0f/s)  delivered %9d (%7.0f/s)  backlog %7d  p99 %7.2f ms  lag %6.1f ms%s",
		prefix, p.Phase, p.T, p.Sent, p.SentRate, p.Delivered, p.DelRate, p.Backlog, p.P99, ms(lag), end)
}
