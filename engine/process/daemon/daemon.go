// Package daemon wires a medispatcher process from its configuration: the
// DATA log, the beanstalkd pool, Redis, the subscription source, the push
// client, the engine and the debug endpoints (pprof, /metrics), and stops
// them in order.
//
// It holds no dispatching logic of its own; cmd/medispatcher only parses
// flags and calls Run.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/backlog"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/process/admin"
	"medispatcher/engine/process/recoverlist"
	"medispatcher/internal/buildinfo"
	"medispatcher/internal/config"
	"medispatcher/internal/datalog"
	"medispatcher/internal/redisopt"
)

// Run runs the daemon until ctx ends, then stops it gracefully. It returns
// an error only when the daemon could not start or stopped on a failure.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	start := time.Now()
	data, err := datalog.Open(datalog.Config{
		Dir: cfg.LogDir, Split: cfg.SplitLog, Buffer: cfg.DataLogBuffer, BufferBytes: cfg.DataLogBufferBytes,
		Fsync: cfg.DataLogFsync, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("open DATA log in %s: %w", cfg.LogDir, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := data.Close(cctx); err != nil {
			log.Error("close DATA log", "err", err)
		}
	}()

	drops, err := datalog.Open(datalog.Config{
		Dir: cfg.DropMessageLogDir, Prefix: "DROP", Split: cfg.SplitLog, Buffer: 4096,
		Fsync: cfg.DataLogFsync, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("open drop log in %s: %w", cfg.DropMessageLogDir, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := drops.Close(cctx); err != nil {
			log.Error("close drop log", "err", err)
		}
	}()

	pool, err := connpool.New(ctx, connpool.Config{
		Addrs:       cfg.QueueServers,
		CmdConns:    cfg.CmdConnsPerServer(),
		ListenConns: cfg.ListenConnsPerServer(),
		Logger:      log,
	})
	if err != nil {
		return fmt.Errorf("beanstalkd pool: %w", err)
	}
	defer pool.Close()

	// Wake tubes a crashed process left behind hold a job each: remove them,
	// beanstalkd's cost per job grows with its number of tubes.
	go func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if n := pool.SweepOrphanWakeTubes(sctx); n > 0 {
			log.Info("removed jobs of orphan wake tubes", "jobs", n)
		}
	}()

	ropt, err := redisopt.Option(cfg)
	if err != nil {
		return err
	}
	redis := newRedisConn(ctx, cfg, ropt, log)
	defer redis.close()

	fstore := failures.New(nil, failures.Config{
		Key:    cfg.Redis.KeyPrefix + ":failures",
		MaxLen: int64(cfg.FailureRecordMaxLen),
		Logger: log,
		// A record Redis did not take is kept as a FAILREC DATA line, with
		// its job: replay re-sends the given-up ones.
		Fallback: func(r *failures.Record, err error) { _ = failures.WriteFailRec(data, r, err) },
	})
	go redis.onConnect(ctx, fstore.SetClient)

	// Recover lists: entries producers pushed to Redis while beanstalkd was
	// out of reach go into the main tube (package recoverlist).
	rctx, rcancel := context.WithCancel(ctx)
	var recovering sync.WaitGroup
	recovering.Add(1)
	go func() {
		defer recovering.Done()
		redis.onConnect(rctx, func(c rueidis.Client) {
			recoverlist.New(recoverlist.Config{
				Prefix: cfg.MsgQueueFaultToleranceListNamePrefix, MainTube: cfg.NameOfMainQueue, Logger: log,
			}, c, pool, data).Run(rctx)
		})
	}()
	defer func() { rcancel(); recovering.Wait() }()

	lim := subs.Limits{
		MaxConcurrency:      cfg.MaxSendersPerChannel,
		MaxRetryConcurrency: cfg.MaxSendersPerRetryChannel,
		MaxTimeoutMS:        cfg.MaxMessageProcessTime,
		ChannelPrefix:       cfg.PrefixOfChannelQueue,
	}
	alerts, err := alert.New(cfg, log)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	// Each invalid version of a subscription entry is counted and alerted.
	invalidSubs := metrics.GetOrCreateCounter(`medispatcher_subscription_invalid_total`)
	subsOpts := subs.Options{Env: cfg.ReceptionEnv, OnInvalid: func(id int64, held bool, err error) {
		invalidSubs.Inc()
		if cfg.Observability {
			alerts.SubscriptionInvalid(id, held, err)
		}
	}}
	var source subs.Source
	var reload func()
	if cfg.SubscriptionFromRedis {
		source = &lazyRedisSource{conn: redis, prefix: cfg.Redis.KeyPrefix, lim: lim, opts: subsOpts, log: log}
	} else {
		fs := subs.NewFileSource(cfg.SubscriptionFile, lim, log)
		fs.SetOptions(subsOpts)
		source, reload = fs, fs.Reload
	}

	// Observability: statistics and alerts hear every push; the backlog
	// sampler measures the tubes in the background.
	st := stats.New()
	var obs dispatch.Observer
	if cfg.Observability {
		obs = &observer{stats: st, alerts: alerts}
	}

	eng, err := dispatch.New(dispatch.Options{
		MainTube:                cfg.NameOfMainQueue,
		ChannelPrefix:           cfg.PrefixOfChannelQueue,
		RedistWorkers:           cfg.ListenersOfMainQueue * 5,
		DefaultConcurrency:      cfg.SendersPerChannel,
		DefaultRetryConcurrency: cfg.SendersPerRetryChannel,
		Interval:                time.Duration(cfg.IntervalOfSendingForSendRoutine) * time.Millisecond,
		DefaultTimeout:          time.Duration(cfg.DefaultMaxMessageProcessTime) * time.Millisecond,
		MaxTimeout:              time.Duration(cfg.MaxMessageProcessTime) * time.Millisecond,
		RetryCoe:                time.Duration(cfg.CoeOfIntervalForRetrySendingMsg) * time.Second,
		MaxRetries:              cfg.MaxRetryTimesOfSendingMessage,
		SentLog:                 cfg.EnableMsgSentLog,
		ReceptionEnv:            cfg.ReceptionEnv,
		RunAtBench:              cfg.RunAtBench,
		ShutdownTimeout:         cfg.ShutdownGrace(),
		TTR:                     cfg.ChannelTTR(),
		NoPushMetrics:           !cfg.Observability,
		AllowEmptySet:           cfg.AllowEmptySubscriptionSet,
		LogUnsubscribed:         cfg.LogUnsubscribed,
		// The backlog sampler tells the engine which retry tubes hold jobs.
		LazyRetryWatch: true,
	}, dispatch.Deps{
		Pool:     pool,
		Push:     push.NewClient(pushConfig(cfg)),
		Source:   source,
		Failures: fstore,
		Data:     dataLogs{Writer: data, drops: drops},
		Log:      log,
		Observer: obs,
		Alert:    alerts.Problem,
	})
	if err != nil {
		return err
	}

	// The sampler always runs: the engine's retry watching depends on it.
	// Without observability it exports no gauges and raises no alerts.
	sampler := backlog.New(pool, backlog.Options{Rate: cfg.BacklogSampleRate,
		Tubes: backlogTubes(cfg, eng, cfg.Observability), Log: log})
	sweepAlerts := alerts
	if !cfg.Observability {
		sweepAlerts = nil
	}
	sampler.SetOnSweep(afterSweep(cfg, eng, sampler, sweepAlerts))
	octx, ocancel := context.WithCancel(ctx)
	var observing sync.WaitGroup
	defer func() { ocancel(); observing.Wait() }()
	observing.Add(1)
	go func() { defer observing.Done(); sampler.Run(octx) }()
	if cfg.Observability {
		observing.Add(2)
		go func() { defer observing.Done(); alerts.Run(octx) }()
		go func() {
			defer observing.Done()
			redis.onConnect(octx, func(c rueidis.Client) {
				(&recoverGauge{}).run(octx, c, cfg.MsgQueueFaultToleranceListNamePrefix, 10*time.Second, log)
			})
		}()
	}

	ls := &listeners{log: log}
	defer ls.shutdown()
	if err := ls.observability(cfg, pool, st); err != nil {
		return err
	}
	if why := cfg.AdminAPIRefused(); why != "" {
		log.Error("admin API not served: set AdminToken (or MEDISPATCHER_ADMIN_TOKEN) or a loopback ListenAddr", "why", why)
	} else if cfg.ListenAddr != "" {
		api := admin.New(admin.Deps{
			Config: cfg, Started: start, Engine: eng, Pool: pool, Stats: st, Alerts: alerts, Backlog: sampler,
			Redis: redis.client, Drop: drops.Drop,
			KickFail: func(server, tube string, id uint64, reason string) { _ = data.KickFail(server, tube, id, reason) },
			Log:      log,
		})
		if err := ls.admin(cfg, api); err != nil {
			return err
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if reload != nil {
					log.Info("SIGHUP: reloading subscriptions")
					reload()
				}
			}
		}
	}()

	log.Info("medispatcher started", "version", buildinfo.Version, "servers", cfg.QueueServers,
		"main_tube", cfg.NameOfMainQueue, "subscriptions", cfg.SubscriptionSource,
		"debug", cfg.DebugAddr, "took", time.Since(start).Round(time.Millisecond))
	runErr := eng.Run(ctx)

	fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	fstore.Close(fctx)
	cancel()
	if runErr != nil {
		return runErr
	}
	log.Info("medispatcher stopped")
	return nil
}

// dataLogs sends the backlog guard's drops (action 1) to their own files in
// DropMessageLogDir and everything else to the DATA log.
type dataLogs struct {
	*datalog.Writer
	drops *datalog.Writer
}

func (d dataLogs) Drop(topic string, subID int64, job []byte, reason string) error {
	return d.drops.Drop(topic, subID, job, reason)
}

// redisConn connects to Redis in the background with backoff, so a Redis
// that is down at start delays only what needs it.
type redisConn struct {
	cfg   *config.Config
	opt   rueidis.ClientOption
	log   *slog.Logger
	ready chan struct{}
	c     rueidis.Client
}

func newRedisConn(ctx context.Context, cfg *config.Config, opt rueidis.ClientOption, log *slog.Logger) *redisConn {
	rc := &redisConn{cfg: cfg, opt: opt, log: log, ready: make(chan struct{})}
	if len(cfg.Redis.Addrs) == 0 {
		return rc
	}
	go rc.connect(ctx)
	return rc
}

func (rc *redisConn) connect(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		c, err := rueidis.NewClient(rc.opt)
		if err == nil {
			rc.c = c
			close(rc.ready)
			return
		}
		rc.log.Warn("redis not reachable; retrying", "addr", rc.cfg.Redis.Addr, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// onConnect calls f with the client once connected (or never, if ctx ends).
func (rc *redisConn) onConnect(ctx context.Context, f func(rueidis.Client)) {
	select {
	case <-rc.ready:
		f(rc.c)
	case <-ctx.Done():
	}
}

// client returns the client once connected, waiting at most until ctx
// ends (nil then).
func (rc *redisConn) client(ctx context.Context) rueidis.Client {
	select {
	case <-rc.ready:
		return rc.c
	default:
	}
	select {
	case <-rc.ready:
		return rc.c
	case <-ctx.Done():
		return nil
	}
}

func (rc *redisConn) close() {
	select {
	case <-rc.ready:
		rc.c.Close()
	default:
	}
}

// lazyRedisSource is the Redis subscription source once Redis is reachable.
type lazyRedisSource struct {
	conn   *redisConn
	prefix string
	lim    subs.Limits
	opts   subs.Options
	log    *slog.Logger
	src    atomic.Pointer[subs.RedisSource]
}

// Problem implements subs.Problemer.
func (s *lazyRedisSource) Problem() string {
	if src := s.src.Load(); src != nil {
		return src.Problem()
	}
	return "Redis " + s.conn.cfg.Redis.Addr + " not connected yet"
}

func (s *lazyRedisSource) Run(ctx context.Context, apply func(*subs.Set)) error {
	select {
	case <-s.conn.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.conn.c == nil {
		return errors.New("redis subscription source: no [Redis] Addr configured")
	}
	src := subs.NewRedisSource(s.conn.c, s.prefix, s.lim, s.log)
	src.SetOptions(s.opts)
	s.src.Store(src)
	return src.Run(ctx, apply)
}
