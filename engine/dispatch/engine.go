// Package dispatch is medispatcher's dispatcher: it redistributes every job of
// the main tube into the channel tube of each subscription of its topic,
// pushes channel jobs to the subscribers over HTTP, and moves failed pushes
// through the retry tube until they succeed or are given up.
//
// One Consumer of connpool reserves the main tube(s) and one reserves every
// channel and retry tube, so the number of beanstalkd connections does not
// depend on the number of subscriptions. Each subscription owns two lanes
// (channel and retry), each a bounded queue with its own workers; a lane
// that is full stops its tube being reserved (Ignore) until it drains, so a
// slow subscriber slows only itself. The engine never drops a job it cannot
// handle: undecodable jobs go to the DATA log (main tube) or are buried
// (channel tubes), and whatever it will not push at shutdown is released.
//
// A DATA-log line that is a message's only copy (DECODERR, REDISTFAIL,
// DROP) must be on disk before the job it copies is deleted: the engine
// waits for it, and when it cannot be written the job is released with
// KeepDelay instead (counted, alerted). The main tube is not reserved while
// the live subscription set is empty, unless AllowEmptySet says that is
// meant: a missing subscriptions file or an empty Redis hash must never turn
// into every message deleted as unsubscribed.
package dispatch

import (
	"medispatcher/internal/wire"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
)

// Options are the engine's settings, taken from the daemon config.
type Options struct {
	MainTube      string // NameOfMainQueue
	ChannelPrefix string // PrefixOfChannelQueue

	RedistWorkers int // goroutines redistributing main-tube jobs

	DefaultConcurrency      int           // SendersPerChannel
	DefaultRetryConcurrency int           // SendersPerRetryChannel
	Interval                time.Duration // IntervalOfSendingForSendRoutine: default min gap between pushes of one worker
	DefaultTimeout          time.Duration // DefaultMaxMessageProcessTime
	MaxTimeout              time.Duration // MaxMessageProcessTime

	RetryCoe   time.Duration // CoeOfIntervalForRetrySendingMsg as a duration (1 s per unit; 0: no delay)
	MaxRetries int           // MaxRetryTimesOfSendingMessage

	SentLog bool // EnableMsgSentLog
	// LazyRetryWatch watches a retry tube only while it may hold jobs: from
	// this daemon's own retry put, or a backlog sample (RetrySampled) that
	// found some, until a sample finds it empty. Every watched tube costs
	// beanstalkd work on every event; retry tubes are empty most of the
	// time. Without RetrySampled calls it must stay false.
	LazyRetryWatch bool
	// NoPushMetrics skips the per-push counters and latency histogram
	// (Observability = false, to measure their cost).
	NoPushMetrics bool
	ReceptionEnv  string // RECEPTION_ENV
	RunAtBench    bool   // RunAtBench

	// AllowEmptySet reserves the main tube even while the subscription set
	// is empty (its messages are then deleted as unsubscribed).
	AllowEmptySet bool
	// LogUnsubscribed writes a DROP line for every message whose topic has
	// no subscription before it is deleted.
	LogUnsubscribed bool
	// KeepDelay is the release delay of a job kept because its DATA-log
	// line could not be written (default 10 s, at least 1 s).
	KeepDelay time.Duration
	// LegacyRouters bound the goroutines routing channel jobs of the old
	// format (no subscription id) by their tube name (default 4).
	LegacyRouters int

	Priority uint32
	TTR      time.Duration

	// Consumer tuning: reserve links per server for the main tube (0:
	// connpool default) and for the channel tubes (0: 4), reserves in
	// flight per link (0: connpool default).
	MainLinks, ChannelLinks, Batch int
	// ShutdownTimeout bounds the graceful stop after the context ends.
	ShutdownTimeout time.Duration
}

func (o *Options) defaults() {
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "sub-queue/"
	}
	if o.ChannelLinks <= 0 {
		o.ChannelLinks = 4
	}
	if o.RedistWorkers <= 0 {
		o.RedistWorkers = 32
	}
	if o.DefaultConcurrency <= 0 {
		o.DefaultConcurrency = 5
	}
	if o.DefaultRetryConcurrency <= 0 {
		o.DefaultRetryConcurrency = 2
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 5 * time.Second
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 30 * time.Second
	}
	if o.RetryCoe < 0 { // 0 is allowed: retries without delay
		o.RetryCoe = 0
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 10
	}
	if o.Priority == 0 {
		o.Priority = wire.Priority
	}
	if o.TTR <= 0 {
		o.TTR = wire.TTR
	}
	if o.KeepDelay <= 0 {
		o.KeepDelay = 10 * time.Second
	}
	o.KeepDelay = max(o.KeepDelay, time.Second) // beanstalkd delays are whole seconds
	if o.LegacyRouters <= 0 {
		o.LegacyRouters = 4
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = o.MaxTimeout + 5*time.Second
	}
}

// DataLog receives the events operators' scripts read from the DATA log.
// DecodeErr, RedistFail and Drop carry a message's only copy: they return
// nil only once the line is on disk, and the engine deletes the job only
// then. The other methods' errors are counted by the log itself.
type DataLog interface {
	DecodeErr(raw []byte, reason string) error
	// DecodeErrKept logs a job that stays buried: a trace, never waited for.
	DecodeErrKept(raw []byte, reason string) error
	RedistFail(topic string, subID int64, job []byte, reason string) error
	DelFail(server string, tube string, id uint64, reason string) error
	Sent(resent bool, topic []byte, subID int64, ok bool, code int, elapsed time.Duration, url string, jsonBody []byte) error
	Drop(topic string, subID int64, job []byte, reason string) error
}

// Observer hears of every push, for statistics and alerts. Sub is called
// once when a subscription's runner starts (not per message); the
// SubObserver it returns is called from push workers and must not block.
type Observer interface {
	Sub(s *subs.Subscription) SubObserver
}

// SubObserver is one subscription's view of its pushes.
type SubObserver interface {
	// Pushed reports one push: s holds the subscription's current
	// settings; retriesDone counts this message's retries including this
	// push when it is one (0 for a first push, 1 for the first retry).
	Pushed(s *subs.Subscription, ok, retry bool, retriesDone int)
	// Stopped is called once when the subscription is cancelled.
	Stopped()
}

// Deps are the engine's collaborators, built by the daemon.
type Deps struct {
	Pool     *connpool.Pool
	Push     *push.Client
	Source   subs.Source
	Failures *failures.Store
	IDs      *failures.IDs
	Data     DataLog
	Log      *slog.Logger
	Observer Observer // optional
	// Alert, when set, raises an operator alert of a kind (rate-limited by
	// the receiver); it must not block.
	Alert func(kind, what string)
}

// Alert kinds the engine raises through Deps.Alert.
const (
	AlertDataLog         = "datalog_unwritable" // a job was kept: its only-copy line could not be written
	AlertNoSubscriptions = "no_subscriptions"   // the main tube is not reserved: no subscription loaded
)

// Engine is the dispatcher. Create it with New, run it with Run.
type Engine struct {
	opts Options
	deps Deps
	log  *slog.Logger

	state   atomic.Pointer[state]
	applyMu sync.Mutex // serialises Apply; never taken on the message path

	mainC, chanC *connpool.Consumer
	redistQ      chan *connpool.Job
	mainGate     *gate

	quit     chan struct{} // closed when the graceful stop begins
	stopping atomic.Bool
	runners  sync.WaitGroup                // lanes' workers and stopped runners' drains
	legacyQ  chan *connpool.Job            // old-format channel jobs to route by tube name
	helpers  sync.WaitGroup                // legacy routers
	paused   atomic.Pointer[string]        // why the main tube is not reserved; "" = it is
	applied  chan struct{}                 // closed after the first Apply
	changed  atomic.Pointer[chan struct{}] // closed (and replaced) by every Apply
	firstSet sync.Once

	metrics *engineMetrics
}

// state is one consistent view of the subscriptions and their runners.
type state struct {
	set     *subs.Set
	runners map[int64]*runner
}

// New builds an engine; nothing runs before Run.
func New(opts Options, deps Deps) (*Engine, error) {
	if deps.Pool == nil || deps.Push == nil || deps.Source == nil || deps.Data == nil {
		return nil, errors.New("engine: Pool, Push, Source and Data are required")
	}
	if opts.MainTube == "" {
		return nil, errors.New("engine: MainTube is required")
	}
	opts.defaults()
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.IDs == nil {
		deps.IDs = failures.NewIDs()
	}
	if deps.Failures == nil {
		deps.Failures = failures.New(nil, failures.Config{Logger: deps.Log})
	}
	e := &Engine{
		opts:    opts,
		deps:    deps,
		log:     deps.Log,
		quit:    make(chan struct{}),
		applied: make(chan struct{}),
		metrics: newEngineMetrics(),
	}
	e.state.Store(&state{set: subs.NewSet(nil), runners: map[int64]*runner{}})
	e.setPaused("no subscription set has been read yet")
	liveEngine.Store(e)
	ch := make(chan struct{})
	e.changed.Store(&ch)
	return e, nil
}

// Subscriptions returns the live subscription set.
func (e *Engine) Subscriptions() *subs.Set { return e.state.Load().set }

// Totals are engine-wide counts since start (cancelled subscriptions'
// pushes included only while they ran).
type Totals struct {
	Redistributed, DecodeErrors, GivenUp uint64
}

// Totals sums the engine's counters; it walks the subscriptions, so it is
// for an API call, not a hot path.
func (e *Engine) Totals() Totals {
	t := Totals{Redistributed: e.metrics.redistributed.Get(), DecodeErrors: e.metrics.decodeErr.Get()}
	for _, r := range e.state.Load().runners {
		t.GivenUp += r.m.givenUp.Get()
	}
	return t
}

// RetrySampled reports a sample of subscription id's retry tube: jobs
// (ready, delayed and reserved, over every server) as counted by stats-tube
// requests sent at asked or later. With LazyRetryWatch, jobs > 0 watches
// the tube; an empty sample ignores it, unless this daemon put a retry job
// that the sample may not have seen.
func (e *Engine) RetrySampled(id int64, jobs int64, asked time.Time) {
	if !e.opts.LazyRetryWatch {
		return
	}
	if r := e.state.Load().runners[id]; r != nil {
		r.retrySampled(jobs, asked)
	}
}

// Paused returns why the main tube is not being reserved ("" when it is):
// no subscription set read yet, or an empty one without AllowEmptySet. The
// source's own problem (a missing file, an empty hash) is added when it
// reports one (subs.Problemer).
func (e *Engine) Paused() string {
	why := *e.paused.Load()
	if why == "" {
		return ""
	}
	if p, ok := e.deps.Source.(subs.Problemer); ok {
		if sp := p.Problem(); sp != "" {
			return why + ": " + sp
		}
	}
	return why
}

func (e *Engine) setPaused(why string) { e.paused.Store(&why) }

// ChannelSampled reports a sample of subscription id's channel tube: its
// jobs (ready and reserved, over every server), for the drop_threshold
// guard, which reads nothing else (the sampler keeps to its request
// budget; the guard never asks beanstalkd itself).
func (e *Engine) ChannelSampled(id int64, jobs int64) {
	if r := e.state.Load().runners[id]; r != nil {
		r.channelBacklog.Store(jobs)
	}
}

// Changed returns a channel closed when the next subscription set has been
// applied (the admin API waits on it to show a change in effect).
func (e *Engine) Changed() <-chan struct{} { return *e.changed.Load() }

// Applied is closed once the first subscription set has been applied.
func (e *Engine) Applied() <-chan struct{} { return e.applied }

// Run dispatches until ctx ends, then stops gracefully: no new reserves,
// in-flight pushes finish (bounded by their timeout), queued jobs are
// released to their tubes. It returns nil after a clean stop.
func (e *Engine) Run(ctx context.Context) error {
	o := &e.opts
	e.redistQ = make(chan *connpool.Job, 4*o.RedistWorkers+256)
	e.mainC = e.deps.Pool.NewConsumer("main", connpool.ConsumerConfig{
		Links: o.MainLinks, Batch: o.Batch, TTR: o.TTR, OnError: e.onJobOpError,
	}, e.onMainJob)
	// Channel and retry tubes are sharded over the links: beanstalkd's cost
	// per reserve grows with the tubes a connection watches.
	e.chanC = e.deps.Pool.NewConsumer("channel", connpool.ConsumerConfig{
		Links: o.ChannelLinks, Batch: o.Batch, TTR: o.TTR, OnError: e.onJobOpError, Shard: true,
	}, e.onChannelJob)
	e.mainGate = newGate(e.mainC, o.MainTube, cap(e.redistQ)-128, cap(e.redistQ)/4)
	// Not watched before a set with subscriptions is applied (see Apply).
	e.mainGate.idle = true

	e.legacyQ = make(chan *connpool.Job, 64*o.LegacyRouters)
	for i := 0; i < o.LegacyRouters; i++ {
		e.helpers.Add(1)
		go func() {
			defer e.helpers.Done()
			e.legacyRouter()
		}()
	}

	var redist sync.WaitGroup
	for i := 0; i < o.RedistWorkers; i++ {
		redist.Add(1)
		go func() {
			defer redist.Done()
			e.redistWorker()
		}()
	}

	srcCtx, srcCancel := context.WithCancel(ctx)
	srcDone := make(chan error, 1)
	go func() { srcDone <- e.deps.Source.Run(srcCtx, e.Apply) }()

	// The main gate opens now, but the tube is watched only while a set
	// with subscriptions (or AllowEmptySet) is live: Apply decides, and
	// with no set yet nothing is reserved. With an empty set every message
	// would look unsubscribed and be deleted.
	e.mainGate.open()
	var srcErr error
	e.waitSource(ctx, srcDone, &srcErr)
	if srcErr != nil && ctx.Err() == nil {
		e.log.Error("subscription source stopped", "err", srcErr)
	}
	srcCancel()
	e.shutdown(&redist)
	if srcErr != nil && !errors.Is(srcErr, context.Canceled) && ctx.Err() == nil {
		return fmt.Errorf("subscription source: %w", srcErr)
	}
	return nil
}

// pausedLogEvery is how often a paused main tube is reported at ERROR.
const pausedLogEvery = 10 * time.Second

// waitSource waits for ctx or the source's end, reporting a paused main
// tube at ERROR (and as an alert) every pausedLogEvery.
func (e *Engine) waitSource(ctx context.Context, srcDone <-chan error, srcErr *error) {
	t := time.NewTicker(pausedLogEvery)
	defer t.Stop()
	report := func() {
		if why := e.Paused(); why != "" {
			e.log.Error("main tube left untouched: no message is taken until subscriptions are loaded",
				"why", why, "main_tube", e.opts.MainTube)
			if e.deps.Alert != nil {
				e.deps.Alert(AlertNoSubscriptions, "main tube "+e.opts.MainTube+" is not being dispatched: "+why)
			}
		}
	}
	first := time.NewTimer(2 * time.Second) // the first report comes soon
	defer first.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case *srcErr = <-srcDone:
			return
		case <-first.C:
			report()
		case <-t.C:
			report()
		}
	}
}

func (e *Engine) shutdown(redist *sync.WaitGroup) {
	start := time.Now()
	e.log.Info("stopping: no new reserves; finishing in-flight pushes", "timeout", e.opts.ShutdownTimeout)
	e.applyMu.Lock()
	e.stopping.Store(true)
	close(e.quit)
	e.applyMu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ShutdownTimeout)
	defer cancel()
	closed := make(chan error, 2)
	go func() { closed <- e.mainC.Close(ctx) }()
	go func() { closed <- e.chanC.Close(ctx) }()

	// Redistribution: workers finish the message in hand; what is queued
	// goes back to the main tube untouched.
	redist.Wait()
	released := e.releaseAll(e.redistQ)
	// Old-format jobs waiting for their route go back too.
	e.helpers.Wait()
	released += e.releaseAll(e.legacyQ)
	// Lanes: workers finish their push, then their queues are released.
	e.runners.Wait()
	for _, r := range e.state.Load().runners {
		released += r.main.drain() + r.retry.drain()
	}
	for i := 0; i < 2; i++ {
		if err := <-closed; err != nil {
			e.log.Warn("consumer close", "err", err)
		}
	}
	e.log.Info("stopped", "released", released, "took", time.Since(start).Round(time.Millisecond))
}

// releaseAll gives every job queued in q back to its tube; it returns how
// many.
func (e *Engine) releaseAll(q chan *connpool.Job) int {
	n := 0
	for {
		select {
		case j := <-q:
			j.Release(e.opts.Priority, 0)
			n++
		default:
			return n
		}
	}
}

// Apply makes set the live subscription set: new subscriptions start,
// changed ones take their new parameters for the next push, cancelled ones
// stop (their queued jobs go back to the tube).
func (e *Engine) Apply(set *subs.Set) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	if e.stopping.Load() {
		return
	}
	old := e.state.Load()
	next := &state{set: set, runners: make(map[int64]*runner, len(old.runners))}
	added, changed, removed := 0, 0, 0
	for _, s := range set.All() {
		r := old.runners[s.ID]
		switch {
		case r != nil && r.topic == s.Topic:
			if r.update(s) {
				changed++
			}
		default:
			if r != nil { // topic changed: a different pair of tubes
				r.stop()
				removed++
			}
			r = newRunner(e, s)
			r.start()
			added++
		}
		next.runners[s.ID] = r
	}
	for id, r := range old.runners {
		if _, ok := next.runners[id]; !ok {
			r.stop()
			removed++
		}
	}
	e.state.Store(next)
	if added+changed+removed > 0 {
		e.log.Info("subscriptions applied", "total", len(next.runners), "added", added, "changed", changed, "removed", removed)
	}
	switch {
	case len(next.runners) > 0 || e.opts.AllowEmptySet:
		if *e.paused.Load() != "" {
			e.log.Info("main tube dispatching", "subscriptions", len(next.runners))
		}
		e.setPaused("")
		if e.mainGate != nil {
			e.mainGate.setIdle(false)
		}
	default:
		e.setPaused("the subscription set is empty (AllowEmptySubscriptionSet = false)")
		if e.mainGate != nil {
			e.mainGate.setIdle(true)
		}
		e.log.Error("the subscription set is empty: the main tube is left untouched until a subscription is loaded",
			"main_tube", e.opts.MainTube)
	}
	e.firstSet.Do(func() { close(e.applied) })
	ch := make(chan struct{})
	close(*e.changed.Swap(&ch))
}

// onJobOpError reports asynchronous delete/release/bury failures. A failed
// delete means the job will be delivered again: DELFAIL.
func (e *Engine) onJobOpError(j *connpool.Job, op string, err error) {
	server := ""
	if srv := e.deps.Pool.Servers(); j.Server >= 0 && j.Server < len(srv) {
		server = srv[j.Server]
	}
	if op == "delete" {
		_ = e.deps.Data.DelFail(server, "", j.ID, err.Error())
	}
	e.log.Warn("job operation failed", "op", op, "server", server, "job", j.ID, "err", err)
}
