package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/stage"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/wire"
)

// Engine is the dispatcher. Create it with New, run it with Run.
type Engine struct {
	opts Options
	deps Deps
	log  *slog.Logger

	state   atomic.Pointer[state]
	applyMu sync.Mutex // serialises Apply; never taken on the message path

	mainC, chanC *connpool.Consumer
	redistQ      chan mainJob
	mainGate     *gate

	quit     chan struct{} // closed when the graceful stop begins
	stopping atomic.Bool
	runners  sync.WaitGroup                // lanes' workers and stopped runners' drains
	legacyQ  chan *channelJob              // old-format channel jobs to route by tube name
	helpers  sync.WaitGroup                // legacy routers
	paused   atomic.Pointer[string]        // why the main tube is not reserved; "" = it is
	applied  chan struct{}                 // closed after the first Apply
	changed  atomic.Pointer[chan struct{}] // closed (and replaced) by every Apply
	firstSet sync.Once
	beat     heartbeat // the redistributors' loop is alive (Heartbeat)

	metrics *engineMetrics
	stages  *stage.Timings
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
	if !opts.NoPushMetrics {
		e.stages = stage.New()
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

// Handoffs are how subscription id's copies reached its push workers
// since it started (counted on the redistributing side): Direct ones
// straight from the main tube (CutThrough), Spilled ones through its
// channel tube (with CutThrough off, every copy). ok is false for an
// unknown id.
type Handoffs struct {
	Direct, Spilled uint64
}

// Handoffs returns subscription id's Handoffs.
func (e *Engine) Handoffs(id int64) (h Handoffs, ok bool) {
	r := e.state.Load().runners[id]
	if r == nil {
		return Handoffs{}, false
	}
	return Handoffs{Direct: r.m.direct.Get(), Spilled: r.m.spilled.Get()}, true
}

// CutThrough reports whether the engine hands copies over directly.
func (e *Engine) CutThrough() bool { return e.opts.CutThrough }

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

// Stages returns the engine's stage timings (see package stage); nil with
// NoPushMetrics.
func (e *Engine) Stages() *stage.Timings { return e.stages }

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
	e.redistQ = make(chan mainJob, 4*o.RedistWorkers+256)
	// Producers put main jobs with wire.TTR; a main job held while its
	// direct copies are pushed is touched before that runs out, even when
	// the channel jobs' TTR is longer.
	e.mainC = e.deps.Pool.NewConsumer("main", connpool.ConsumerConfig{
		Links: o.MainLinks, Batch: o.Batch, TTR: min(o.TTR, wire.TTR), OnError: e.onJobOpError,
	}, e.onMainJob)
	// Channel and retry tubes are sharded over the links: beanstalkd's cost
	// per reserve grows with the tubes a connection watches.
	e.chanC = e.deps.Pool.NewConsumer("channel", connpool.ConsumerConfig{
		Links: o.ChannelLinks, Batch: o.Batch, TTR: o.TTR, OnError: e.onJobOpError, Shard: true,
	}, e.onChannelJob)
	e.mainGate = newGate(e.mainC, o.MainTube, cap(e.redistQ)-128, cap(e.redistQ)/4)
	// Not watched before a set with subscriptions is applied (see Apply).
	e.mainGate.idle = true

	e.legacyQ = make(chan *channelJob, 64*o.LegacyRouters)
	for i := 0; i < o.LegacyRouters; i++ {
		e.helpers.Add(1)
		go func() {
			defer e.helpers.Done()
			e.legacyRouter()
		}()
	}

	var redist sync.WaitGroup
	e.beat.start()
	defer e.beat.stop()
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
	// Every worker is told through its own quit channel, so that the
	// workers' wait for a job shares no channel (see worker.run).
	for _, r := range e.state.Load().runners {
		r.main.resize(0)
		r.retry.resize(0)
	}
	e.applyMu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), e.opts.ShutdownTimeout)
	defer cancel()
	closed := make(chan error, 2)
	go func() { closed <- e.mainC.Close(ctx) }()
	go func() { closed <- e.chanC.Close(ctx) }()

	// Redistribution: workers finish the message in hand; what is queued
	// goes back to the main tube untouched.
	redist.Wait()
	released := releaseAll(e.redistQ, e.opts.Priority)
	// Old-format jobs waiting for their route go back too.
	e.helpers.Wait()
	released += releaseAll(e.legacyQ, e.opts.Priority)
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

// queued is a job waiting in one of the engine's queues: a reserved main
// job or a decoded channel job.
type queued interface {
	Release(pri uint32, delay time.Duration)
}

// releaseAll gives every job queued in q back to its tube with priority
// pri; it returns how many.
func releaseAll[J queued](q chan J, pri uint32) int {
	n := 0
	for {
		select {
		case j := <-q:
			j.Release(pri, 0)
			n++
		default:
			return n
		}
	}
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
